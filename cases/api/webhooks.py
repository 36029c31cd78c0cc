"""The CRM's webhooks about cases: each case event becomes a durable delivery.

Subscribed in `CasesConfig.ready()`; runs in the case service's transaction, so a
delivery row exists exactly when the change committed (webcare.api.webhooks queues
the posting after commit).
"""

from cases.access import restricted_departments
from cases.models import Case, Escalation, Reply
from webcare.api.models import WebhookEvent
from webcare.api.webhooks import webhook_event
from webcare.bus import (
    CaseAssigned,
    CaseChanged,
    CaseEscalated,
    CaseOpened,
    CaseResolved,
    ReplyPublished,
    ReplyPublishFailed,
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
    # API clients never see restricted escalations (security), so the CRM is not
    # told of one either; the case's own status reaches it through sync.
    department = (
        Escalation.objects.filter(pk=event.escalation_id)
        .values_list("department", flat=True)
        .first()
    )
    if department in restricted_departments():
        return
    _send(WebhookEvent.CASE_ESCALATED, event)


def case_resolved(event: CaseResolved) -> None:
    _send(WebhookEvent.CASE_RESOLVED, event)


def reply_payload(reply: Reply) -> dict:
    return {
        "id": reply.pk,
        "case": reply.case_id,
        "agent": reply.agent_id,
        "channel": reply.channel,
        "is_private": reply.is_private,
        "in_reply_to": reply.in_reply_to_id,
        "publish_status": reply.publish_status,
        "external_id": reply.external_id,
        "external_url": reply.external_url,
        "publish_error": reply.publish_error,
        "published_at": reply.published_at,
    }


def _send_reply(name: str, event: ReplyPublished | ReplyPublishFailed) -> None:
    def data() -> dict:
        reply = Reply.objects.select_related("case").get(pk=event.reply_id)
        return {"case": case_payload(reply.case), "reply": reply_payload(reply)}

    webhook_event(event=name, data=data)


def reply_published(event: ReplyPublished) -> None:
    _send_reply(WebhookEvent.REPLY_PUBLISHED, event)


def reply_publish_failed(event: ReplyPublishFailed) -> None:
    _send_reply(WebhookEvent.REPLY_FAILED, event)
