import json
from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.utils import timezone

from sources.models import Author, Mention, Source, SourceKind
from sources.services import polling, source_poll, source_reserve_due
from sources.tasks import poll_due_sources, poll_source
from tests.factories import SourceFactory
from tests.httpserver import Answer
from tests.sources.conftest import recording
from webcare.celery import app

pytestmark = pytest.mark.django_db

SEARCH = "/2/tweets/search/recent"
TOKEN = "test-bearer-token-s3cret"


def body(name):
    return recording(name).read_bytes()


@pytest.fixture(autouse=True)
def credentials(settings, http_server):
    # The loopback server stands in for the X API: the token's configured host.
    settings.WEBCARE_CONNECTOR_CREDENTIALS = {
        **settings.WEBCARE_CONNECTOR_CREDENTIALS,
        "x_search": {"bearer_token": TOKEN, "base_url": http_server.url},
    }
    settings.WEBCARE_POLL_HTTP_ATTEMPTS = 1


@pytest.fixture
def x_source(http_server):
    return SourceFactory(
        kind=SourceKind.X_SEARCH, url=http_server.url, query="oranjebank"
    )


def test_it_polls_stores_and_moves_the_cursor(http_server, x_source):
    http_server.add(SEARCH, 200, body=body("twitter/search_tweets_query.json"))
    tweets = json.loads(body("twitter/search_tweets_query.json"))["data"]
    before = timezone.now()

    result = source_poll(source_id=x_source.pk)

    assert result.error == ""
    assert (result.fetched, result.new, result.updated) == (len(tweets), len(tweets), 0)
    assert Mention.objects.filter(source=x_source).count() == len(tweets)
    assert http_server.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    x_source.refresh_from_db()
    assert x_source.cursor == {"since_id": max((t["id"] for t in tweets), key=int)}
    assert x_source.locked_until is None
    assert x_source.consecutive_failures == 0
    assert x_source.last_success_at >= before
    assert x_source.last_item_at >= before
    assert x_source.next_poll_at == x_source.last_polled_at + x_source.poll_interval
    # Authors come from the expansions.
    assert Author.objects.filter(platform="x_search").exists()


def test_a_second_poll_stores_nothing_twice(http_server, x_source):
    http_server.add(SEARCH, 200, body=body("twitter/search_tweets_query.json"))
    first = source_poll(source_id=x_source.pk)

    second = source_poll(source_id=x_source.pk)

    assert first.new > 0
    assert second.new == 0
    assert second.fetched == first.fetched
    assert (
        http_server.requests[1].query["since_id"]
        == x_source.__class__.objects.get(pk=x_source.pk).cursor["since_id"]
    )
    assert Mention.objects.count() == first.new


def test_the_cursor_moves_only_after_the_page_is_stored(
    http_server, x_source, monkeypatch
):
    http_server.add(
        SEARCH,
        [
            Answer(200, body("twitter/test_client_search_recent_tweets.body.json")),
            Answer(200, body("twitter/search_tweets_query.json")),
        ],
    )
    real_store = polling.mentions_store
    calls = []

    def store_that_fails_on_the_second_page(*, source, items):
        calls.append(len(items))
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real_store(source=source, items=items)

    monkeypatch.setattr(polling, "mentions_store", store_that_fails_on_the_second_page)

    result = source_poll(source_id=x_source.pk)

    x_source.refresh_from_db()
    assert result.new == 10
    assert "RuntimeError" in result.error
    # Page one's cursor: the old since_id (none) and the token of page two.
    assert (
        x_source.cursor["next_token"] == "b26v89c19zqg8o3fpzbn1e0ffhxjiofzw6po136rvbnul"
    )
    assert "since_id" in x_source.cursor and x_source.cursor["since_id"] is None
    assert x_source.consecutive_failures == 1

    monkeypatch.setattr(polling, "mentions_store", real_store)
    Source.objects.filter(pk=x_source.pk).update(next_poll_at=None)
    retried = source_poll(source_id=x_source.pk)

    assert retried.error == ""
    assert http_server.requests[-1].query["next_token"] == (
        "b26v89c19zqg8o3fpzbn1e0ffhxjiofzw6po136rvbnul"
    )
    x_source.refresh_from_db()
    assert "next_token" not in x_source.cursor
    assert x_source.consecutive_failures == 0
    assert Mention.objects.count() == 10 + retried.new


def test_a_failure_is_recorded_with_a_growing_backoff_and_no_secret(
    http_server, x_source
):
    http_server.add(
        SEARCH,
        401,
        body={"title": "Unauthorized", "detail": f"bad token {TOKEN}", "status": 401},
    )

    first = source_poll(source_id=x_source.pk)
    x_source.refresh_from_db()
    first_wait = x_source.next_poll_at - x_source.last_polled_at
    second = source_poll(source_id=x_source.pk)
    x_source.refresh_from_db()
    second_wait = x_source.next_poll_at - x_source.last_polled_at

    assert "401" in first.error and TOKEN not in first.error
    assert second.error
    assert x_source.consecutive_failures == 2
    assert "401" in x_source.last_error
    assert TOKEN not in x_source.last_error
    assert first_wait == x_source.poll_interval * 2
    assert second_wait == x_source.poll_interval * 4
    assert x_source.locked_until is None
    assert Mention.objects.count() == 0


def test_the_backoff_is_capped_and_resets_on_success(http_server, x_source, settings):
    settings.WEBCARE_POLL_MAX_BACKOFF_SECONDS = 6 * 3600
    http_server.add(SEARCH, 503)
    Source.objects.filter(pk=x_source.pk).update(consecutive_failures=40)

    failed = source_poll(source_id=x_source.pk)
    x_source.refresh_from_db()
    capped = x_source.next_poll_at - x_source.last_polled_at
    http_server.add(SEARCH, 200, body=body("crafted/x_empty.json"))
    source_poll(source_id=x_source.pk)
    x_source.refresh_from_db()

    assert failed.transient is True
    assert capped == timedelta(hours=6)
    assert x_source.consecutive_failures == 0
    assert x_source.last_error == ""
    assert x_source.next_poll_at - x_source.last_polled_at == x_source.poll_interval


def test_a_rate_limit_waits_as_long_as_the_api_asks(http_server, x_source):
    http_server.add(SEARCH, Answer(429, b"{}", {"retry-after": "7200"}))

    result = source_poll(source_id=x_source.pk)

    x_source.refresh_from_db()
    assert result.transient is True
    assert result.retry_after == pytest.approx(7200, abs=5)
    assert x_source.next_poll_at - x_source.last_polled_at >= timedelta(seconds=7190)


def test_a_source_under_lease_is_not_polled_twice(http_server, x_source):
    http_server.add(SEARCH, 200, body=body("crafted/x_empty.json"))
    lease = timezone.now() + timedelta(minutes=5)
    Source.objects.filter(pk=x_source.pk).update(locked_until=lease)

    refused = source_poll(source_id=x_source.pk)

    assert refused.claimed is False
    assert http_server.requests == []
    x_source.refresh_from_db()
    assert x_source.locked_until == lease
    assert x_source.last_polled_at is None

    # An expired lease (a worker killed mid-poll) is taken over.
    Source.objects.filter(pk=x_source.pk).update(
        locked_until=timezone.now() - timedelta(seconds=1)
    )
    taken_over = source_poll(source_id=x_source.pk)
    assert taken_over.claimed is True
    assert len(http_server.requests) == 1


def test_an_inactive_source_is_not_polled(http_server, x_source):
    Source.objects.filter(pk=x_source.pk).update(is_active=False)

    result = source_poll(source_id=x_source.pk)

    assert result.claimed is False
    assert http_server.requests == []


def test_a_lost_lease_does_not_overwrite_the_new_owner(
    http_server, x_source, monkeypatch
):
    http_server.add(SEARCH, 200, body=body("twitter/search_tweets_query.json"))
    real_store = polling.mentions_store
    taken_over_until = timezone.now() + timedelta(minutes=9)

    def store_while_another_worker_takes_over(*, source, items):
        stored = real_store(source=source, items=items)
        Source.objects.filter(pk=source.pk).update(locked_until=taken_over_until)
        return stored

    monkeypatch.setattr(
        polling, "mentions_store", store_while_another_worker_takes_over
    )

    result = source_poll(source_id=x_source.pk)

    x_source.refresh_from_db()
    assert "lease lost" in result.error
    assert x_source.cursor == {}
    assert x_source.locked_until == taken_over_until
    assert x_source.last_polled_at is None


def test_a_connector_without_configuration_fails_cleanly(settings):
    source = SourceFactory(kind=SourceKind.X_SEARCH, url="http://127.0.0.1:9/")
    settings.WEBCARE_CONNECTOR_CREDENTIALS = {
        "x_search": {"bearer_token": "", "base_url": "http://127.0.0.1:9"}
    }

    result = source_poll(source_id=source.pk)

    source.refresh_from_db()
    assert "no bearer token" in result.error
    assert source.consecutive_failures == 1
    assert source.locked_until is None


def test_reserving_due_sources_queues_each_once():
    now = timezone.now()
    due = SourceFactory(next_poll_at=now - timedelta(minutes=1))
    never_polled = SourceFactory(next_poll_at=None)
    SourceFactory(next_poll_at=now + timedelta(minutes=1))
    SourceFactory(is_active=False)
    SourceFactory(kind=SourceKind.MANUAL)

    first = source_reserve_due(now=now)
    second = source_reserve_due(now=now)

    assert sorted(first) == sorted([due.pk, never_polled.pk])
    assert second == []
    due.refresh_from_db()
    assert due.next_poll_at > now


def test_the_beat_task_polls_every_due_source_and_a_broken_one_stops_nothing(
    http_server,
):
    http_server.add(SEARCH, 200, body=body("twitter/search_tweets_query.json"))
    http_server.add("/broken/2/tweets/search/recent", 500)
    good = SourceFactory(url=http_server.url, query="oranjebank")
    broken = SourceFactory(url=http_server.url + "/broken", query="oranjebank")

    # Eager here even when the suite runs against a broker: the end-to-end
    # test runs a real worker.
    was_eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        queued = poll_due_sources.apply().get()
    finally:
        app.conf.task_always_eager = was_eager

    good.refresh_from_db()
    broken.refresh_from_db()
    assert queued == 2
    assert good.last_success_at is not None
    assert Mention.objects.filter(source=good).count() > 0
    assert broken.consecutive_failures == 1
    assert "500" in broken.last_error


def test_the_poll_task_retries_a_transient_failure_after_the_wait_asked(
    http_server, x_source, monkeypatch
):
    http_server.add(SEARCH, Answer(429, b"{}", {"retry-after": "120"}))
    asked = {}

    def retry(**kwargs):
        asked.update(kwargs)
        return Retry("retry", when=kwargs.get("countdown"))

    monkeypatch.setattr(poll_source, "retry", retry)
    poll_source.push_request(retries=0, is_eager=False)
    try:
        with pytest.raises(Retry):
            poll_source.run(x_source.pk)
    finally:
        poll_source.pop_request()

    assert asked["countdown"] == pytest.approx(120, abs=5)
    x_source.refresh_from_db()
    assert x_source.consecutive_failures == 1


def test_the_poll_task_does_not_retry_a_permanent_failure(http_server, x_source):
    http_server.add(SEARCH, 403, body={"title": "Forbidden"})

    outcome = poll_source.apply(args=[x_source.pk]).get()

    assert outcome["transient"] is False
    assert "403" in outcome["error"]


def test_an_unexpected_error_is_logged_and_recorded_without_the_credentials(
    http_server, x_source, monkeypatch, caplog
):
    http_server.add(SEARCH, 200, body=body("twitter/search_tweets_query.json"))

    def store_that_breaks(*, source, items):
        raise RuntimeError(f"broken while using {TOKEN}")

    monkeypatch.setattr(polling, "mentions_store", store_that_breaks)

    result = source_poll(source_id=x_source.pk)

    x_source.refresh_from_db()
    assert (
        result.error == "internal error (RuntimeError): broken while using [redacted]"
    )
    assert x_source.last_error == result.error
    assert "Traceback" in caplog.text
    assert TOKEN not in caplog.text
    assert x_source.locked_until is None
