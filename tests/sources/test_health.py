from datetime import timedelta

import pytest
from django.utils import timezone

from sources.connectors import MentionItem
from sources.models import Source
from sources.services import mentions_store, source_check_health
from sources.tasks import check_source_health
from tests.factories import SourceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def check(django_capture_on_commit_callbacks):
    """The health check, with what it queues after commit run (the outbox's send)."""

    def run(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return source_check_health(**kwargs)

    return run


def silent_source(**fields):
    source = SourceFactory(expected_silence=timedelta(days=2), **fields)
    Source.objects.filter(pk=source.pk).update(
        created_at=timezone.now() - timedelta(days=10),
        last_item_at=timezone.now() - timedelta(days=3),
    )
    return source


def test_a_silent_source_alerts_the_team_once(check, mailoutbox, settings):
    source = silent_source(name="Forum van de bank")

    first = check()
    second = check()

    source.refresh_from_db()
    assert first.alerted == [source.pk]
    assert second.alerted == []
    assert source.silence_alerted_at is not None
    assert source.is_healthy is False
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [settings.WEBCARE_TEAM_EMAIL]
    assert "Forum van de bank" in mailoutbox[0].subject
    assert "no new mention since" in mailoutbox[0].body


def test_a_source_within_its_expected_silence_is_fine(check, mailoutbox):
    source = SourceFactory(expected_silence=timedelta(days=2))
    Source.objects.filter(pk=source.pk).update(
        last_item_at=timezone.now() - timedelta(days=1)
    )
    SourceFactory(is_active=False, expected_silence=timedelta(seconds=1))

    report = check()

    assert report.alerted == []
    assert mailoutbox == []


def test_a_source_that_never_had_an_item_counts_from_its_creation(check, mailoutbox):
    fresh = SourceFactory(expected_silence=timedelta(days=2))
    old = SourceFactory(expected_silence=timedelta(days=2))
    Source.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=5)
    )

    report = check()

    assert report.alerted == [old.pk]
    assert "since it was added" in mailoutbox[0].body
    fresh.refresh_from_db()
    assert fresh.silence_alerted_at is None


def test_a_source_failing_poll_after_poll_alerts_with_its_last_error(
    check, mailoutbox, settings
):
    settings.WEBCARE_SOURCE_FAILURE_ALERT_AFTER = 3
    failing = SourceFactory(
        consecutive_failures=3,
        last_error="x_search: the API answered 401: Unauthorized",
        last_item_at=timezone.now(),
    )
    SourceFactory(consecutive_failures=2, last_item_at=timezone.now())

    report = check()

    assert report.alerted == [failing.pk]
    assert "the last 3 polls failed" in mailoutbox[0].body
    assert "401: Unauthorized" in mailoutbox[0].body


def test_the_alert_is_cleared_when_items_come_back(check, mailoutbox):
    source = silent_source()
    check()

    mentions_store(
        source=source, items=[MentionItem(external_id="1", text="oranjebank")]
    )
    source.refresh_from_db()
    assert source.silence_alerted_at is None
    report = check()

    assert report.alerted == []
    assert len(mailoutbox) == 1


def test_the_alert_is_cleared_when_polls_work_again(check, mailoutbox):
    source = SourceFactory(consecutive_failures=5, last_item_at=timezone.now())
    check()
    Source.objects.filter(pk=source.pk).update(consecutive_failures=0)

    report = check()

    source.refresh_from_db()
    assert report.cleared == [source.pk]
    assert source.silence_alerted_at is None
    assert source.is_healthy is True


def test_the_health_task_calls_the_check(
    mailoutbox, django_capture_on_commit_callbacks
):
    source = silent_source()

    with django_capture_on_commit_callbacks(execute=True):
        outcome = check_source_health.apply().get()

    assert outcome == {"alerted": [source.pk], "cleared": []}
    assert len(mailoutbox) == 1
