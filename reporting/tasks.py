"""Survey and summary tasks: thin, idempotent, take ids; the rules are in services."""

import logging
from datetime import date

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from reporting.models import Survey, SurveyChannel, SurveyStatus
from reporting.services import (
    SurveyDeliveryError,
    daily_summary_send,
    survey_deliver,
    survey_expire_due,
)

logger = logging.getLogger(__name__)

BATCH_SIZE = 200
# A reminder is only an extra; it is retried a few times by the task, then dropped.
REMINDER_RETRIES = 3


@shared_task(
    bind=True, ignore_result=True, soft_time_limit=50, time_limit=60, max_retries=None
)
def send_survey(self, survey_id: int) -> str:
    """Send a due survey or its reminder; a failure is retried with backoff.

    The attempts are counted on the survey, not in the task, so duplicate tasks and
    redeliveries share one budget; the service marks the survey failed at the end.
    """
    try:
        return survey_deliver(survey_id=survey_id)
    except SurveyDeliveryError as error:
        if error.retry_in is None:
            return "failed"
        if error.reminder and self.request.retries >= REMINDER_RETRIES:
            return "failed"
        if self.request.is_eager:
            # Embedded mode, no broker: a retry would run at once. The survey is not
            # due again before the backoff; the next process_surveys run retries it.
            return "retry_later"
        raise self.retry(countdown=int(error.retry_in.total_seconds()))


@shared_task(ignore_result=True, soft_time_limit=100, time_limit=120)
def process_surveys() -> dict:
    """Every few minutes: queue due surveys and reminders, expire old links."""
    now = timezone.now()
    due = list(
        Survey.objects.filter(status=SurveyStatus.SCHEDULED, scheduled_for__lte=now)
        .order_by("scheduled_for", "id")
        .values_list("pk", flat=True)[:BATCH_SIZE]
    )
    # Reminders whose earlier attempt failed are left to that task's retries.
    reminders = list(
        Survey.objects.filter(
            status=SurveyStatus.SENT,
            channel=SurveyChannel.EMAIL,
            reminded_at__isnull=True,
            last_error="",
            sent_at__lte=now - settings.WEBCARE_SURVEY_REMINDER_AFTER,
            sent_at__gt=now - settings.WEBCARE_SURVEY_EXPIRES_AFTER,
        )
        .order_by("sent_at", "id")
        .values_list("pk", flat=True)[:BATCH_SIZE]
    )
    for survey_id in due + reminders:
        send_survey.delay(survey_id)
    expired = survey_expire_due(now=now, limit=BATCH_SIZE)
    return {"due": len(due), "reminders": len(reminders), "expired": expired}


@shared_task(ignore_result=True, soft_time_limit=100, time_limit=120)
def send_daily_summary(day: str | None = None) -> int:
    """Write the day's summary for customer service once; the notice outbox mails it
    (a rerun records nothing twice)."""
    summary = daily_summary_send(day=date.fromisoformat(day) if day else None)
    return summary.pk
