"""Celery tasks of cases: thin, idempotent, calling services."""

from __future__ import annotations

from celery import shared_task

from cases import notifications, services


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
