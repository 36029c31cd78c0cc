"""Webhook deliveries: one attempt per task, and the sweep that retries what is due."""

from celery import current_app, shared_task
from django.db.models import F, Q
from django.utils import timezone

from webcare.api.models import DeliveryStatus, WebhookDelivery
from webcare.api.retention import api_records_purge
from webcare.api.webhooks import (
    CLAIM_LEASE,
    SWEEP_BATCH,
    delivery_attempt,
    delivery_claim,
    http_client,
)


# The names are the ones these tasks had in the cases app, so that messages queued
# by a deployment of the old layout (retries up to an hour ahead) still find them.
@shared_task(name="cases.webhooks.deliver_webhook", ignore_result=True)
def deliver_webhook(delivery_id: int) -> None:
    delivery = delivery_claim(delivery_id=delivery_id)
    if delivery is None:
        return
    with http_client() as client:
        delivered = delivery_attempt(delivery=delivery, client=client)
    if delivered or delivery.status != DeliveryStatus.PENDING:
        return
    # Eager mode (no broker) would run a countdown at once; the sweeper retries then.
    if not current_app.conf.task_always_eager:
        countdown = max((delivery.next_attempt_at - timezone.now()).total_seconds(), 0)
        deliver_webhook.apply_async((delivery.pk,), countdown=countdown)


@shared_task(name="cases.webhooks.retry_webhook_deliveries", ignore_result=True)
def retry_webhook_deliveries() -> int:
    """Deliver pending deliveries that are due: retries whose queued message was lost
    (a worker restart), and every retry when tasks run eagerly."""
    now = timezone.now()
    due = list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING)
        .filter(
            Q(next_attempt_at__lte=now)
            # Never attempted: its first message was lost (or never reached the
            # broker). Left alone for a lease, so the message in flight goes first.
            | Q(next_attempt_at__isnull=True, created_at__lte=now - CLAIM_LEASE)
        )
        .order_by(F("next_attempt_at").asc(nulls_first=True), "created_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)


@shared_task(ignore_result=True, soft_time_limit=240, time_limit=300)
def purge_api_records() -> dict:
    """Beat: delivered webhook payloads past their retention and expired
    idempotency keys, within a time budget well inside the time limit."""
    return api_records_purge(time_budget=180.0).as_dict()
