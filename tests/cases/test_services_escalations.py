"""Escalations to departments: reason, notice by mail and webhook, acknowledgement."""

from datetime import timedelta

import pytest

from cases import services
from cases.models import CaseStatus, EscalationStatus, EventKind
from cases.services import CaseError, InvalidTransition
from tests.factories import MentionFactory
from webcare.api.models import ApiClient, Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(team, agent):
    mention = MentionFactory(text="Ik kreeg een sms met link\nSubject: spoof <b>x</b>")
    case = services.case_open(subject="Phishing sms", mention=mention, team=team)
    return services.case_assign(case=case, assignee=agent, actor=agent)


def test_escalating_notifies_the_department_after_commit(
    case, agent, mailoutbox, settings, django_capture_on_commit_callbacks, clock
):
    settings.WEBCARE_DEPARTMENT_EMAILS = {
        **settings.WEBCARE_DEPARTMENT_EMAILS,
        "security": "security@bank.example",
    }
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        escalation = services.case_escalate(
            case=case,
            department="security",
            reason="Phishing link going round",
            actor=agent,
        )
        assert mailoutbox == []  # nothing leaves before the commit
    assert callbacks
    case.refresh_from_db()
    assert case.status == CaseStatus.ESCALATED
    assert escalation.requested_by == agent
    # Normal priority: 4 business hours to acknowledge; Monday 09:00 -> 13:45
    # (the default hours break for lunch 12:00-12:45).
    assert escalation.acknowledgement_due_at == clock.now + timedelta(
        hours=4, minutes=45
    )
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["security@bank.example"]
    assert "\n" not in mail.subject
    assert "Phishing link going round" in mail.body
    assert f"/admin/cases/case/{case.pk}/change/" in mail.body
    event = case.events.get(kind=EventKind.ESCALATED)
    assert event.data["department"] == "security"
    assert event.data["reason"] == "Phishing link going round"


def test_escalating_queues_a_webhook_for_the_crm(case, agent):
    client = ApiClient.objects.create(
        name="crm", token_prefix="abc", token_hash="0" * 64, scopes=["read"]
    )
    Webhook.objects.create(
        client=client,
        url="http://127.0.0.1:9/hook",
        events=["case.escalated"],
        secret="s3cret",
    )
    services.case_escalate(case=case, department="pr", reason="Journalist", actor=agent)
    delivery = WebhookDelivery.objects.get()
    assert delivery.event == "case.escalated"
    assert delivery.payload["case"]["id"] == case.pk


def test_a_second_escalation_to_the_same_department_is_refused(case, agent):
    services.case_escalate(case=case, department="pr", reason="Journalist", actor=agent)
    with pytest.raises(CaseError, match="already has an open escalation to PR"):
        services.case_escalate(case=case, department="pr", reason="Again", actor=agent)
    # Another department is fine; the case stays escalated.
    services.case_escalate(case=case, department="security", reason="Also", actor=agent)
    assert case.escalations.count() == 2


def test_an_escalation_needs_a_reason_and_a_known_department(case, agent):
    with pytest.raises(CaseError, match="Say why"):
        services.case_escalate(case=case, department="pr", reason=" ", actor=agent)
    with pytest.raises(CaseError, match="Unknown department"):
        services.case_escalate(case=case, department="legal", reason="x", actor=agent)
    assert not case.escalations.exists()


def test_acknowledge_then_resolve_with_a_note(case, agent, spokesperson):
    escalation = services.case_escalate(
        case=case, department="pr", reason="Journalist", actor=agent
    )
    services.escalation_acknowledge(
        escalation=escalation, actor=spokesperson, note="Ik pak het op"
    )
    escalation.refresh_from_db()
    assert escalation.status == EscalationStatus.ACKNOWLEDGED
    assert escalation.acknowledged_by == spokesperson
    with pytest.raises(InvalidTransition, match="already acknowledged"):
        services.escalation_acknowledge(escalation=escalation, actor=spokesperson)
    with pytest.raises(CaseError, match="Say how"):
        services.escalation_resolve(escalation=escalation, note="", actor=spokesperson)
    services.escalation_resolve(
        escalation=escalation,
        note="Statement sent to the journalist.",
        actor=spokesperson,
    )
    escalation.refresh_from_db()
    assert escalation.status == EscalationStatus.RESOLVED
    assert escalation.resolution_note == "Statement sent to the journalist."
    assert escalation.resolved_by == spokesperson
    kinds = list(case.events.values_list("kind", flat=True))
    assert EventKind.ESCALATION_ACKNOWLEDGED in kinds
    assert EventKind.ESCALATION_RESOLVED in kinds
    assert case.events.get(kind=EventKind.ESCALATION_ACKNOWLEDGED).data["note"] == (
        "Ik pak het op"
    )
    with pytest.raises(InvalidTransition, match="already resolved"):
        services.escalation_resolve(escalation=escalation, note="x", actor=spokesperson)


def test_resolving_without_acknowledging_counts_as_acknowledged(
    case, agent, customer_service
):
    escalation = services.case_escalate(
        case=case, department="customer_service", reason="Account", actor=agent
    )
    services.escalation_resolve(
        escalation=escalation, note="Done", actor=customer_service
    )
    escalation.refresh_from_db()
    assert escalation.acknowledged_at == escalation.resolved_at
    assert escalation.acknowledged_by == customer_service


def test_the_case_stays_escalated_while_another_escalation_is_open(
    case, agent, manager
):
    first = services.case_escalate(case=case, department="pr", reason="a", actor=agent)
    services.case_escalate(case=case, department="security", reason="b", actor=agent)
    services.escalation_resolve(escalation=first, note="ok", actor=manager)
    case.refresh_from_db()
    assert case.status == CaseStatus.ESCALATED
