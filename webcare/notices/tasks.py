"""Sending notices: one attempt per task, and the beat sweep for what is due."""

from celery import current_app, shared_task
from django.utils import timezone

from webcare.notices.models import NoticeStatus
from webcare.notices.services import notice_send, notices_send_due


@shared_task(ignore_result=True, time_limit=60, soft_time_limit=50)
def send_notice(notice_id: int) -> None:
    notice = notice_send(notice_id=notice_id)
    if notice is None or notice.status != NoticeStatus.PENDING:
        return
    # Eager mode (no broker) would run a countdown at once; the sweep retries then.
    if not current_app.conf.task_always_eager and notice.next_attempt_at:
        countdown = max((notice.next_attempt_at - timezone.now()).total_seconds(), 0)
        send_notice.apply_async((notice.pk,), countdown=countdown)


@shared_task(ignore_result=True, time_limit=240, soft_time_limit=200)
def send_due_notices() -> dict:
    """Send pending notices that are due: retries, notices whose worker died
    (expired lease) and notices whose queued message was lost."""
    report = notices_send_due()
    return {"sent": len(report.sent), "not_sent": len(report.not_sent)}
