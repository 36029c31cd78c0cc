"""Celery tasks of the sources app: thin, take ids, call services."""

import logging

from celery import shared_task

from .services import (
    mentions_purge_raw,
    source_check_health,
    source_poll,
    source_reserve_due,
)

logger = logging.getLogger(__name__)

# The poll lease (WEBCARE_POLL_LEASE_SECONDS, 600 s) outlives the hard limit, so
# a killed poll's source is free again only once the worker is surely gone.
POLL_SOFT_TIME_LIMIT = 240
POLL_TIME_LIMIT = 300
MAX_RETRY_COUNTDOWN = 15 * 60


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=60)
def poll_due_sources() -> int:
    """Beat: queue one poll per due source (each reserved, so queued once)."""
    source_ids = source_reserve_due()
    for source_id in source_ids:
        poll_source.delay(source_id)
    return len(source_ids)


@shared_task(
    bind=True,
    ignore_result=True,
    max_retries=3,
    soft_time_limit=POLL_SOFT_TIME_LIMIT,
    time_limit=POLL_TIME_LIMIT,
)
def poll_source(self, source_id: int) -> dict:
    result = source_poll(source_id=source_id)
    # Transient failures (rate limit, timeout, 5xx) are retried after the wait
    # the API asked for, or with backoff; others wait for the next due poll.
    # In eager mode (no broker) a retry would run at once: the next due poll is
    # soon enough.
    retry = (
        result.transient
        and not self.request.is_eager
        and self.request.retries < self.max_retries
    )
    if retry:
        countdown = result.retry_after or 30 * 2**self.request.retries
        raise self.retry(countdown=min(countdown, MAX_RETRY_COUNTDOWN))
    return result.as_dict()


@shared_task(ignore_result=True, soft_time_limit=120, time_limit=150)
def check_source_health() -> dict:
    report = source_check_health()
    return {"alerted": report.alerted, "cleared": report.cleared}


@shared_task(ignore_result=True, soft_time_limit=240, time_limit=300)
def purge_raw_payloads() -> dict:
    """Beat: empty raw payloads past the retention, within a time budget well
    inside the time limit; what is left waits for the next run."""
    return mentions_purge_raw(time_budget=180.0).as_dict()
