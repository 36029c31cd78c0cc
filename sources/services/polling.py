"""Polling sources: reserving due ones, leased polls, PollResult, health records."""

from __future__ import annotations

import logging
import traceback
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.utils import InterfaceError, OperationalError
from django.utils import timezone
from django.utils.translation import gettext as _

from webcare import outbound
from webcare.celery import enqueue_on_commit
from webcare.errors import ServiceError

from ..connectors import (
    Connector,
    ConnectorError,
    RetryPolicy,
    TransientError,
    build_client,
    connector_for,
)
from ..connectors.base import NOT_SECRET
from ..models import Source, SourceKind
from .common import FAILURE_SAMPLE_LIMIT
from .mentions import mentions_store

logger = logging.getLogger(__name__)
# Of a failed poll only this much is kept in Source.last_error.
MAX_ERROR_CHARS = 500


@dataclass
class PollResult:
    fetched: int = 0
    new: int = 0
    updated: int = 0
    failed: int = 0
    not_modified: bool = False
    error: str = ""
    # False when the source was inactive, missing or being polled by another worker.
    claimed: bool = True
    # Set for a transient failure (rate limit, timeout, 5xx): worth retrying.
    transient: bool = False
    retry_after: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> dict[str, Any]:
        """What the source page shows of the last poll."""
        return {
            "fetched": self.fetched,
            "new": self.new,
            "updated": self.updated,
            "failed": self.failed,
            "not_modified": self.not_modified,
        }


class _LeaseLost(Exception):
    """Another worker took the source over (our lease ran out)."""


def source_reserve_due(*, now: datetime | None = None) -> list[int]:
    """Ids of due sources, each reserved so a slow queue does not get it twice.

    The reservation moves next_poll_at one lease ahead with a conditional
    UPDATE; a poll that never runs (lost message) is retried after that.
    """
    now = now or timezone.now()
    lease = timedelta(seconds=int(settings.WEBCARE_POLL_LEASE_SECONDS))
    _expired_leases_record(now=now)
    reserved = []
    for source_id in Source.objects.due(now).values_list("pk", flat=True):
        if (
            Source.objects.due(now)
            .filter(pk=source_id)
            .update(next_poll_at=now + lease)
        ):
            reserved.append(source_id)
    return reserved


def source_poll_request(*, source_id: int) -> bool:
    """Queue a poll of the source now (staff's "Poll now"); False if one is
    already queued and not yet started.

    The poll runs in a worker, never in the web request: a slow feed would
    hold the request (and the lease) past the web server's timeout. The time
    of the request is kept so the source page can show the poll queued,
    running, and its outcome.
    """
    now = timezone.now()
    lease = timedelta(seconds=int(settings.WEBCARE_POLL_LEASE_SECONDS))
    source = Source.objects.filter(pk=source_id).only("name", "kind", "is_active")
    source = source.first()
    if source is None:
        raise ServiceError(_("This source no longer exists."))
    if not source.is_active:
        raise ServiceError(_("%(source)s is not active.") % {"source": source.name})
    if source.kind == SourceKind.MANUAL:
        raise ServiceError(
            _("%(source)s receives pushed mentions; it is not polled.")
            % {"source": source.name}
        )
    with transaction.atomic():
        # One queued poll at a time: a request older than a lease, or one a poll
        # has started on since, no longer counts (a lost task is asked again).
        requested = (
            Source.objects.filter(pk=source_id)
            .filter(
                Q(poll_requested_at__isnull=True)
                | Q(poll_requested_at__lte=now - lease)
                | Q(poll_started_at__gte=F("poll_requested_at"))
            )
            .update(poll_requested_at=now)
        )
        if requested:
            enqueue_on_commit("sources.tasks.poll_source", source_id)
    return bool(requested)


def source_poll(*, source_id: int) -> PollResult:
    """Fetch what a source published since its cursor, store it, record health.

    The source is claimed with a lease first (a conditional UPDATE of
    locked_until), so two workers never poll one source at once. Each page is
    stored before its cursor is saved: a crash re-fetches, never skips. Errors
    are recorded on the source, never raised: one broken source stops nothing.
    """
    started = timezone.now()
    lease_until = started + timedelta(seconds=int(settings.WEBCARE_POLL_LEASE_SECONDS))
    _expired_leases_record(now=started, source_id=source_id)
    claimed = (
        Source.objects.filter(pk=source_id, is_active=True)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=started))
        .update(locked_until=lease_until, poll_started_at=started)
    )
    if not claimed:
        return PollResult(
            claimed=False, error="inactive, missing, or being polled by another worker"
        )
    source = Source.objects.get(pk=source_id)
    credentials = dict(settings.WEBCARE_CONNECTOR_CREDENTIALS.get(source.kind) or {})
    result = PollResult()
    try:
        _poll_pages(source, credentials, lease_until, result)
    except _LeaseLost:
        logger.warning("source %s: lease lost during the poll", source_id)
        result.error = "lease lost: another worker took the source over"
        return result
    except TransientError as error:
        result.error = _safe_message(str(error), credentials)
        result.transient = True
        result.retry_after = error.retry_after
    except ConnectorError as error:
        result.error = _safe_message(str(error), credentials)
    except (InterfaceError, OperationalError) as error:
        # A dropped connection (restarted server or pooler, terminated backend).
        # The cursor is still before the page under way: the next poll fetches it.
        # Not the source's fault: transient, so the task tries again in 30 s
        # rather than after the source's backoff (twice its interval).
        detail = _safe_message(str(error), credentials)[:200]
        result.error = f"database error ({type(error).__name__}): {detail}"
        result.transient = True
    except Exception as error:
        # Includes Celery's soft time limit: the lease is still released below.
        # The traceback is logged redacted: credentials never reach the logs.
        trace = "".join(traceback.format_exception(error))
        logger.error(
            "source %s: poll failed\n%s", source_id, _redact(trace, credentials)
        )
        detail = _safe_message(str(error), credentials)[:200]
        result.error = f"internal error ({type(error).__name__}): {detail}"
    if result.error:
        logger.warning("source %s: poll failed: %s", source_id, result.error)
    try:
        _health_record(source, lease_until, result)
    except (InterfaceError, OperationalError):
        # The connection died under the poll. Django reconnects only once it is
        # closed; unrecorded, the source would stay locked until its lease ran
        # out. Inside a caller's transaction the caller must see the error.
        if connection.in_atomic_block:
            raise
        logger.warning("source %s: database connection lost; reconnecting", source_id)
        connection.close()
        _health_record(source, lease_until, result)
    return result


def _expired_leases_record(*, now: datetime, source_id: int | None = None) -> int:
    """Record a poll whose lease ran out as a failure, and free its source.

    A poll releases its lease even when it fails or hits the soft time limit;
    one that did not was stopped from outside (the hard time limit, a killed
    worker or web process). Without this, nothing would say so: the source
    just stayed locked. Conditional on the lease seen, so a poll that claims
    the source meanwhile is never overwritten.
    """
    expired = Source.objects.filter(locked_until__lt=now)
    if source_id is not None:
        expired = expired.filter(pk=source_id)
    recorded = 0
    for pk, locked_until, started_at in expired.values_list(
        "pk", "locked_until", "poll_started_at"
    ):
        since = f" (started {started_at:%Y-%m-%d %H:%M:%S} UTC)" if started_at else ""
        recorded += Source.objects.filter(pk=pk, locked_until=locked_until).update(
            locked_until=None,
            last_polled_at=now,
            consecutive_failures=F("consecutive_failures") + 1,
            last_error=(
                f"the poll{since} did not finish: it was stopped before it could "
                "record its outcome (time limit or worker killed)"
            ),
            last_poll_result={},
        )
    if recorded:
        logger.warning("%s poll(s) did not finish; recorded as failures", recorded)
    return recorded


def _poll_pages(
    source: Source, credentials: dict, lease_until: datetime, result: PollResult
) -> None:
    connector_class = connector_for(source.kind)
    retry = RetryPolicy(attempts=max(1, int(settings.WEBCARE_POLL_HTTP_ATTEMPTS)))
    # The environment's credentials go only to their kind's API host, never
    # to whatever host Source.url names (see Connector.credentials_for).
    allowed, withheld_note = connector_class.credentials_for(
        url=source.url, credentials=credentials
    )
    try:
        with build_client() as client:
            _fetch_and_store(
                source,
                connector_class(
                    query=source.query,
                    url=source.url,
                    cursor=source.cursor,
                    credentials=allowed,
                    client=client,
                    keywords=source.keyword_list,
                    max_pages=int(settings.WEBCARE_POLL_MAX_PAGES),
                    retry=retry,
                ),
                lease_until,
                result,
            )
    except ConnectorError as error:
        # A private forum answering 403 to an anonymous poll: say why it was.
        if withheld_note:
            error.args = (f"{error} ({withheld_note})",)
        raise


def _fetch_and_store(
    source: Source, connector: Connector, lease_until: datetime, result: PollResult
) -> None:
    pages_seen = 0
    all_not_modified = True
    for page in connector.fetch():
        pages_seen += 1
        all_not_modified = all_not_modified and page.not_modified
        stored = mentions_store(source=source, items=page.items)
        result.fetched += len(page.items)
        result.new += stored.new
        result.updated += stored.updated
        result.failed += stored.failed + len(page.parse_failures)
        for failure in page.parse_failures[:FAILURE_SAMPLE_LIMIT]:
            logger.warning("source %s: %s", source.pk, failure)
        # Only now that the page's items are stored may the cursor pass them,
        # and never past an item the store refused: the next poll offers it again.
        cursor = connector.cursor_after_store(page, stored.refused_ids)
        saved = Source.objects.filter(pk=source.pk, locked_until=lease_until).update(
            cursor=cursor,
            parse_failures=F("parse_failures") + len(page.parse_failures),
        )
        if not saved:
            raise _LeaseLost
    result.not_modified = pages_seen > 0 and all_not_modified


def _health_record(source: Source, lease_until: datetime, result: PollResult) -> None:
    now = timezone.now()
    interval = source.poll_interval
    fields: dict[str, Any] = {
        "locked_until": None,
        "last_polled_at": now,
        "last_poll_result": result.summary(),
    }
    if result.error:
        failures = source.consecutive_failures + 1
        backoff = min(
            interval * (2 ** min(failures, 20)),
            timedelta(seconds=int(settings.WEBCARE_POLL_MAX_BACKOFF_SECONDS)),
        )
        backoff = max(backoff, interval)
        if result.retry_after:
            backoff = max(backoff, timedelta(seconds=min(result.retry_after, 86400)))
        fields.update(
            consecutive_failures=failures,
            last_error=result.error[:1000],
            next_poll_at=now + backoff,
        )
    else:
        fields.update(
            consecutive_failures=0,
            last_error="",
            last_success_at=now,
            next_poll_at=now + interval,
        )
    # Guarded by our lease: a worker that lost it must not overwrite the new owner.
    Source.objects.filter(pk=source.pk, locked_until=lease_until).update(**fields)


def _redact(text: str, credentials: dict) -> str:
    for key, value in credentials.items():
        # The API base URL is no secret, and a message naming it must stay readable.
        if key not in NOT_SECRET and value and len(str(value)) >= 4:
            text = text.replace(str(value), "[redacted]")
    return text


def _safe_message(message: str, credentials: dict) -> str:
    # Staff read it in the admin; a third party's part of it is already an excerpt.
    message = outbound.excerpt(_redact(message, credentials), MAX_ERROR_CHARS)
    return message or "unknown error"
