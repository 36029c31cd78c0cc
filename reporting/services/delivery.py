"""Sending a due survey or its reminder, recording failures, expiring old links."""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from cases.events import case_event
from cases.models import ACTIVE_STATUSES, CaseEvent, EventKind
from reporting.models import Survey, SurveyChannel, SurveyStatus
from reporting.services.scheduling import _cancel_locked
from reporting.services.surveys import (
    DELIVERED_STATUSES,
    EXCLUDED_CLOSE_REASONS,
    SurveyDeliveryError,
    survey_is_expired,
    survey_link,
    survey_opt_out_link,
)

logger = logging.getLogger(__name__)


# --- delivery ----------------------------------------------------------------------


def _backoff(attempts: int) -> timedelta:
    # 1, 5, 25, 125 minutes... capped at six hours.
    return min(timedelta(minutes=5 ** max(attempts - 1, 0)), timedelta(hours=6))


def _send_exclusion(*, survey: Survey, now: datetime) -> str:
    """Checked again right before sending: things change during the delay."""
    case = survey.case
    if case.status in ACTIVE_STATUSES:
        return "reopened"
    if case.close_reason in EXCLUDED_CLOSE_REASONS:
        return f"closed_as_{case.close_reason}"
    customer = survey.recipient
    if customer.is_blocked:
        return "blocked"
    if customer.survey_opt_out_at is not None:
        return "opted_out"
    if survey_is_expired(survey=survey, now=now):
        # Workers were down for longer than a survey lives: too late to ask.
        return "too_late"
    return ""


def _send_email(*, survey: Survey, reminder: bool) -> None:
    with translation.override(survey.language):
        context = {
            "survey": survey,
            "link": survey_link(survey=survey),
            "opt_out_link": survey_opt_out_link(survey=survey),
            "reminder": reminder,
            "team_name": settings.WEBCARE_TEAM_NAME,
        }
        subject = render_to_string("reporting/survey_email_subject.txt", context)
        text = render_to_string("reporting/survey_email.txt", context)
        html = render_to_string("reporting/survey_email.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=text,
        to=[survey.email],
        headers={"List-Unsubscribe": f"<{context['opt_out_link']}>"},
    )
    message.attach_alternative(html, "text/html")
    message.send(fail_silently=False)


def _is_permanent(error: Exception) -> bool:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return True
    code = getattr(error, "smtp_code", None)
    return isinstance(code, int) and 500 <= code < 600


def survey_deliver(*, survey_id: int, now: datetime | None = None) -> str:
    """Send a due survey, or its one reminder, exactly once.

    Returns what happened: "sent", "reminded", "cancelled", or why nothing was done
    ("busy", "missing", "not_due", "nothing_to_do"). A failed send raises
    SurveyDeliveryError after recording the attempt; `retry_in` says when to retry,
    or None once the survey is marked failed.

    The row stays locked while mailing, so a second worker or a duplicate task skips
    it (skip_locked) and, once committed, sees it sent. Holding the lock during I/O
    is bounded by EMAIL_TIMEOUT and is what makes a double send impossible short of
    a crash between the SMTP reply and the commit.
    """
    now = now or timezone.now()
    failure: SurveyDeliveryError | None = None
    with transaction.atomic():
        survey = (
            Survey.objects.select_for_update(skip_locked=True)
            .filter(pk=survey_id)
            .first()
        )
        if survey is None:
            return "busy" if Survey.objects.filter(pk=survey_id).exists() else "missing"
        reminder = False
        if survey.status == SurveyStatus.SCHEDULED:
            if survey.scheduled_for > now:
                return "not_due"
            reason = _send_exclusion(survey=survey, now=now)
            if reason:
                _cancel_locked(
                    survey=survey,
                    reason=reason,
                    now=now,
                    actor=None,
                    actor_label="system:send_survey",
                )
                return "cancelled"
        elif (
            survey.status == SurveyStatus.SENT
            and survey.channel == SurveyChannel.EMAIL
            and survey.reminded_at is None
            and survey.sent_at <= now - settings.WEBCARE_SURVEY_REMINDER_AFTER
            and not survey_is_expired(survey=survey, now=now)
            and survey.case.status not in ACTIVE_STATUSES
        ):
            reminder = True
        else:
            return "nothing_to_do"

        try:
            if survey.channel == SurveyChannel.EMAIL:
                _send_email(survey=survey, reminder=reminder)
        except (smtplib.SMTPException, OSError) as error:
            failure = _record_failure(
                survey=survey, error=error, now=now, reminder=reminder
            )
        else:
            if reminder:
                survey.status = SurveyStatus.REMINDED
                survey.reminded_at = now
            else:
                survey.status = SurveyStatus.SENT
                survey.sent_at = now
            survey.last_error = ""
            survey.save(
                update_fields=["status", "sent_at", "reminded_at", "last_error"]
            )
            case_event(
                case=survey.case_id,
                kind=EventKind.SURVEY_SENT,
                actor_label="system:send_survey",
                survey_id=survey.pk,
                channel=survey.channel,
                reminder=reminder,
            )
    if failure is not None:
        raise failure
    return "reminded" if reminder else "sent"


def _record_failure(
    *, survey: Survey, error: Exception, now: datetime, reminder: bool
) -> SurveyDeliveryError:
    survey.send_attempts += 1
    what = "reminder" if reminder else "survey"
    survey.last_error = f"{what}: {type(error).__name__}: {error}"[:2000]
    permanent = _is_permanent(error)
    retry_in: timedelta | None = _backoff(survey.send_attempts)
    fields = ["send_attempts", "last_error"]
    if reminder:
        # The survey itself was delivered; a reminder is only retried by the task.
        if permanent:
            retry_in = None
    elif permanent or survey.send_attempts >= settings.WEBCARE_SURVEY_MAX_SEND_ATTEMPTS:
        survey.status = SurveyStatus.FAILED
        fields.append("status")
        retry_in = None
    else:
        # Not due again before the backoff: process_surveys will not resend early.
        survey.scheduled_for = now + retry_in
        fields.append("scheduled_for")
    survey.save(update_fields=fields)
    logger.warning(
        "Survey %s: sending the %s failed (attempt %s): %s",
        survey.pk,
        what,
        survey.send_attempts,
        error,
    )
    return SurveyDeliveryError(survey.last_error, retry_in=retry_in, reminder=reminder)


def survey_expire_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Close delivered, unanswered surveys whose link has expired; returns how many."""
    now = now or timezone.now()
    cutoff = now - settings.WEBCARE_SURVEY_EXPIRES_AFTER
    with transaction.atomic():
        due = list(
            Survey.objects.select_for_update(skip_locked=True)
            .filter(status__in=DELIVERED_STATUSES, sent_at__lte=cutoff)
            .order_by("sent_at", "id")
            .values_list("pk", "case_id", "status")[:limit]
        )
        Survey.objects.filter(
            pk__in=[pk for pk, _, _ in due], status__in=DELIVERED_STATUSES
        ).update(status=SurveyStatus.EXPIRED, expired_at=now)
        CaseEvent.objects.bulk_create(
            CaseEvent(
                case_id=case_id,
                kind=EventKind.SURVEY_CANCELLED,
                actor_label="system:process_surveys",
                data={"survey_id": pk, "reason": "expired", "previous_status": status},
                created_at=now,
            )
            for pk, case_id, status in due
        )
    return len(due)
