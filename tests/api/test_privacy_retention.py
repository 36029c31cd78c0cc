"""The REST platform keeps no copy of personal data longer than it needs: delivered
webhook payloads are emptied after the retention, expired idempotency keys go."""

from datetime import timedelta

import pytest
from django.utils import timezone

from webcare.api.models import (
    DeliveryStatus,
    IdempotencyKey,
    Webhook,
    WebhookDelivery,
)
from webcare.api.retention import api_records_purge
from webcare.api.tasks import purge_api_records

pytestmark = pytest.mark.django_db


@pytest.fixture
def webhook(crm):
    return Webhook.objects.create(
        client=crm.record, url="http://127.0.0.1:9/", events=["case.opened"]
    )


def delivery(webhook, *, status, delivered_days_ago=None):
    now = timezone.now()
    delivered_at = (
        now - timedelta(days=delivered_days_ago)
        if delivered_days_ago is not None
        else None
    )
    return WebhookDelivery.objects.create(
        webhook=webhook,
        event="case.opened",
        payload={"case": {"id": 1, "subject": "Mijn pinpas"}},
        status=status,
        attempts=1,
        delivered_at=delivered_at,
    )


def test_it_empties_old_delivered_payloads_and_keeps_the_rows(webhook, settings):
    settings.WEBCARE_WEBHOOK_PAYLOAD_RETENTION_DAYS = 30
    old = delivery(webhook, status=DeliveryStatus.DELIVERED, delivered_days_ago=31)
    recent = delivery(webhook, status=DeliveryStatus.DELIVERED, delivered_days_ago=2)
    failed = delivery(webhook, status=DeliveryStatus.FAILED)
    result = api_records_purge(batch_size=1)
    assert result.payloads_purged == 1 and result.finished
    old.refresh_from_db()
    assert old.payload == {}
    assert (old.status, old.attempts) == (DeliveryStatus.DELIVERED, 1)
    # A recent one is history still; a failed one may be retried by staff.
    assert WebhookDelivery.objects.get(pk=recent.pk).payload["case"]["id"] == 1
    assert WebhookDelivery.objects.get(pk=failed.pk).payload["case"]["id"] == 1
    assert api_records_purge().payloads_purged == 0


def test_it_deletes_idempotency_keys_past_their_ttl(crm):
    now = timezone.now()
    expired = IdempotencyKey.objects.create(
        client=crm.record,
        key="old",
        request_fingerprint="x",
        response_status=201,
        response_body={"id": 1, "text": "Mijn pinpas"},
        created_at=now - timedelta(hours=25),
    )
    live = IdempotencyKey.objects.create(
        client=crm.record,
        key="new",
        request_fingerprint="x",
        response_status=201,
        response_body={"id": 2},
        created_at=now - timedelta(hours=1),
    )
    assert purge_api_records()["keys_deleted"] == 1
    assert not IdempotencyKey.objects.filter(pk=expired.pk).exists()
    assert IdempotencyKey.objects.filter(pk=live.pk).exists()


def test_a_retention_of_zero_keeps_payloads(webhook, settings):
    settings.WEBCARE_WEBHOOK_PAYLOAD_RETENTION_DAYS = 0
    delivery(webhook, status=DeliveryStatus.DELIVERED, delivered_days_ago=400)
    assert api_records_purge().payloads_purged == 0
