import pytest

from cases.models import CaseEvent
from sources.models import Author, Mention, Source
from tests.factories import AuthorFactory, CaseFactory, MentionFactory, SourceFactory

pytestmark = pytest.mark.django_db


def test_sources_are_read_with_read_and_written_with_admin(make_crm):
    reader, admin = make_crm(("read",)), make_crm(("admin",))
    source = SourceFactory(name="Forum")
    assert [s["name"] for s in reader.get("/api/v1/sources/").json()["results"]] == [
        "Forum"
    ]
    response = admin.post(
        "/api/v1/sources/",
        {"name": "Push", "kind": "manual", "poll_interval": "00:10:00"},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Source.objects.get(name="Push").kind == "manual"
    for bad in (
        {"poll_interval": "00:00:05"},
        {"poll_interval": "999999999 00:00:00"},
        {"url": "ftp://x/y"},
    ):
        response = admin.patch(f"/api/v1/sources/{source.pk}/", bad, format="json")
        assert response.status_code == 400, bad


def test_linking_an_author_carries_the_customer_id_to_active_cases(crm):
    author = AuthorFactory()
    active = CaseFactory(customer=author)
    closed = CaseFactory(
        customer=author, status="closed", closed_at="2026-01-01T00:00Z"
    )
    response = crm.post(
        f"/api/v1/authors/{author.pk}/link/",
        {"crm_customer_id": "CRM-9"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["cases_updated"] == [active.pk]
    author.refresh_from_db()
    active.refresh_from_db()
    closed.refresh_from_db()
    assert (author.crm_customer_id, active.crm_customer_id, closed.crm_customer_id) == (
        "CRM-9",
        "CRM-9",
        "",
    )
    assert CaseEvent.objects.filter(
        case=active, kind="updated", actor_label="api:crm"
    ).exists()
    assert (
        crm.get("/api/v1/authors/", {"crm_customer_id": "CRM-9"}).json()["results"][0][
            "id"
        ]
        == author.pk
    )

    response = crm.post(f"/api/v1/authors/{author.pk}/unlink/")
    assert response.status_code == 200
    author.refresh_from_db()
    active.refresh_from_db()
    assert author.crm_customer_id == active.crm_customer_id == ""
    assert (
        crm.post(
            f"/api/v1/authors/{author.pk}/link/",
            {"crm_customer_id": "  "},
            format="json",
        ).status_code
        == 400
    )


def test_a_reader_may_not_link(reader):
    author = AuthorFactory()
    response = reader.post(
        f"/api/v1/authors/{author.pk}/link/", {"crm_customer_id": "C"}, format="json"
    )
    assert response.status_code == 403
    assert Author.objects.get(pk=author.pk).crm_customer_id == ""


def test_mentions_are_listed_and_retrieved_without_raw(crm):
    mention = MentionFactory(text="<script>alert(1)</script> pinpas", raw={"secret": 1})
    row = crm.get(f"/api/v1/mentions/{mention.pk}/").json()
    assert row["text"] == "<script>alert(1)</script> pinpas"
    assert "raw" not in row
    assert row["author"]["id"] == mention.author_id


def test_bulk_ingest_stores_once_and_refuses_other_sources(make_crm):
    pusher = make_crm(("ingest",))
    manual = SourceFactory(kind="manual")
    items = [
        {
            "external_id": f"p{n}",
            "text": f"bericht {n} over oranjebank",
            "author_id": "u1",
            "author_handle": "klant",
            "likes": n,
        }
        for n in range(3)
    ]
    response = pusher.post(
        "/api/v1/mentions/ingest/", {"source": manual.pk, "items": items}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["new"] == 3
    again = pusher.post(
        "/api/v1/mentions/ingest/", {"source": manual.pk, "items": items}, format="json"
    )
    assert again.json()["new"] == 0
    assert Mention.objects.filter(source=manual).count() == 3
    polled = SourceFactory(kind="feed")
    response = pusher.post(
        "/api/v1/mentions/ingest/", {"source": polled.pk, "items": items}, format="json"
    )
    assert response.status_code == 400 and "source" in response.json()
    too_many = [{"external_id": str(n), "text": "x"} for n in range(501)]
    response = pusher.post(
        "/api/v1/mentions/ingest/",
        {"source": manual.pk, "items": too_many},
        format="json",
    )
    assert response.status_code == 400
    bad = [{"external_id": "", "text": "x", "likes": -1}]
    response = pusher.post(
        "/api/v1/mentions/ingest/", {"source": manual.pk, "items": bad}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["items"]["0"]) == {"external_id", "likes"}
