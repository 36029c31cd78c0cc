"""Webhooks are delivered to public hosts only: refused at registration and at delivery."""

import gzip
import socket
import tracemalloc

import httpx
import pytest

from tests.httpserver import Answer, LoopbackServer
from webcare import outbound
from webcare.api.models import DeliveryStatus, Webhook, WebhookDelivery
from webcare.api.tasks import deliver_webhook
from webcare.api.webhooks import error_excerpt

pytestmark = pytest.mark.django_db


@pytest.fixture
def private_hosts_refused(settings):
    settings.WEBCARE_ALLOW_PRIVATE_HOSTS = False


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hooks",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://localhost:8000/hooks",
    ],
)
def test_it_refuses_to_register_an_internal_host(crm, private_hosts_refused, url):
    response = crm.post(
        "/api/v1/webhooks/", {"url": url, "events": ["case.opened"]}, format="json"
    )
    assert response.status_code == 400
    assert "internal address" in response.json()["url"][0]
    assert not Webhook.objects.exists()


def test_a_public_address_is_registered(crm, private_hosts_refused):
    # An IP literal: no DNS lookup, and nothing is sent at registration.
    response = crm.post(
        "/api/v1/webhooks/",
        {"url": "https://93.184.215.14/hooks", "events": ["case.opened"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Webhook.objects.get().url == "https://93.184.215.14/hooks"


def test_the_admin_refuses_an_internal_host(admin_client, crm, private_hosts_refused):
    response = admin_client.post(
        "/admin/api/webhook/add/",
        {
            "client": crm.record.pk,
            "url": "http://169.254.169.254/",
            "events": ["case.opened"],
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "internal address" in response.content.decode()
    assert not Webhook.objects.exists()


def test_a_delivery_to_a_host_resolving_to_loopback_is_refused_unsent(
    crm, private_hosts_refused, monkeypatch
):
    # Registered while the name was public (or before the setting changed); it
    # resolves to loopback now. Nothing may connect.
    hook = Webhook.objects.create(
        client=crm.record,
        url="http://localhost:9/hooks",
        events=["case.opened"],
        secret="whsec_test",
    )
    delivery = WebhookDelivery.objects.create(
        webhook=hook, event="case.opened", payload={}
    )
    connections = []

    def no_connection(*args, **kwargs):
        connections.append(args)
        raise AssertionError("no request may be made")

    # The public-hosts transport checks before it hands the request on to a pool.
    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", no_connection)
    monkeypatch.setattr(socket.socket, "connect", no_connection)
    deliver_webhook(delivery.pk)
    delivery.refresh_from_db()
    assert connections == []
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 1 and delivery.last_status_code is None
    assert delivery.last_error.startswith("Refused: The host localhost")
    assert "internal address" in delivery.last_error


def test_an_unresolvable_host_is_a_retry(crm, private_hosts_refused, monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(outbound.socket, "getaddrinfo", fail)
    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", fail)
    hook = Webhook.objects.create(
        client=crm.record,
        url="https://crm.invalid/hooks",
        events=["case.opened"],
        secret="whsec_test",
    )
    delivery = WebhookDelivery.objects.create(
        webhook=hook, event="case.opened", payload={}
    )
    deliver_webhook(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.last_error == "DNS: crm.invalid does not resolve"
    assert delivery.next_attempt_at is not None


def test_only_a_short_text_excerpt_of_a_failed_response_is_kept():
    page = httpx.Response(
        502,
        headers={"content-type": "text/html"},
        content=b"<h1>Bad\x00gateway</h1>\n\n" + b"z" * 100_000,
    )
    excerpt = error_excerpt(page)
    assert excerpt.startswith("<h1>Bad gateway</h1> zzz")
    assert len(excerpt) == outbound.EXCERPT_CHARS
    binary = httpx.Response(
        500, headers={"content-type": "application/octet-stream"}, content=b"\x89PNG"
    )
    assert error_excerpt(binary) == "(application/octet-stream body not kept)"


def test_a_gzip_bomb_from_a_receiver_is_a_failed_attempt_in_bounded_memory(crm):
    receiver = LoopbackServer()
    try:
        bomb = gzip.compress(b" " * 50_000_000, compresslevel=9)
        receiver.add(
            "/hooks",
            Answer(500, bomb, {"Content-Type": "text/plain"}, content_encoding="gzip"),
            method="POST",
        )
        hook = Webhook.objects.create(
            client=crm.record,
            url=f"{receiver.url}/hooks",
            events=["case.opened"],
            secret="whsec_test",
        )
        delivery = WebhookDelivery.objects.create(
            webhook=hook, event="case.opened", payload={}
        )
        tracemalloc.start()
        try:
            deliver_webhook(delivery.pk)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        receiver.close()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 1 and delivery.last_status_code == 500
    assert delivery.last_error == "HTTP 500:"
    assert peak < 20_000_000
