"""Retention of platform records: a mention's raw payload is kept for a while only.

`Mention.raw` is the platform's whole record of a post (profile fields, places,
client, edits): needed to debug a connector or a triage decision soon after, not
for years. The text, author, counters and times that reports use stay.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..models import Mention

PURGE_BATCH_SIZE = 500
PURGE_TIME_BUDGET_SECONDS = 60.0


@dataclass
class PurgeResult:
    purged: int = 0
    batches: int = 0
    # False when the time budget ran out first: the next run goes on.
    finished: bool = True
    cutoff: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def mentions_purge_raw(
    *,
    now: datetime | None = None,
    batch_size: int = PURGE_BATCH_SIZE,
    time_budget: float = PURGE_TIME_BUDGET_SECONDS,
) -> PurgeResult:
    """Empty the raw payload of mentions first seen longer ago than the retention.

    Counted from `first_seen_at`, when we fetched the post: the retention is about
    how long we hold the payload, and a platform's own time may be missing or far
    off. `WEBCARE_RAW_RETENTION_DAYS` = 0 keeps payloads forever. Bounded batches,
    each its own short transaction (no lock held for long, a crash loses nothing),
    until none is left or the time budget is spent. Idempotent: an emptied payload
    is not selected again, and a rerun or an overlapping run finds nothing to do.
    """
    days = int(settings.WEBCARE_RAW_RETENTION_DAYS)
    if days <= 0:
        return PurgeResult()
    now = now or timezone.now()
    cutoff = now - timedelta(days=days)
    result = PurgeResult(cutoff=cutoff.isoformat())
    batch_size = max(1, batch_size)
    deadline = time.monotonic() + time_budget
    expired = Mention.objects.filter(first_seen_at__lt=cutoff).exclude(raw={})
    while True:
        ids = list(
            expired.order_by("first_seen_at", "id").values_list("pk", flat=True)[
                :batch_size
            ]
        )
        if not ids:
            break
        with transaction.atomic():
            # Filtered again: an edit stored meanwhile may have brought a new
            # payload in; it is older than the cutoff too, so emptying it is right.
            result.purged += expired.filter(pk__in=ids).update(raw={})
        result.batches += 1
        if len(ids) < batch_size:
            break
        if time.monotonic() >= deadline:
            result.finished = False
            break
    return result
