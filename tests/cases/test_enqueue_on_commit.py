"""A broker that is down after commit: the change stands, the sweeps do the work."""

import logging
from datetime import timedelta

import pytest
from kombu.exceptions import OperationalError

from cases import services, tasks
from cases.models import CaseStatus, Escalation
from tests.factories import MentionFactory
from webcare.api import tasks as webhook_tasks
from webcare.api.models import ApiClient, DeliveryStatus, Webhook, WebhookDelivery
from webcare.api.webhooks import CLAIM_LEASE
from webcare.celery import enqueue_on_commit
from webcare.notices import tasks as notice_tasks
from webcare.notices.models import Notice, NoticeStatus

pytestmark = pytest.mark.django_db


def broker_down(*args, **kwargs):
    raise OperationalError(
        "Error 111 connecting to 127.0.0.1:6379. Connection refused."
    )


@pytest.fixture
def case(team, agent):
    case = services.case_open(
        subject="Phishing sms", mention=MentionFactory(), team=team
    )
    return services.case_assign(case=case, assignee=agent, actor=agent)


def test_an_escalation_is_saved_with_its_notice_when_the_broker_is_down(
    case, agent, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(notice_tasks.send_notice, "delay", broker_down)
    with (
        caplog.at_level(logging.WARNING, logger="webcare.celery"),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        escalation = services.case_escalate(
            case=case, department="security", reason="Phishing link", actor=agent
        )
    assert callbacks
    assert Escalation.objects.get().pk == escalation.pk
    case.refresh_from_db()
    assert case.status == CaseStatus.ESCALATED
    [record] = caplog.records
    assert "send_notice" in record.getMessage()
    assert "Connection refused" in record.getMessage()
    # The notice was written with the escalation: the beat sweep sends it later.
    notice = Notice.objects.get(about=f"escalation:{escalation.pk}")
    assert notice.status == NoticeStatus.PENDING


def test_a_webhook_delivery_left_unqueued_is_picked_up_by_the_sweeper(
    case, agent, monkeypatch, clock, django_capture_on_commit_callbacks
):
    client = ApiClient.objects.create(
        name="crm", token_prefix="abc", token_hash="0" * 64, scopes=["read"]
    )
    Webhook.objects.create(
        client=client,
        url="http://127.0.0.1:9/hook",
        events=["case.resolved"],
        secret="s3cret",
    )
    monkeypatch.setattr(webhook_tasks.deliver_webhook, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        resolved = services.case_resolve(case=case, actor=agent)
    assert resolved.status == CaseStatus.RESOLVED
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)

    queued = []
    monkeypatch.setattr(webhook_tasks.deliver_webhook, "delay", queued.append)
    clock.advance(CLAIM_LEASE + timedelta(seconds=1))
    assert webhook_tasks.retry_webhook_deliveries() == 1
    assert queued == [delivery.pk]


def test_other_errors_are_not_swallowed(
    django_capture_on_commit_callbacks, monkeypatch
):
    def broken(*args, **kwargs):
        raise TypeError("a bug, not the broker")

    monkeypatch.setattr(tasks.send_escalation_notice, "delay", broken)
    with (
        pytest.raises(TypeError),
        django_capture_on_commit_callbacks(execute=True),
    ):
        enqueue_on_commit(tasks.send_escalation_notice, 1)
