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
import ipaddress
import json
import logging
import re
import secrets
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import F, Q
from django.utils import timezone

from webcare.api.models import DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent
from webcare.celery import enqueue_on_commit

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
# Of a failed delivery's response only this much text is kept: enough to see why,
# never a receiver's page or data.
ERROR_EXCERPT_CHARS = 200
NOT_TEXT = re.compile(r"[^\x20-\x7e\u00a0-\ud7ff\ue000-\ufffd]+")


def webhook_secret_new() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def is_deliverable_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


class UnsafeWebhookHost(ValueError):
    """The URL's host is, or resolves to, an address inside our own network."""


def _is_internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def _addresses(host: str) -> set[str]:
    """The host's addresses: itself for an IP literal, else a DNS lookup (which
    raises OSError when the name does not resolve)."""
    try:
        return {str(ipaddress.ip_address(host))}
    except ValueError:
        pass
    return {
        info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    }


def webhook_host_check(url: str, *, unresolved_ok: bool) -> None:
    """Refuse a URL whose host is, or resolves to, a loopback, private, link-local,
    multicast, reserved or unspecified address: a webhook must not let a client make
    our workers call the metadata service or an internal admin page. Allowed only
    with WEBCARE_WEBHOOK_ALLOW_PRIVATE_HOSTS (development, tests).

    A name that does not resolve raises OSError unless `unresolved_ok` (registration:
    the CRM's DNS may come later; every delivery resolves again and checks).
    """
    if settings.WEBCARE_WEBHOOK_ALLOW_PRIVATE_HOSTS:
        return
    host = urlsplit(url).hostname or ""
    try:
        addresses = _addresses(host)
    except (OSError, UnicodeError) as exc:
        if unresolved_ok:
            return
        raise OSError(f"{host} does not resolve") from exc
    internal = sorted(address for address in addresses if _is_internal(address))
    if internal:
        raise UnsafeWebhookHost(
            f"The host {host} is or resolves to an internal address "
            f"({', '.join(internal)}); webhooks are only delivered to public hosts."
        )


def webhook_url_problem(url: str) -> str | None:
    """Why a URL cannot be registered as a webhook, or None (API and admin)."""
    if not is_deliverable_url(url):
        return "Only http and https URLs."
    try:
        webhook_host_check(url, unresolved_ok=True)
    except UnsafeWebhookHost as exc:
        return str(exc)
    return None


def error_excerpt(response: httpx.Response) -> str:
    """A short, text-only excerpt of a failed delivery's (streamed) response; the
    rest of the body is never read."""
    content_type = response.headers.get("content-type", "").lower()
    if content_type and not (
        content_type.startswith("text/") or "json" in content_type
    ):
        return f"({content_type.split(';')[0].strip()[:50]} body not kept)"
    limit = ERROR_EXCERPT_CHARS * 4
    head = b""
    for chunk in response.iter_bytes():
        head += chunk
        if len(head) >= limit:
            break
    text = head[:limit].decode("utf-8", "replace")
    return " ".join(NOT_TEXT.sub(" ", text).split())[:ERROR_EXCERPT_CHARS]


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
        # Resolved again now: DNS may have changed since the URL was registered.
        try:
            webhook_host_check(webhook.url, unresolved_ok=False)
        except UnsafeWebhookHost as exc:
            error = f"Refused: {exc}"
            refused = True
        except OSError as exc:
            error = f"DNS: {exc}"[:1000]
    if not error:
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
        try:
            with client.stream(
                "POST", webhook.url, content=body, headers=headers
            ) as response:
                status_code = response.status_code
                if not 200 <= status_code < 300:
                    error = f"HTTP {status_code}: {error_excerpt(response)}".strip()
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:1000]
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
    return httpx.Client(timeout=TIMEOUT, follow_redirects=False)


def delivery_retry(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Staff's retry of a failed delivery: one more attempt, queued after commit."""
    WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.FAILED).update(
        status=DeliveryStatus.PENDING, next_attempt_at=None
    )
    enqueue_on_commit("webcare.api.tasks.deliver_webhook", delivery.pk)
    delivery.refresh_from_db()
    return delivery
