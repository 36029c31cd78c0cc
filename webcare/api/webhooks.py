"""Outbound webhooks: tell the CRM when something changes, without ever blocking.

The apps' `api` modules call `webhook_event(...)` from their handlers of domain
events (webcare.bus), inside the transaction of the change. It writes one
WebhookDelivery row per subscribed webhook and queues `deliver_webhook` only after
commit, so a rolled-back change sends nothing and the request never waits for the CRM.
Each delivery is signed: `X-Webcare-Signature: t=<unix time>,v1=<hex>` where hex is
HMAC-SHA256(secret, f"{t}.{body}"); the receiver recomputes it and rejects old `t`.
"""

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import F, Q
from django.utils import timezone

from webcare import outbound
from webcare.api.models import DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent
from webcare.celery import enqueue_on_commit
from webcare.outbound import error_excerpt

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Webcare-Signature"
MAX_ATTEMPTS = 8
# 30 s, 1 min, 2 min ... 32 min: about an hour of retries, then the delivery fails.
# settings.WEBCARE_WEBHOOK_BACKOFF_SECONDS is the base.
BACKOFF_MAX = timedelta(hours=1)
TIMEOUT = httpx.Timeout(10.0, connect=3.0)
# A claimed delivery is not claimed again before this, so two workers (a retry and
# the sweeper) never post the same delivery at once.
CLAIM_LEASE = timedelta(seconds=60)
SWEEP_BATCH = 100


def webhook_secret_new() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def is_deliverable_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def webhook_url_problem(url: str) -> str | None:
    """Why a URL cannot be registered as a webhook, or None (API and admin)."""
    if not is_deliverable_url(url):
        return "Only http and https URLs."
    # A webhook must not make our workers call an internal address; checked
    # again at every delivery (webcare.outbound).
    return outbound.url_problem(url)


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(*, secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """What a receiver does; here for tests and as the reference for CRM developers."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
        signature = fields["v1"]
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = sign(secret=secret, timestamp=timestamp, body=body)
    return hmac.compare_digest(expected, f"t={timestamp},v1={signature}")


def backoff(attempts: int) -> timedelta:
    """The wait after the n-th failed attempt: doubling from the base, capped."""
    base = settings.WEBCARE_WEBHOOK_BACKOFF_SECONDS
    return min(timedelta(seconds=base) * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)


def webhook_event(*, event: str, data: dict | Callable[[], dict]) -> None:
    """Record a delivery for every active webhook subscribed to `event`; queue them
    after commit. Call inside the transaction of the change. `data` is the payload,
    or a function that builds it, called only when some webhook wants the event."""
    if event not in WebhookEvent.values:
        raise ValueError(f"Unknown webhook event: {event}")
    # The table is small (a few CRMs); filtering the JSON list in Python keeps this
    # the same on SQLite and PostgreSQL.
    webhooks = [
        webhook
        for webhook in Webhook.objects.filter(
            is_active=True, client__is_active=True, client__revoked_at__isnull=True
        )
        if event in webhook.events
    ]
    if not webhooks:
        return
    if callable(data):
        data = data()
    payload = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(webhook=webhook, event=event, payload=payload, created_at=now)
        for webhook in webhooks
    )
    for delivery in deliveries:
        enqueue_on_commit("webcare.api.tasks.deliver_webhook", delivery.pk)


def delivery_body(delivery: WebhookDelivery) -> bytes:
    envelope = {
        "id": delivery.pk,
        "event": delivery.event,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.payload,
    }
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode()


def delivery_claim(*, delivery_id: int) -> WebhookDelivery | None:
    """Take a pending, due delivery for one attempt, or None if another worker has it."""
    now = timezone.now()
    # A little early is fine: a countdown may fire just before next_attempt_at.
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING)
        .filter(
            Q(next_attempt_at__isnull=True)
            | Q(next_attempt_at__lte=now + timedelta(seconds=5))
        )
        .update(next_attempt_at=now + CLAIM_LEASE)
    )
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)


def delivery_attempt(*, delivery: WebhookDelivery, client: httpx.Client) -> bool:
    """Post once and record the outcome; True when delivered. No transaction is
    held open while the CRM answers."""
    webhook = delivery.webhook
    status_code = None
    error = ""
    refused = False
    if not webhook.is_active:
        error = "Webhook is inactive."
    elif not is_deliverable_url(webhook.url):
        error = "Only http and https URLs are delivered."
        refused = True
    else:
        body = delivery_body(delivery)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "webcare-webhooks/1",
            "X-Webcare-Event": delivery.event,
            "X-Webcare-Delivery": str(delivery.pk),
            SIGNATURE_HEADER: sign(
                secret=webhook.secret, timestamp=int(time.time()), body=body
            ),
        }
        # The client's transport resolves the host again now (DNS may have changed
        # since registration) and refuses an internal address before connecting.
        # Of the answer only a bounded excerpt of an error is ever read.
        try:
            with client.stream(
                "POST", webhook.url, content=body, headers=headers
            ) as response:
                status_code = response.status_code
                if not 200 <= status_code < 300:
                    error = f"HTTP {status_code}: {error_excerpt(response)}".strip()
        except outbound.HostRefused as exc:
            error = f"Refused: {exc}"
            refused = True
        except outbound.HostUnresolvable as exc:
            error = f"DNS: {exc}"
        except httpx.HTTPError as exc:
            error = outbound.excerpt(f"{type(exc).__name__}: {exc}", 1000)
    now = timezone.now()
    attempts = delivery.attempts + 1
    fields = {
        "attempts": F("attempts") + 1,
        "last_status_code": status_code,
        "last_error": error,
    }
    if not error:
        fields.update(status=DeliveryStatus.DELIVERED, delivered_at=now)
        fields["next_attempt_at"] = None
    elif refused or attempts >= MAX_ATTEMPTS or not webhook.is_active:
        fields.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    else:
        fields["next_attempt_at"] = now + backoff(attempts)
    WebhookDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING
    ).update(**fields)
    delivery.refresh_from_db()
    if error:
        logger.warning(
            "Webhook delivery %s to %s failed (attempt %s): %s",
            delivery.pk,
            webhook.url,
            attempts,
            error,
        )
    return not error


def http_client() -> httpx.Client:
    # No redirects: a 3xx must not turn a delivery into a request somewhere else.
    return outbound.public_client(timeout=TIMEOUT)


def delivery_retry(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Staff's retry of a failed delivery: one more attempt, queued after commit."""
    WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.FAILED).update(
        status=DeliveryStatus.PENDING, next_attempt_at=None
    )
    enqueue_on_commit("webcare.api.tasks.deliver_webhook", delivery.pk)
    delivery.refresh_from_db()
    return delivery
