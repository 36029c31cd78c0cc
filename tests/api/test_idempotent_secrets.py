"""A secret is shown once: never kept in, nor replayed from, an idempotency record.

Decision: the answer is stored with the secret replaced by null and replayed like
that, so a retried registration still finds its webhook (and does not create a
second one) but learns no secret; the client that lost the first answer deletes the
webhook and registers again.
"""

import json

import pytest

from webcare.api.models import IdempotencyKey, Webhook

pytestmark = pytest.mark.django_db

WEBHOOKS = "/api/v1/webhooks/"


def register(crm, key="hook-1"):
    return crm.post(
        WEBHOOKS,
        {"url": "https://crm.example.com/hooks/webcare", "events": ["case.opened"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


@pytest.fixture(autouse=True)
def public_host_resolves(monkeypatch):
    # crm.example.com must pass the public-host check without DNS.
    from webcare import outbound

    monkeypatch.setattr(outbound, "url_problem", lambda url: None)


def test_the_stored_answer_has_no_secret(crm):
    response = register(crm)
    assert response.status_code == 201
    secret = response.json()["secret"]
    assert secret.startswith("whsec_")
    record = IdempotencyKey.objects.get(client=crm.record, key="hook-1")
    assert record.response_status == 201
    assert secret not in json.dumps(record.response_body)
    assert record.response_body["secret"] is None
    assert record.response_body["id"] == Webhook.objects.get().pk


def test_a_replay_finds_the_webhook_but_not_its_secret(crm):
    first = register(crm)
    replay = register(crm)
    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert replay.json()["secret"] is None
    assert first.json()["secret"] not in replay.content.decode()
    assert Webhook.objects.count() == 1


def test_a_replay_after_the_webhook_is_deleted_leaks_nothing(crm):
    first = register(crm)
    secret = first.json()["secret"]
    assert crm.delete(f"{WEBHOOKS}{first.json()['id']}/").status_code == 204
    replay = register(crm)
    assert replay.status_code == 201 and replay.json()["secret"] is None
    assert secret not in replay.content.decode()
    for record in IdempotencyKey.objects.all():
        assert secret not in json.dumps(record.response_body)


def test_secrets_stored_before_the_fix_are_forgotten(crm):
    import importlib

    from django.apps import apps

    migration = importlib.import_module(
        "webcare.api.migrations.0003_idempotency_forget_secrets"
    )
    old = IdempotencyKey.objects.create(
        client=crm.record,
        key="old",
        request_fingerprint="a" * 64,
        response_status=201,
        response_body={
            "id": 7,
            "url": "https://crm.example.com/h",
            "secret": "whsec_x",
        },
    )
    other = IdempotencyKey.objects.create(
        client=crm.record,
        key="case",
        request_fingerprint="b" * 64,
        response_status=201,
        response_body={"id": 8, "subject": "secret"},
    )
    migration.forget_secrets(apps, None)
    old.refresh_from_db()
    other.refresh_from_db()
    assert old.response_body == {
        "id": 7,
        "url": "https://crm.example.com/h",
        "secret": None,
    }
    assert other.response_body == {"id": 8, "subject": "secret"}
