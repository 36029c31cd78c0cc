from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.models import CaseEvent, CaseStatus, EventKind
from sources.models import Mention, ReachSample, Source, TriageStatus
from tests.factories import (
    AuthorFactory,
    CaseFactory,
    MentionFactory,
    SourceFactory,
    UserFactory,
)
from tests.sources.conftest import recording

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def queries_for(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    ("model", "make"),
    [
        ("source", lambda n: SourceFactory(consecutive_failures=n % 2)),
        ("author", lambda n: AuthorFactory(is_journalist=bool(n % 2))),
        (
            "mention",
            lambda n: ReachSample.objects.create(
                mention=MentionFactory(text=f"{HOSTILE} {n}"), reach=n
            ),
        ),
    ],
)
def test_list_pages_run_the_same_queries_for_few_and_many_rows(
    admin_client, model, make
):
    url = reverse(f"admin:sources_{model}_changelist")
    for n in range(2):
        make(n)
    few = queries_for(admin_client, url)
    for n in range(2, 22):
        make(n)

    many = queries_for(admin_client, url)

    assert many == few


def test_mention_text_is_shown_escaped_and_truncated(admin_client):
    mention = MentionFactory(text=HOSTILE + " " + "lang " * 100, raw={"html": HOSTILE})
    ReachSample.objects.create(mention=mention, reach=7)

    listing = admin_client.get(reverse("admin:sources_mention_changelist"))
    detail = admin_client.get(
        reverse("admin:sources_mention_change", args=[mention.pk])
    )

    for response in (listing, detail):
        assert response.status_code == 200
        assert HOSTILE.encode() not in response.content
        assert b"&lt;script&gt;" in response.content
    assert b"lang lang" in listing.content
    assert ("lang " * 100).encode() not in listing.content
    assert b"raw record" in detail.content.lower()
    assert b"reach samples" in detail.content.lower()


def test_mention_filters_by_watched_author_and_search(admin_client):
    journalist = AuthorFactory(handle="verslaggever", is_journalist=True)
    watched = MentionFactory(author=journalist, text="wat is er met de app?")
    MentionFactory(text="gewone klant")
    url = reverse("admin:sources_mention_changelist")

    by_flag = admin_client.get(url, {"watch": "journalist"})
    by_any = admin_client.get(url, {"watch": "any"})
    by_handle = admin_client.get(url, {"q": "verslaggever"})

    for response in (by_flag, by_any, by_handle):
        assert list(response.context["cl"].queryset) == [watched]


def test_mentions_cannot_be_added_by_hand(admin_client):
    response = admin_client.get(reverse("admin:sources_mention_add"))

    assert response.status_code == 403


def test_the_unhealthy_filter_lists_failing_and_silent_sources(admin_client):
    failing = SourceFactory(consecutive_failures=2, last_error="boom " * 50)
    silent = SourceFactory(silence_alerted_at=timezone.now())
    SourceFactory()

    response = admin_client.get(
        reverse("admin:sources_source_changelist"), {"health": "unhealthy"}
    )

    assert set(response.context["cl"].queryset) == {failing, silent}
    assert b"failing" in response.content and b"silent" in response.content
    assert ("boom " * 50).encode() not in response.content


def test_the_source_page_never_shows_credentials(admin_client, settings):
    secret = "env-only-secret-token-123"
    settings.WEBCARE_CONNECTOR_CREDENTIALS = {"x_search": {"bearer_token": secret}}
    source = SourceFactory(cursor={"since_id": "123"})

    response = admin_client.get(
        reverse("admin:sources_source_change", args=[source.pk])
    )

    assert response.status_code == 200
    assert secret.encode() not in response.content
    assert b"configured in the environment" in response.content
    # The cursor is shown, not editable.
    assert b'name="cursor"' not in response.content


def test_watch_list_flags_are_editable_from_the_list(admin_client):
    author = AuthorFactory()
    response = admin_client.post(
        reverse("admin:sources_author_changelist"),
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(author.pk),
            "form-0-is_journalist": "on",
            "form-0-is_influential": "on",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    author.refresh_from_db()
    assert author.watch_flags == frozenset({"journalist", "influential"})


def test_poll_now_queues_a_poll_of_the_selected_source(
    admin_client, http_server, settings, django_capture_on_commit_callbacks
):
    settings.WEBCARE_CONNECTOR_CREDENTIALS = {
        "x_search": {"bearer_token": "tok-1234", "base_url": http_server.url}
    }
    settings.WEBCARE_POLL_HTTP_ATTEMPTS = 1
    http_server.add(
        "/2/tweets/search/recent",
        200,
        body=recording("twitter/search_tweets_query.json").read_bytes(),
    )
    source = SourceFactory(
        url=http_server.url, next_poll_at=timezone.now() + timedelta(hours=1)
    )

    # The queued task runs once the request's transaction commits (in-process
    # here: no broker), and the source page shows what it did.
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:sources_source_changelist"),
            {"action": "poll_now", "_selected_action": [source.pk]},
            follow=True,
        )

    assert "was queued" in response.content.decode()
    stored = Mention.objects.filter(source=source).count()
    assert stored > 0
    assert Source.objects.get(pk=source.pk).last_success_at is not None
    page = admin_client.get(reverse("admin:sources_source_change", args=[source.pk]))
    assert f"{stored} new" in page.content.decode()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("poll_interval", "999999999 00:00:00"),
        ("poll_interval", "8 00:00:00"),
        ("expected_silence", "999999999 00:00:00"),
        ("expected_silence", "00:00:10"),
    ],
)
def test_an_absurd_duration_is_a_form_error(admin_client, field, value):
    form = {
        "name": "Blog",
        "kind": "feed",
        "url": "https://blog.example/feed",
        "is_active": "on",
        "poll_interval": "00:05:00",
        "expected_silence": "2 00:00:00",
        field: value,
    }

    response = admin_client.post(reverse("admin:sources_source_add"), form)

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert not Source.objects.exists()


def test_a_source_within_the_duration_bounds_is_saved(admin_client):
    response = admin_client.post(
        reverse("admin:sources_source_add"),
        {
            "name": "Blog",
            "kind": "feed",
            "url": "https://blog.example/feed",
            "is_active": "on",
            "poll_interval": "7 00:00:00",
            "expected_silence": "365 00:00:00",
        },
    )

    assert response.status_code == 302
    source = Source.objects.get()
    assert source.poll_interval == timedelta(days=7)
    assert source.expected_silence == timedelta(days=365)


def staff(role: str) -> Client:
    web = Client()
    web.force_login(UserFactory(username=f"staff-{role}", groups=[role]))
    return web


def test_an_agent_cannot_move_a_mention_or_rewrite_its_triage_on_its_page():
    mention = MentionFactory(
        triage_status=TriageStatus.IGNORED, category="opinion", outcome="ignore"
    )
    other_case = CaseFactory()
    web = staff("agent")

    response = web.post(
        reverse("admin:sources_mention_change", args=[mention.pk]),
        {
            "author": str(mention.author_id),
            "case": str(other_case.pk),
            "triage_status": TriageStatus.ENGAGED,
            "category": "complaint",
            "outcome": "engage",
            "triage_reason": "because I say so",
            "reach_samples-TOTAL_FORMS": "0",
            "reach_samples-INITIAL_FORMS": "0",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    mention.refresh_from_db()
    assert mention.case_id is None
    assert mention.triage_status == TriageStatus.IGNORED
    assert (mention.category, mention.outcome) == ("opinion", "ignore")
    assert mention.triage_reason == ""
    assert not CaseEvent.objects.filter(case=other_case).exists()


def test_add_to_case_asks_for_the_case_then_adds_through_the_service():
    case = CaseFactory(status=CaseStatus.OPEN)
    first, second = MentionFactory(), MentionFactory()
    web = staff("agent")
    changelist = reverse("admin:sources_mention_changelist")
    selected = {"action": "add_to_case", "_selected_action": [first.pk, second.pk]}

    form_page = web.post(changelist, selected)
    done = web.post(changelist, {**selected, "apply": "1", "case": str(case.pk)})

    assert form_page.status_code == 200
    assert b'name="case"' in form_page.content
    assert done.status_code == 302
    assert set(case.mentions.values_list("pk", flat=True)) == {first.pk, second.pk}
    events = CaseEvent.objects.filter(case=case, kind=EventKind.MENTION_ADDED)
    assert sorted(events.values_list("data__mention_id", flat=True)) == sorted(
        [first.pk, second.pk]
    )


def test_add_to_case_names_a_missing_case_and_changes_nothing():
    mention = MentionFactory()
    web = staff("agent")

    response = web.post(
        reverse("admin:sources_mention_changelist"),
        {
            "action": "add_to_case",
            "_selected_action": [mention.pk],
            "apply": "1",
            "case": "999999",
        },
    )

    assert response.status_code == 200
    assert b"There is no case #999999." in response.content
    mention.refresh_from_db()
    assert mention.case_id is None


def test_add_to_case_reports_a_mention_of_another_case_and_adds_the_rest():
    case, elsewhere = CaseFactory(), CaseFactory()
    taken = MentionFactory(case=elsewhere)
    free = MentionFactory()
    web = staff("agent")

    response = web.post(
        reverse("admin:sources_mention_changelist"),
        {
            "action": "add_to_case",
            "_selected_action": [taken.pk, free.pk],
            "apply": "1",
            "case": str(case.pk),
        },
        follow=True,
    )

    shown = [str(message) for message in response.context["messages"]]
    assert any(f"already belongs to case #{elsewhere.pk}" in m for m in shown)
    taken.refresh_from_db()
    free.refresh_from_db()
    assert (taken.case_id, free.case_id) == (elsewhere.pk, case.pk)


def test_add_to_case_is_not_offered_to_who_may_not_change_cases():
    mention = MentionFactory()
    case = CaseFactory()
    web = staff("spokesperson")
    changelist = reverse("admin:sources_mention_changelist")

    page = web.get(changelist)
    response = web.post(
        changelist,
        {
            "action": "add_to_case",
            "_selected_action": [mention.pk],
            "apply": "1",
            "case": str(case.pk),
        },
    )

    assert page.status_code == 200
    assert b'value="add_to_case"' not in page.content
    assert response.status_code in (200, 302)
    mention.refresh_from_db()
    assert mention.case_id is None
    assert not CaseEvent.objects.filter(case=case).exists()
