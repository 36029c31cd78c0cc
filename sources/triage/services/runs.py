"""Re-running triage over the stored mentions in batches (TriageRun)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from sources.models import (
    Mention,
    TriageRun,
    TriageRunStatus,
    TriageScope,
    TriageStatus,
)
from webcare.celery import enqueue_on_commit

from .decisions import TriageError
from .triage import ACTOR_LABEL, mentions_triage

RUN_BATCH_SIZE_MAX = 5000
SCOPE_STATUSES: dict[str, tuple[str, ...]] = {
    TriageScope.PENDING: (TriageStatus.PENDING,),
    TriageScope.REVIEW: (TriageStatus.REVIEW,),
    TriageScope.PENDING_AND_REVIEW: (TriageStatus.PENDING, TriageStatus.REVIEW),
}


# --- Re-running triage -------------------------------------------------------------


def triage_run_start(
    *,
    scope: str = TriageScope.REVIEW,
    started_by: AbstractBaseUser | None = None,
    batch_size: int = 200,
) -> TriageRun:
    """Queue a re-run of triage over the mentions in scope (e.g. after a rule change).

    The run covers the mentions stored now; later ones are triaged on arrival.
    """
    if scope not in SCOPE_STATUSES:
        raise TriageError(f"Unknown scope {scope!r}.")
    if not 1 <= batch_size <= RUN_BATCH_SIZE_MAX:
        raise TriageError(f"The batch size must be between 1 and {RUN_BATCH_SIZE_MAX}.")
    with transaction.atomic():
        in_scope = Mention.objects.filter(triage_status__in=SCOPE_STATUSES[scope])
        last_id = in_scope.aggregate(last=Max("id"))["last"] or 0
        run = TriageRun.objects.create(
            scope=scope,
            batch_size=batch_size,
            total=in_scope.filter(id__lte=last_id).count(),
            last_mention_id=last_id,
            started_by=started_by if started_by is not None and started_by.pk else None,
        )
        enqueue_on_commit("sources.triage.tasks.retriage", run.pk)
    return run


def triage_run_step(*, run_id: int) -> bool:
    """Triage one batch of a run; True while more remain.

    The cursor moves with a conditional UPDATE: if another worker moved it
    first (a redelivered task), this one stops instead of counting twice.
    """
    run = TriageRun.objects.filter(pk=run_id).first()
    if run is None or run.status in (TriageRunStatus.DONE, TriageRunStatus.FAILED):
        return False
    if run.status == TriageRunStatus.QUEUED:
        now = timezone.now()
        TriageRun.objects.filter(pk=run_id, status=TriageRunStatus.QUEUED).update(
            status=TriageRunStatus.RUNNING, started_at=now, progressed_at=now
        )
    statuses = SCOPE_STATUSES[run.scope]
    ids = list(
        Mention.objects.filter(
            triage_status__in=statuses,
            id__gt=run.cursor_mention_id,
            id__lte=run.last_mention_id,
        )
        .order_by("id")
        .values_list("id", flat=True)[: run.batch_size]
    )
    if not ids:
        TriageRun.objects.filter(pk=run_id, status=TriageRunStatus.RUNNING).update(
            status=TriageRunStatus.DONE, finished_at=timezone.now()
        )
        return False
    result = mentions_triage(
        mention_ids=ids, statuses=statuses, actor_label=f"{ACTOR_LABEL} (run {run_id})"
    )
    results = Counter(run.results)
    results.update(result.by_status)
    results["skipped"] += result.skipped
    results["failed"] += result.failed
    done = run.done + len(ids)
    moved = TriageRun.objects.filter(
        pk=run_id, cursor_mention_id=run.cursor_mention_id
    ).update(
        cursor_mention_id=ids[-1],
        progressed_at=timezone.now(),
        done=done,
        # A mention that entered the scope after the start is done too.
        total=max(run.total, done),
        results={key: value for key, value in sorted(results.items()) if value},
    )
    return bool(moved)


def triage_runs_stalled(*, older_than: datetime) -> list[int]:
    """Runs whose task was lost: queued or running, and no batch done since then."""
    return list(
        TriageRun.objects.filter(
            status__in=(TriageRunStatus.QUEUED, TriageRunStatus.RUNNING)
        )
        .filter(
            Q(progressed_at__lt=older_than)
            | Q(progressed_at__isnull=True, created_at__lt=older_than)
        )
        .values_list("id", flat=True)
    )


def triage_run_fail(*, run_id: int, error: str) -> None:
    TriageRun.objects.filter(pk=run_id).exclude(status=TriageRunStatus.DONE).update(
        status=TriageRunStatus.FAILED,
        finished_at=timezone.now(),
        last_error=error[:2000],
    )
