"""A database connection dropped mid-poll (bench/faults.py, pg_terminate): the
poll records its failure on a fresh connection and releases its lease, so the
source is polled again on its normal backoff, not after the lease runs out."""

import pytest
from celery.exceptions import Retry
from django.db import connection, connections
from django.utils import timezone

from sources.models import Mention, Source, SourceKind
from sources.services import mentions, polling, source_poll
from sources.tasks import poll_source
from tests.factories import SourceFactory
from tests.httpserver import Answer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

FEED = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
    b"<title>Reacties</title><link>https://blog.example/</link>"
    b"<item><title>Vraag</title><link>https://blog.example/c/1</link>"
    b"<guid>c-1</guid><pubDate>Mon, 02 Sep 2024 08:00:00 +0000</pubDate>"
    b"<description>Mybank app crasht</description></item></channel></rss>"
)


@pytest.fixture(autouse=True)
def one_attempt(settings):
    settings.WEBCARE_POLL_HTTP_ATTEMPTS = 1


@pytest.fixture
def feed(on_postgres, http_server):
    http_server.add(
        "/comments", Answer(200, FEED, {"Content-Type": "application/rss+xml"})
    )
    source = SourceFactory(
        kind=SourceKind.FEED, url=f"{http_server.url}/comments", query=""
    )
    yield source
    # Whatever the poll left behind, the flush after the test needs a live one.
    connection.close()


def terminate_own_backend() -> None:
    """As the bench does: from another connection, while the poll waits on HTTP."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
            assert cursor.fetchone() == (True,)
    finally:
        other.close()


def test_a_poll_whose_connection_is_terminated_records_the_failure_and_unlocks(
    feed, monkeypatch
):
    def store_after_the_drop(**kwargs):
        terminate_own_backend()
        return mentions.mentions_store(**kwargs)

    monkeypatch.setattr(polling, "mentions_store", store_after_the_drop)
    before = timezone.now()

    result = source_poll(source_id=feed.pk)

    assert result.error.startswith("database error (")
    assert "internal error" not in result.error
    # Not the source's fault: the task retries in seconds (see the next test).
    assert result.transient is True
    source = Source.objects.get(pk=feed.pk)
    assert source.locked_until is None
    assert source.consecutive_failures == 1
    assert source.last_error == result.error
    # Its normal backoff (twice the interval after one failure), not a lease.
    assert source.next_poll_at >= before + source.poll_interval
    assert source.cursor == {}
    assert not Mention.objects.filter(source=feed).exists()

    monkeypatch.undo()
    again = source_poll(source_id=feed.pk)

    assert (again.claimed, again.error, again.new) == (True, "", 1)
    source.refresh_from_db()
    assert (source.locked_until, source.consecutive_failures) == (None, 0)
    assert Mention.objects.filter(source=feed).count() == 1


def test_the_poll_task_retries_soon_after_a_dropped_connection(feed, monkeypatch):
    def store_after_the_drop(**kwargs):
        terminate_own_backend()
        return mentions.mentions_store(**kwargs)

    monkeypatch.setattr(polling, "mentions_store", store_after_the_drop)
    asked = {}

    def retry(**kwargs):
        asked.update(kwargs)
        return Retry("retry", when=kwargs.get("countdown"))

    monkeypatch.setattr(poll_source, "retry", retry)
    poll_source.push_request(retries=0, is_eager=False)
    try:
        with pytest.raises(Retry):
            poll_source.run(feed.pk)
    finally:
        poll_source.pop_request()

    assert asked["countdown"] == 30
    assert Source.objects.get(pk=feed.pk).locked_until is None


def test_a_connection_dropped_after_the_last_page_still_records_the_success(
    feed, monkeypatch
):
    # Everything stored and the cursor saved; then the record is the first
    # statement to meet the dead connection.
    fetch_and_store = polling._fetch_and_store

    def then_drop(*args):
        fetch_and_store(*args)
        terminate_own_backend()

    monkeypatch.setattr(polling, "_fetch_and_store", then_drop)

    result = source_poll(source_id=feed.pk)

    assert (result.error, result.new) == ("", 1)
    source = Source.objects.get(pk=feed.pk)
    assert (source.locked_until, source.consecutive_failures) == (None, 0)
    assert source.last_success_at is not None
    assert source.cursor != {}
