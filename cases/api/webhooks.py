"""The CRM's webhooks about cases: each case event becomes a durable delivery.

Subscribed in `CasesConfig.ready()`; runs in the case service's transaction, so a
delivery row exists exactly when the change committed (webcare.api.webhooks queues
the posting after commit).
"""

from cases.models import Case
from webcare.api.models import WebhookEvent
from webcare.api.webhooks import webhook_event
from webcare.bus import (
    CaseAssigned,
    CaseChanged,
    CaseEscalated,
    CaseOpened,
    CaseResolved,
)


def case_payload(case: Case) -> dict:
    return {
        "id": case.pk,
        "subject": case.subject,
        "status": case.status,
        "priority": case.priority,
        "category": case.category,
        "channel": case.channel,
        "assignee": case.assignee_id,
        "team": case.team_id,
        "customer": case.customer_id,
        "crm_customer_id": case.crm_customer_id,
        "created_at": case.created_at,
        "updated_at": case.updated_at,
        "resolved_at": case.resolved_at,
        "closed_at": case.closed_at,
    }


def _send(name: str, event: CaseChanged) -> None:
    webhook_event(
        event=name,
        data=lambda: {"case": case_payload(Case.objects.get(pk=event.case_id))},
    )


def case_opened(event: CaseOpened) -> None:
    _send(WebhookEvent.CASE_OPENED, event)


def case_assigned(event: CaseAssigned) -> None:
    _send(WebhookEvent.CASE_ASSIGNED, event)


def case_escalated(event: CaseEscalated) -> None:
    _send(WebhookEvent.CASE_ESCALATED, event)


def case_resolved(event: CaseResolved) -> None:
    _send(WebhookEvent.CASE_RESOLVED, event)
