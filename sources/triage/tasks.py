"""Celery tasks of triage: thin, take ids, safe to run twice (state-guarded).

Autodiscovery finds only <app>.tasks, so settings list this module in
CELERY_IMPORTS; the explicit names keep them stable if the module moves.
"""

import logging
import time
from datetime import timedelta

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from .services import (
    DRY_RUN_TIME_BUDGET,
    TriageError,
    mentions_pending,
    mentions_triage,
    rule_dry_run_execute,
    rule_dry_run_fail,
    triage_run_fail,
    triage_run_step,
    triage_runs_stalled,
)

logger = logging.getLogger(__name__)

# A run works in batches for about this long, then queues its own continuation,
# so no single task comes near the time limit.
RUN_TIME_BUDGET_SECONDS = 60


@shared_task(
    name="sources.triage.tasks.triage_mentions",
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=8,
)
def triage_mentions(mention_ids: list[int]) -> dict:
    """Triage newly stored mentions (queued by mentions_store after commit)."""
    result = mentions_triage(mention_ids=mention_ids)
    return {
        "triaged": result.triaged,
        "skipped": result.skipped,
        "failed": result.failed,
    }


@shared_task(name="sources.triage.tasks.triage_pending")
def triage_pending() -> dict:
    """Safety net for lost tasks: mentions still pending a minute after arrival, and
    triage runs with no batch done for five minutes (a run re-queues itself after
    each minute of work, so a quiet one lost its message)."""
    now = timezone.now()
    for run_id in triage_runs_stalled(older_than=now - timedelta(minutes=5)):
        retriage.delay(run_id)
    ids = mentions_pending(older_than=now - timedelta(minutes=1))
    if not ids:
        return {"triaged": 0, "skipped": 0, "failed": 0}
    return triage_mentions(ids)


@shared_task(
    name="sources.triage.tasks.retriage",
    autoretry_for=(OperationalError,),
    retry_backoff=5,
    max_retries=8,
)
def retriage(run_id: int) -> None:
    """Re-run triage over a TriageRun's mentions in bounded batches."""
    deadline = time.monotonic() + RUN_TIME_BUDGET_SECONDS
    try:
        while triage_run_step(run_id=run_id):
            if time.monotonic() > deadline:
                retriage.delay(run_id)
                return
    except TriageError as error:
        # A broken rule: staff see it on the run and fix the rule.
        triage_run_fail(run_id=run_id, error=str(error))
    except OperationalError:
        raise
    except Exception as error:
        logger.exception("triage run %s failed", run_id)
        triage_run_fail(run_id=run_id, error=f"{type(error).__name__}: {error}")


@shared_task(
    name="sources.triage.tasks.rule_dry_run",
    # Above the service's own budget, so it stops first with a clear message.
    soft_time_limit=DRY_RUN_TIME_BUDGET + 60,
    time_limit=DRY_RUN_TIME_BUDGET + 90,
)
def rule_dry_run(dry_run_id: int) -> None:
    """Preview a rule over the last mentions (queued by the admin's dry run)."""
    try:
        rule_dry_run_execute(dry_run_id=dry_run_id)
    except Exception as error:
        # Staff start another preview; a retry could only repeat the failure.
        logger.exception("rule dry run %s failed", dry_run_id)
        rule_dry_run_fail(
            dry_run_id=dry_run_id, error=f"{type(error).__name__}: {error}"
        )
