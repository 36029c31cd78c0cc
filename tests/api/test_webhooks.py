"""Outbound webhooks against a real receiver on 127.0.0.1."""

import json
import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from tests.factories import CaseFactory
from tests.httpserver import Answer, LoopbackServer
from webcare import bus
from webcare.api import tasks as webhook_tasks
from webcare.api.models import DeliveryStatus, Webhook, WebhookDelivery
from webcare.api.tasks import deliver_webhook, retry_webhook_deliveries
from webcare.api.webhooks import (
    MAX_ATTEMPTS,
    backoff,
    sign,
    verify,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    server = LoopbackServer()
    yield server
    server.close()


@pytest.fixture
def hook(crm, receiver):
    return Webhook.objects.create(
        client=crm.record,
        url=f"{receiver.url}/hooks",
        events=["case.opened", "case.resolved"],
        secret="whsec_test",
    )


def test_the_signature_is_hmac_sha256_over_timestamp_and_body():
    body = b'{"a":1}'
    header = sign(secret="s3cret", timestamp=1700000000, body=body)
    assert header == (
        "t=1700000000,v1="
        + __import__("hmac").new(b"s3cret", b"1700000000." + body, "sha256").hexdigest()
    )
    now = int(time.time())
    assert verify(
        secret="s3cret",
        header=sign(secret="s3cret", timestamp=now, body=body),
        body=body,
    )
    assert not verify(
        secret="other",
        header=sign(secret="s3cret", timestamp=now, body=body),
        body=body,
    )
    assert not verify(secret="s3cret", header=header, body=body)  # too old


def test_an_event_is_queued_only_after_commit_and_never_in_the_request(
    hook, receiver, django_capture_on_commit_callbacks
):
    receiver.add("/hooks", 200, method="POST")
    case = CaseFactory()
    with (
        django_capture_on_commit_callbacks(execute=False) as callbacks,
        transaction.atomic(),
    ):
        bus.publish(bus.CaseOpened(case_id=case.pk))
        bus.publish(bus.CaseAssigned(case_id=case.pk))  # not subscribed
    delivery = WebhookDelivery.objects.get()
    assert (delivery.event, delivery.status) == ("case.opened", DeliveryStatus.PENDING)
    assert receiver.requests == [] and len(callbacks) == 1
    callbacks[0]()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED


def test_a_rolled_back_change_sends_nothing(hook, receiver):
    case = CaseFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        bus.publish(bus.CaseOpened(case_id=case.pk))
        raise RuntimeError("the change failed")
    assert not WebhookDelivery.objects.exists()
    assert receiver.requests == []


def test_a_delivery_is_signed_and_logged(
    hook, receiver, django_capture_on_commit_callbacks
):
    receiver.add("/hooks", 204, method="POST")
    case = CaseFactory(subject="Pas kwijt")
    with django_capture_on_commit_callbacks(execute=True):
        bus.publish(bus.CaseOpened(case_id=case.pk))
    [request] = receiver.requests
    assert verify(
        secret="whsec_test",
        header=request.headers["x-webcare-signature"],
        body=request.body,
    )
    body = json.loads(request.body)
    assert body["event"] == "case.opened"
    assert body["data"]["case"]["id"] == case.pk
    assert body["data"]["case"]["subject"] == "Pas kwijt"
    assert request.headers["x-webcare-event"] == "case.opened"
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert (delivery.attempts, delivery.last_status_code) == (1, 204)
    assert request.headers["x-webcare-delivery"] == str(delivery.pk)


def test_failures_are_retried_with_exponential_backoff(hook, receiver):
    receiver.add(
        "/hooks", [Answer(500, b"down"), Answer(503), Answer(200)], method="POST"
    )
    delivery = WebhookDelivery.objects.create(
        webhook=hook, event="case.opened", payload={"case": {"id": 1}}
    )
    deliver_webhook(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        DeliveryStatus.PENDING,
        1,
        500,
    )
    assert "down" in delivery.last_error
    wait = delivery.next_attempt_at - timezone.now()
    assert timedelta(seconds=25) < wait <= timedelta(seconds=30)
    # Not due yet: neither the sweeper nor a stray task posts again.
    assert retry_webhook_deliveries() == 0
    deliver_webhook(delivery.pk)
    assert len(receiver.requests) == 1

    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now()
    )
    assert retry_webhook_deliveries() == 1
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_status_code) == (2, 503)
    assert delivery.next_attempt_at - timezone.now() > timedelta(seconds=55)

    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=timezone.now()
    )
    retry_webhook_deliveries()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 3)
    assert len(receiver.requests) == 3
    assert backoff(1) == timedelta(seconds=30)
    assert backoff(4) == timedelta(seconds=240)
    assert backoff(30) == timedelta(hours=1)


def test_the_sweeper_delivers_an_event_whose_first_message_was_lost(
    hook, receiver, django_capture_on_commit_callbacks
):
    receiver.add("/hooks", 200, method="POST")
    case = CaseFactory()
    # The change commits but its queued message never reaches a worker.
    with django_capture_on_commit_callbacks(execute=False):
        bus.publish(bus.CaseOpened(case_id=case.pk))
    delivery = WebhookDelivery.objects.get()
    assert delivery.next_attempt_at is None
    # Just queued: its own message goes first.
    assert retry_webhook_deliveries() == 0
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - timedelta(minutes=2)
    )
    assert retry_webhook_deliveries() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1)
    assert len(receiver.requests) == 1


def test_after_the_last_attempt_a_delivery_fails(hook, receiver):
    receiver.add("/hooks", 500, method="POST")
    delivery = WebhookDelivery.objects.create(
        webhook=hook, event="case.opened", payload={}, attempts=MAX_ATTEMPTS - 1
    )
    deliver_webhook(delivery.pk)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, MAX_ATTEMPTS)
    assert delivery.next_attempt_at is None


def test_an_unreachable_receiver_is_a_retry_not_a_crash(hook):
    Webhook.objects.filter(pk=hook.pk).update(url="http://127.0.0.1:9/hooks")
    delivery = WebhookDelivery.objects.create(
        webhook=hook, event="case.opened", payload={}
    )
    deliver_webhook(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert "ConnectError" in delivery.last_error


def test_with_a_broker_a_retry_is_queued_with_its_countdown(
    hook, receiver, monkeypatch
):
    receiver.add("/hooks", 500, method="POST")
    queued = []
    monkeypatch.setitem(webhook_tasks.current_app.conf, "task_always_eager", False)
    monkeypatch.setattr(
        webhook_tasks.deliver_webhook,
        "apply_async",
        lambda args, countdown: queued.append((args, countdown)),
    )
    delivery = WebhookDelivery.objects.create(
        webhook=hook, event="case.opened", payload={}
    )
    deliver_webhook(delivery.pk)
    [(args, countdown)] = queued
    assert args == (delivery.pk,)
    assert 25 < countdown <= 30


def test_the_crm_registers_a_webhook_and_sees_the_secret_once(
    crm, receiver, django_capture_on_commit_callbacks
):
    response = crm.post(
        "/api/v1/webhooks/",
        {"url": f"{receiver.url}/in", "events": ["case.opened", "case.opened"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    secret = response.json()["secret"]
    hook = Webhook.objects.get()
    assert hook.secret == secret and hook.client == crm.record
    assert hook.events == ["case.opened"]
    assert "secret" not in crm.get(f"/api/v1/webhooks/{hook.pk}/").json()
    for url in ("ftp://127.0.0.1/x", "file:///etc/passwd", "javascript:alert(1)"):
        bad = crm.post(
            "/api/v1/webhooks/", {"url": url, "events": ["case.opened"]}, format="json"
        )
        assert bad.status_code == 400, url

    # Opening a case through the API delivers a signed case.opened.
    receiver.add("/in", 200, method="POST")
    with django_capture_on_commit_callbacks(execute=True):
        crm.post("/api/v1/cases/", {"subject": "Storing"}, format="json")
    [request] = receiver.requests_to("/in")
    assert verify(
        secret=secret, header=request.headers["x-webcare-signature"], body=request.body
    )
    log = crm.get(f"/api/v1/webhooks/{hook.pk}/deliveries/").json()["results"]
    assert [(row["event"], row["status"]) for row in log] == [
        ("case.opened", "delivered")
    ]


def test_a_client_sees_only_its_own_webhooks(crm, make_crm, receiver):
    other = make_crm(("read", "write"), name="other")
    Webhook.objects.create(
        client=other.record, url=receiver.url, events=["case.opened"], secret="x"
    )
    assert crm.get("/api/v1/webhooks/").json()["results"] == []
    assert crm.get("/api/v1/webhook-deliveries/").json()["results"] == []


def test_staff_retry_a_failed_delivery_from_the_admin(
    admin_client, hook, receiver, django_capture_on_commit_callbacks
):
    receiver.add("/hooks", 200, method="POST")
    delivery = WebhookDelivery.objects.create(
        webhook=hook,
        event="case.opened",
        payload={},
        status="failed",
        attempts=MAX_ATTEMPTS,
    )
    page = admin_client.get("/admin/api/webhookdelivery/")
    assert page.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/admin/api/webhookdelivery/",
            {"action": "retry", "_selected_action": [delivery.pk]},
        )
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert len(receiver.requests) == 1
