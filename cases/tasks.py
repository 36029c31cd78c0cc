"""Celery tasks of cases: thin, idempotent, calling services."""

from __future__ import annotations

from celery import shared_task

from cases import notifications, services
from cases.services import publishing


@shared_task(time_limit=120, soft_time_limit=100)
def check_case_deadlines() -> dict:
    """Flag cases about to breach or breached and tell each team (once per flag)."""
    report = services.case_deadlines_check()
    return {
        "warnings": len(report.warnings),
        "breaches": len(report.breaches),
        "escalation_breaches": len(report.escalation_breaches),
    }


@shared_task(time_limit=120, soft_time_limit=100)
def send_commitment_reminders() -> dict:
    """Remind owners of promises due soon; tell owner and team of overdue ones."""
    report = services.commitment_reminders_send()
    return {"reminded": len(report.reminded), "overdue": len(report.overdue)}


@shared_task(time_limit=60, soft_time_limit=50)
def send_escalation_notice(escalation_id: int) -> int | None:
    """Record the department's notice of an escalation (queued after the escalation
    commits); the outbox sends it and retries until it is delivered."""
    notice = notifications.escalation_notify_once(escalation_id=escalation_id)
    return notice.pk if notice else None


# Never acks_late or autoretry: a redelivered publish must not post twice. The claim
# (a conditional update) makes a second delivery a no-op; a lapsed claim is looked for
# on the platform by the sweep, never sent again blindly.
@shared_task(ignore_result=True, time_limit=90, soft_time_limit=75)
def publish_reply(reply_id: int) -> str:
    return publishing.reply_publish(reply_id).status


@shared_task(ignore_result=True, time_limit=90, soft_time_limit=75)
def reconcile_reply(reply_id: int) -> str:
    return publishing.reply_reconcile(reply_id).status


@shared_task(ignore_result=True, time_limit=60, soft_time_limit=50)
def publish_due_replies() -> dict:
    """Beat: lapsed claims become unconfirmed; due replies are published or looked
    for, each in its own task."""
    report = publishing.replies_publishing_sweep()
    for reply_id in report.publish:
        publish_reply.delay(reply_id)
    for reply_id in report.check:
        reconcile_reply.delay(reply_id)
    return {
        "lapsed": report.lapsed,
        "publish": len(report.publish),
        "check": len(report.check),
    }
