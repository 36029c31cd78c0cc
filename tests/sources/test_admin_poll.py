"""Poll now in the admin (issue 17): queued as a task, never polled inside the web
request; the source page shows the poll queued, running and its outcome; a poll
that fails, times out or dies is recorded as a failure and frees the source."""

from datetime import timedelta

import pytest
from billiard.exceptions import SoftTimeLimitExceeded
from django.urls import reverse
from django.utils import timezone

from sources.models import Mention, Source, SourceKind
from sources.services import polling, source_reserve_due
from sources.tasks import poll_source
from tests.factories import SourceFactory
from tests.httpserver import Answer

pytestmark = pytest.mark.django_db

FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title>'
    b"<item><title>Mybank storing</title><guid>p-1</guid>"
    b"<pubDate>Mon, 02 Sep 2024 08:00:00 +0000</pubDate>"
    b"<description>Pinnen lukt niet</description></item></channel></rss>"
)


@pytest.fixture(autouse=True)
def one_attempt(settings):
    settings.WEBCARE_POLL_HTTP_ATTEMPTS = 1


@pytest.fixture
def feed(http_server):
    http_server.add("/feed", Answer(200, FEED, {"Content-Type": "application/xml"}))
    return SourceFactory(
        kind=SourceKind.FEED,
        url=f"{http_server.url}/feed",
        next_poll_at=timezone.now() + timedelta(hours=1),
    )


def poll_now(client, *sources):
    return client.post(
        reverse("admin:sources_source_changelist"),
        {"action": "poll_now", "_selected_action": [s.pk for s in sources]},
        follow=True,
    )


def test_poll_now_queues_a_poll_and_the_request_fetches_nothing(
    admin_client, http_server, feed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = poll_now(admin_client, feed)

    assert response.status_code == 200
    assert http_server.requests == []
    assert "queued" in response.content.decode()
    assert len(queued) == 1
    source = Source.objects.get(pk=feed.pk)
    assert source.poll_requested_at is not None
    assert source.locked_until is None
    page = admin_client.get(reverse("admin:sources_source_change", args=[feed.pk]))
    assert "Poll queued at" in page.content.decode()

    # The worker's turn: the queued task polls and the page shows the outcome.
    queued[0]()

    assert [request.path for request in http_server.requests] == ["/feed"]
    assert Mention.objects.filter(source=feed).count() == 1
    page = admin_client.get(reverse("admin:sources_source_change", args=[feed.pk]))
    content = page.content.decode()
    assert "Poll queued at" not in content
    assert "1 new" in content


def test_poll_now_twice_queues_one_poll(
    admin_client, feed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        poll_now(admin_client, feed)
        response = poll_now(admin_client, feed)

    assert len(queued) == 1
    assert "already queued" in response.content.decode()


def test_the_source_page_has_a_poll_now_button(
    admin_client, http_server, feed, django_capture_on_commit_callbacks
):
    url = reverse("admin:sources_source_change", args=[feed.pk])
    assert reverse("admin:sources_source_poll", args=[feed.pk]) in (
        admin_client.get(url).content.decode()
    )

    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = admin_client.post(
            reverse("admin:sources_source_poll", args=[feed.pk]), follow=True
        )

    assert response.redirect_chain[-1][0] == url
    assert len(queued) == 1
    assert http_server.requests == []
    # A GET changes nothing.
    assert (
        admin_client.get(
            reverse("admin:sources_source_poll", args=[feed.pk])
        ).status_code
        == 405
    )


def test_the_source_page_shows_a_running_poll(admin_client, feed):
    now = timezone.now()
    Source.objects.filter(pk=feed.pk).update(
        poll_started_at=now, locked_until=now + timedelta(minutes=10)
    )

    page = admin_client.get(reverse("admin:sources_source_change", args=[feed.pk]))

    assert "Polling since" in page.content.decode()


def test_a_poll_that_times_out_is_recorded_and_releases_its_lease(
    http_server, feed, monkeypatch
):
    http_server.add("/feed", Answer(200, FEED, delay=1.0))
    fast_client = polling.build_client

    def client_with_short_timeouts():
        return fast_client(timeout=0.2, connect_timeout=0.2)

    monkeypatch.setattr(polling, "build_client", client_with_short_timeouts)

    poll_source.apply(args=[feed.pk])

    source = Source.objects.get(pk=feed.pk)
    assert source.consecutive_failures == 1
    assert "time" in source.last_error.lower()
    assert source.locked_until is None
    assert source.last_polled_at is not None


def test_a_poll_stopped_by_the_soft_time_limit_is_recorded_and_releases_its_lease(
    feed, monkeypatch
):
    def stopped(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(polling, "_fetch_and_store", stopped)

    poll_source.apply(args=[feed.pk])

    source = Source.objects.get(pk=feed.pk)
    assert source.consecutive_failures == 1
    assert "SoftTimeLimitExceeded" in source.last_error
    assert source.locked_until is None


def test_a_poll_that_died_is_recorded_as_a_failure_when_its_lease_runs_out(feed):
    # A worker killed at the hard time limit releases nothing: its lease runs out.
    started = timezone.now() - timedelta(minutes=11)
    Source.objects.filter(pk=feed.pk).update(
        poll_started_at=started,
        locked_until=started + timedelta(minutes=10),
        next_poll_at=timezone.now() + timedelta(hours=1),
    )

    source_reserve_due()

    source = Source.objects.get(pk=feed.pk)
    assert source.locked_until is None
    assert source.consecutive_failures == 1
    assert "did not finish" in source.last_error
