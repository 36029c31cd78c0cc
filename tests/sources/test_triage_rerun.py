"""Re-running triage (after a rule change) in bounded batches, with progress."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import Case
from sources.connectors import MentionItem
from sources.models import (
    EngagementRule,
    Mention,
    TriageRun,
    TriageRunStatus,
    TriageStatus,
)
from sources.services import mentions_store
from sources.triage import tasks
from sources.triage.services import triage_run_start, triage_run_step
from tests.factories import MentionFactory, SourceFactory, UserFactory

pytestmark = pytest.mark.django_db

OTHER = "Oranjebank sponsort dit jaar het schaatstoernooi in Heerenveen"
COMPLAINT = (
    "@oranjebank mijn overboeking van vorige week is nog steeds niet aangekomen, "
    "en niemand helpt me"
)


def test_triage_mentions_task_triages_new_mentions_once():
    mentions = [MentionFactory(text=COMPLAINT), MentionFactory(text=OTHER)]
    ids = [m.pk for m in mentions]

    first = tasks.triage_mentions(ids)
    again = tasks.triage_mentions(ids)

    assert first == {"triaged": 2, "skipped": 0, "failed": 0}
    assert again == {"triaged": 0, "skipped": 2, "failed": 0}
    statuses = dict(Mention.objects.values_list("pk", "triage_status"))
    assert statuses == {ids[0]: "engaged", ids[1]: "review"}
    assert Case.objects.count() == 1


def test_the_safety_net_triages_mentions_left_pending():
    mention = MentionFactory(text=COMPLAINT)
    Mention.objects.filter(pk=mention.pk).update(
        first_seen_at=mention.first_seen_at.replace(year=2020)
    )
    fresh = MentionFactory(text=COMPLAINT)

    assert tasks.triage_pending()["triaged"] == 1
    mention.refresh_from_db()
    fresh.refresh_from_db()
    assert mention.triage_status == TriageStatus.ENGAGED
    assert fresh.triage_status == TriageStatus.PENDING


def test_the_safety_net_leaves_a_post_first_seen_deleted_alone():
    # mentions_store does not queue such a post for triage; neither may the net,
    # or a post that no longer exists opens a case or fills the review queue.
    source = SourceFactory()
    mentions_store(source=source, items=[MentionItem("9", COMPLAINT, deleted=True)])
    Mention.objects.update(first_seen_at=timezone.now() - timedelta(hours=1))

    assert tasks.triage_pending()["triaged"] == 0
    mention = Mention.objects.get()
    assert mention.is_deleted
    assert mention.triage_status == TriageStatus.PENDING
    assert not Case.objects.exists()


def test_rerun_over_review_mentions_after_a_rule_change(
    django_capture_on_commit_callbacks,
):
    sponsoring = [MentionFactory(text=OTHER) for _ in range(5)]
    tasks.triage_mentions([m.pk for m in sponsoring])
    assert Mention.objects.review_queue().count() == 5
    # The team learns: sponsoring news needs no answer.
    EngagementRule.objects.create(
        name="Sponsoring news",
        position=85,
        patterns="sponsort",
        outcome="ignore",
        reason="news about our sponsoring: nothing to answer",
    )
    spokesperson = UserFactory(username="ws", groups=["spokesperson"])

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = triage_run_start(scope="review", started_by=spokesperson, batch_size=2)
    assert (run.total, run.done, run.status) == (5, 0, TriageRunStatus.QUEUED)
    assert len(callbacks) == 1

    # One batch at a time: progress is visible between batches.
    assert triage_run_step(run_id=run.pk) is True
    run.refresh_from_db()
    assert (run.status, run.done, run.total) == (TriageRunStatus.RUNNING, 2, 5)
    assert run.started_at is not None
    assert run.results == {"ignored": 2}

    tasks.retriage(run.pk)

    run.refresh_from_db()
    assert run.status == TriageRunStatus.DONE
    assert (run.done, run.total, run.progress) == (5, 5, 1.0)
    assert run.results == {"ignored": 5}
    assert run.finished_at is not None
    assert run.started_by == spokesperson
    assert not Mention.objects.review_queue().exists()
    mention = Mention.objects.get(pk=sponsoring[0].pk)
    assert mention.triage_status == TriageStatus.IGNORED
    assert mention.rule.name == "Sponsoring news"
    assert mention.triage_reason == "news about our sponsoring: nothing to answer"
    # A finished run does nothing more.
    assert triage_run_step(run_id=run.pk) is False


def test_a_rerun_leaves_engaged_and_ignored_mentions_alone():
    engaged = MentionFactory(text=COMPLAINT)
    tasks.triage_mentions([engaged.pk])
    EngagementRule.objects.filter(name="Complaint").update(outcome="ignore")

    run = triage_run_start(scope="pending+review")
    tasks.retriage(run.pk)

    engaged.refresh_from_db()
    assert engaged.triage_status == TriageStatus.ENGAGED
    run.refresh_from_db()
    assert (run.status, run.total, run.done) == (TriageRunStatus.DONE, 0, 0)


def test_a_rerun_that_meets_a_broken_rule_fails_visibly():
    review = MentionFactory(text=OTHER)
    tasks.triage_mentions([review.pk])
    EngagementRule.objects.create(
        name="Broken", position=1, patterns="re:(x+)+y", outcome="ignore"
    )

    run = triage_run_start(scope="review")
    tasks.retriage(run.pk)

    run.refresh_from_db()
    assert run.status == TriageRunStatus.FAILED
    assert "Broken" in run.last_error
    review.refresh_from_db()
    assert review.triage_status == TriageStatus.REVIEW


def test_a_redelivered_step_does_not_count_twice():
    mentions = [MentionFactory(text=OTHER) for _ in range(3)]
    tasks.triage_mentions([m.pk for m in mentions])
    run = triage_run_start(scope="review", batch_size=10)
    stale = TriageRun.objects.get(pk=run.pk)

    assert triage_run_step(run_id=run.pk) is True
    # A second worker with the old cursor: its update matches no row.
    moved = TriageRun.objects.filter(
        pk=run.pk, cursor_mention_id=stale.cursor_mention_id
    ).update(done=99)
    assert moved == 0
    run.refresh_from_db()
    assert run.done == 3


def test_the_run_is_queued_after_commit(django_capture_on_commit_callbacks):
    MentionFactory(text=OTHER)
    tasks.triage_mentions(list(Mention.objects.values_list("pk", flat=True)))

    with django_capture_on_commit_callbacks(execute=True):
        run = triage_run_start(scope="review")

    # Eager Celery in tests: the queued task ran at commit.
    run.refresh_from_db()
    assert run.status == TriageRunStatus.DONE
    assert run.done == 1


def test_the_safety_net_restarts_a_run_whose_task_was_lost(
    django_capture_on_commit_callbacks,
):
    sponsoring = [MentionFactory(text=OTHER) for _ in range(3)]
    tasks.triage_mentions([m.pk for m in sponsoring])
    EngagementRule.objects.create(
        name="Sponsoring news", position=85, patterns="sponsort", outcome="ignore"
    )
    with django_capture_on_commit_callbacks(execute=False):
        run = triage_run_start(scope="review", batch_size=2)  # its message is lost
    quiet = TriageRun.objects.create(scope="review")  # new, not stalled yet

    tasks.triage_pending()
    run.refresh_from_db()
    assert run.status == TriageRunStatus.QUEUED  # not quiet for five minutes yet

    TriageRun.objects.filter(pk=run.pk).update(
        created_at=timezone.now() - timedelta(minutes=6)
    )
    tasks.triage_pending()

    run.refresh_from_db()
    assert run.status == TriageRunStatus.DONE
    assert run.results == {"ignored": 3}
    assert run.progressed_at is not None
    quiet.refresh_from_db()
    assert quiet.status == TriageRunStatus.QUEUED
