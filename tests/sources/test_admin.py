from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sources.models import Mention, ReachSample, Source
from tests.factories import AuthorFactory, MentionFactory, SourceFactory
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


def test_poll_now_polls_the_selected_source(admin_client, http_server, settings):
    settings.WEBCARE_CONNECTOR_CREDENTIALS = {"x_search": {"bearer_token": "tok-1234"}}
    settings.WEBCARE_POLL_HTTP_ATTEMPTS = 1
    http_server.add(
        "/2/tweets/search/recent",
        200,
        body=recording("twitter/search_tweets_query.json").read_bytes(),
    )
    source = SourceFactory(
        url=http_server.url, next_poll_at=timezone.now() + timedelta(hours=1)
    )

    response = admin_client.post(
        reverse("admin:sources_source_changelist"),
        {"action": "poll_now", "_selected_action": [source.pk]},
        follow=True,
    )

    stored = Mention.objects.filter(source=source).count()
    assert stored > 0
    assert f"new {stored}" in response.content.decode()
    assert Source.objects.get(pk=source.pk).last_success_at is not None


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
