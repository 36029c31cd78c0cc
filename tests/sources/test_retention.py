"""Raw payloads are kept for WEBCARE_RAW_RETENTION_DAYS after a post was fetched,
then emptied by a beat task in bounded batches (issue 16, privacy)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from sources.models import Mention
from sources.services import mentions_purge_raw
from sources.tasks import purge_raw_payloads
from tests.factories import MentionFactory

RAW = {"user": {"name": "Jan"}, "text": "mijn pas"}


def mention(days_ago: float, **fields):
    return MentionFactory(
        raw=RAW, first_seen_at=timezone.now() - timedelta(days=days_ago), **fields
    )


def raws() -> dict[int, dict]:
    return dict(Mention.objects.values_list("pk", "raw"))


@pytest.fixture(autouse=True)
def retention(settings):
    settings.WEBCARE_RAW_RETENTION_DAYS = 30


@pytest.mark.django_db
def test_it_empties_old_payloads_and_keeps_recent_ones_and_the_rest_of_the_post():
    old = mention(31, text="oud bericht", likes=4)
    recent = mention(29)
    # The platform's own time does not count: we fetched it recently.
    backdated = mention(1, published_at=timezone.now() - timedelta(days=400))
    result = mentions_purge_raw()
    assert result.purged == 1 and result.finished
    assert raws() == {old.pk: {}, recent.pk: RAW, backdated.pk: RAW}
    old.refresh_from_db()
    assert (old.text, old.likes) == ("oud bericht", 4)


@pytest.mark.django_db
def test_zero_keeps_payloads_forever(settings):
    settings.WEBCARE_RAW_RETENTION_DAYS = 0
    kept = mention(3000)
    assert mentions_purge_raw().purged == 0
    assert raws() == {kept.pk: RAW}


@pytest.mark.django_db
def test_it_works_in_bounded_batches_until_done():
    old = [mention(40 + index) for index in range(7)]
    result = mentions_purge_raw(batch_size=3)
    assert (result.purged, result.batches, result.finished) == (7, 3, True)
    assert all(raw == {} for raw in raws().values())
    assert {m.pk for m in old} == set(raws())


@pytest.mark.django_db
def test_it_stops_at_its_time_budget_and_the_next_run_goes_on():
    for index in range(5):
        mention(40 + index)
    first = mentions_purge_raw(batch_size=2, time_budget=0)
    assert (first.purged, first.batches, first.finished) == (2, 1, False)
    second = mentions_purge_raw(batch_size=2)
    assert second.purged == 3 and second.finished


@pytest.mark.django_db
def test_a_second_run_finds_nothing_to_do():
    mention(100)
    assert mentions_purge_raw().purged == 1
    again = mentions_purge_raw()
    assert (again.purged, again.batches) == (0, 0)


# Committed: on PostgreSQL the writes of one transaction share one position.
@pytest.mark.django_db(transaction=True)
def test_the_purge_moves_the_sync_position():
    old = mention(100)
    before = Mention.objects.get(pk=old.pk).sync_position
    mentions_purge_raw()
    assert Mention.objects.get(pk=old.pk).sync_position > before


@pytest.mark.django_db
def test_the_beat_task_purges_and_reports_what_it_did():
    mention(100)
    assert purge_raw_payloads()["purged"] == 1
    assert purge_raw_payloads()["purged"] == 0


def test_beat_runs_the_purge_daily():
    entry = settings.CELERY_BEAT_SCHEDULE["purge-raw-payloads"]
    assert entry["task"] == "sources.tasks.purge_raw_payloads"
