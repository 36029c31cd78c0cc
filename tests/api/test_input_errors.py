"""Input no column can hold or compare is a 400 that names where it was, never a
500: forged cursors, NUL characters and lone surrogates in bodies and query strings
(PostgreSQL refuses NUL in text, psycopg cannot encode a lone surrogate, and DRF
quotes the input in its messages, which the JSON renderer could not encode)."""

import base64
import json

import pytest
from django.urls import reverse

from cases.models import Case, Topic
from tests.factories import AuthorFactory, CaseFactory, SourceFactory, UserFactory
from webcare.api.input import SafeJSONRenderer

CASES = "/api/v1/cases/"
TOPICS = "/api/v1/topics/"


def cursor(order: list[str], values: list) -> str:
    raw = json.dumps({"o": order, "v": values}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "moment",
    [
        "2024-05-01T12:00:00+99:00",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
        "2024-02-30T00:00:00+00:00",
        "2024-05-01T12:00:00",  # no offset at all
    ],
)
def test_it_refuses_a_cursor_whose_time_is_out_of_range(crm, moment):
    CaseFactory()
    forged = cursor(["updated_at", "id"], [moment, 1])
    response = crm.get(CASES, {"ordering": "updated_at", "cursor": forged})
    assert response.status_code == 400, response.content
    assert response.json() == {"cursor": ["Invalid cursor."]}


def test_a_cursor_time_with_an_offset_postgresql_refuses_is_read_in_utc(crm):
    # Python takes +23:00, PostgreSQL refuses offsets beyond 15:59 (was a 500).
    CaseFactory()
    forged = cursor(["updated_at", "id"], ["2024-05-01T12:00:00+23:00", 1])
    response = crm.get(CASES, {"ordering": "updated_at", "cursor": forged})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


@pytest.mark.parametrize(
    "forged",
    [
        cursor(["name", "id"], ["\ud800", 1]),
        cursor(["name", "id"], ["a\x00b", 1]),
        cursor(["name", "id"], ["x" * 1000, 1]),
        cursor(["name", "id"], [["nested"], 1]),
        cursor(["name", "id"], ["a", 2**64]),
        cursor(["name", "id"], ["a", 1.5]),
        cursor(["name", "id"], ["a", True]),
        cursor(["name", "id"], {"a": 1}),
        cursor(["\ud800", "id"], ["a", 1]),
        base64.urlsafe_b64encode(b"[" * 3000).decode(),
        "é" * 10,
        "A" * 5000,
    ],
)
def test_it_refuses_a_forged_cursor(crm, forged):
    Topic.objects.create(name="Fees")
    response = crm.get(TOPICS, {"ordering": "name", "cursor": forged})
    assert response.status_code == 400, response.content
    assert set(response.json()) == {"cursor"}


def test_a_cursor_of_its_own_still_pages(crm):
    for name in ("a", "b", "c"):
        Topic.objects.create(name=name)
    first = crm.get(TOPICS, {"ordering": "name", "page_size": 2}).json()
    rest = crm.get(
        TOPICS, {"ordering": "name", "page_size": 2, "cursor": first["next_cursor"]}
    ).json()
    assert [topic["name"] for topic in first["results"] + rest["results"]] == [
        "a",
        "b",
        "c",
    ]


@pytest.mark.parametrize("field", ["priority", "channel", "subject"])
def test_it_refuses_a_lone_surrogate_in_any_field_naming_it(crm, field):
    customer = AuthorFactory()
    body = {"subject": "Pas geblokkeerd", "customer": customer.pk, field: "\ud800"}
    # json.dumps writes the surrogate as the escape \ud800, as a hostile client would.
    response = crm.generic(
        "POST", CASES, json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert "surrogate" in response.json()[field][0]
    assert not Case.objects.exists()


def test_it_names_a_nested_field_and_a_surrogate_in_a_key(crm):
    source = SourceFactory(kind="manual")
    item = {"external_id": "1", "text": "hallo", "raw": {"deep": [{"x": "\udfff"}]}}
    body = {"source": source.pk, "items": [item]}
    response = crm.generic(
        "POST",
        "/api/v1/mentions/ingest/",
        json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"items.0.raw.deep.0.x"}
    body = {"subject": "s", "\ud800": 1}
    response = crm.generic(
        "POST", CASES, json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    [where] = response.json()
    assert where.isascii()


def test_it_refuses_a_nul_in_a_topic_name(crm):
    Topic.objects.create(name="Fees")
    customer = AuthorFactory()
    body = {"subject": "Kosten", "customer": customer.pk, "topics": ["Fe\x00es"]}
    response = crm.post(CASES, body, format="json")
    assert response.status_code == 400, response.content
    assert "topics.0" in response.json()
    case = CaseFactory()
    response = crm.patch(f"{CASES}{case.pk}/", {"topics": ["\x00"]}, format="json")
    assert response.status_code == 400
    assert not case.topics.exists()


@pytest.mark.parametrize(
    "query",
    ["topic=Fe%00es", "status=%00", "search=%00", "x%00=1", "ordering=%00"],
)
def test_a_nul_in_a_query_string_is_a_400_naming_the_parameter(crm, query):
    response = crm.get(f"{CASES}?{query}")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    [(name, [message])] = response.json().items()
    assert "\x00" not in name and "NUL" in message


def test_invalid_utf8_in_a_query_string_is_no_error(crm):
    response = crm.get(f"{CASES}?status=%ED%A0%80&topic=%FF")
    assert response.status_code in (200, 400)


def test_a_form_body_with_a_nul_is_a_400(crm):
    response = crm.post(CASES, {"subject": "s", "topics": "a\x00"})
    assert response.status_code == 400
    assert "topics" in response.json()


def test_the_admin_refuses_a_nul_in_its_search_and_filters(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = reverse("admin:cases_topic_changelist")
    for query in ("q=Fe%00es", "name=%00", "o=%00"):
        response = client.get(f"{url}?{query}")
        assert response.status_code == 400
        assert response["Content-Type"].startswith("text/plain")
    response = client.post(reverse("admin:cases_topic_add"), {"name": "Fe\x00es"})
    assert response.status_code == 400
    assert not Topic.objects.exists()


def test_the_renderer_never_fails_on_what_it_cannot_encode():
    rendered = SafeJSONRenderer().render({"detail": '"\ud800" is no choice.'})
    assert json.loads(rendered) == {"detail": '"\ud800" is no choice.'}
