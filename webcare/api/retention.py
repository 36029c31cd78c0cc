"""Retention of the REST platform's copies of personal data.

A webhook delivery keeps its payload (a case's subject, a survey's comment) so a
failed delivery can be retried; once delivered, the payload is only history. A
stored idempotent answer is replayed for `idempotency.TTL`; after that it is never
read again (a retry takes the key over). Neither is kept longer than that: the rows
of deliveries stay (counts, statuses, times), expired keys go.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webcare.api.idempotency import TTL
from webcare.api.models import DeliveryStatus, IdempotencyKey, WebhookDelivery

PURGE_BATCH_SIZE = 500


@dataclass
class ApiPurgeResult:
    payloads_purged: int = 0
    keys_deleted: int = 0
    # False when the time budget ran out first: the next run goes on.
    finished: bool = True

    def as_dict(self) -> dict:
        return asdict(self)


def api_records_purge(
    *,
    now: datetime | None = None,
    batch_size: int = PURGE_BATCH_SIZE,
    time_budget: float = 60.0,
) -> ApiPurgeResult:
    """Empty the payloads of deliveries delivered longer ago than
    `WEBCARE_WEBHOOK_PAYLOAD_RETENTION_DAYS` (0 keeps them) and delete idempotency
    keys past their TTL. Bounded batches, each its own short transaction;
    idempotent (an emptied payload or a deleted key is not selected again)."""
    now = now or timezone.now()
    result = ApiPurgeResult()
    deadline = time.monotonic() + time_budget
    batch_size = max(1, batch_size)
    days = int(settings.WEBCARE_WEBHOOK_PAYLOAD_RETENTION_DAYS)
    batches = []
    if days > 0:
        delivered = WebhookDelivery.objects.filter(
            status=DeliveryStatus.DELIVERED,
            delivered_at__lt=now - timedelta(days=days),
        ).exclude(payload={})
        batches.append(("payloads_purged", delivered, {"payload": {}}))
    expired = IdempotencyKey.objects.filter(created_at__lt=now - TTL)
    batches.append(("keys_deleted", expired, None))
    for counter, queryset, values in batches:
        while True:
            ids = list(
                queryset.order_by("pk").values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                break
            with transaction.atomic():
                # Filtered again: a key taken over meanwhile is young again.
                rows = queryset.filter(pk__in=ids)
                done = rows.update(**values) if values else rows.delete()[0]
            setattr(result, counter, getattr(result, counter) + done)
            if len(ids) < batch_size:
                break
            if time.monotonic() >= deadline:
                result.finished = False
                return result
    return result
