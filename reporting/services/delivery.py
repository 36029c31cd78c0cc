"""Sending a due survey or its reminder, recording failures, expiring old links."""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from cases.events import case_event
from cases.models import ACTIVE_STATUSES, Case, CaseEvent, EventKind
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


def _send_exclusion(
    *, survey: Survey, now: datetime, maybe_delivered: bool = False
) -> str:
    """Checked again right before sending: things change during the delay.

    `maybe_delivered`: an earlier claim ran out, so the customer may have the mail;
    a reopen or merge since then does not withdraw it (it would kill their link).
    """
    case = survey.case
    if not maybe_delivered:
        if case.merged_into_id is not None:
            return "merged"
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


def _message_id(*, survey: Survey, reminder: bool) -> str:
    # The same for a repeated send, so mail clients can fold a rare duplicate.
    domain = urlsplit(settings.SITE_URL).hostname or "localhost"
    kind = "reminder" if reminder else "survey"
    return f"<survey-{survey.pk}-{kind}@{domain}>"


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
        headers={
            "List-Unsubscribe": f"<{context['opt_out_link']}>",
            "Message-ID": _message_id(survey=survey, reminder=reminder),
        },
    )
    message.attach_alternative(html, "text/html")
    message.send(fail_silently=False)


def _is_permanent(error: Exception) -> bool:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return True
    code = getattr(error, "smtp_code", None)
    return isinstance(code, int) and 500 <= code < 600


# A claim outlives any send: EMAIL_TIMEOUT bounds each SMTP step and the task is
# killed after its time_limit (60 s). Past this a claim belongs to a dead worker.
SEND_LEASE = timedelta(minutes=5)
_LABEL = "system:send_survey"


def _lock_case_and_survey(survey_id: int) -> Survey | None:
    """The survey's case, then the survey, locked: the one lock order everywhere."""
    case_id = (
        Survey.objects.filter(pk=survey_id).values_list("case_id", flat=True).first()
    )
    if case_id is None:
        return None
    Case.objects.select_for_update().filter(pk=case_id).first()
    # of=self: the joined case is locked already and the author must not be (the
    # order is case, author, survey elsewhere).
    return (
        Survey.objects.select_for_update(of=("self",))
        .select_related("case", "recipient")
        .filter(pk=survey_id)
        .first()
    )


def _claim(*, survey_id: int, now: datetime) -> tuple[str, Survey | None, bool]:
    """Take the survey (or its reminder) for one send; commits before any mail.

    Returns (outcome, survey, reminder); the survey is None unless it was claimed.
    """
    with transaction.atomic():
        survey = _lock_case_and_survey(survey_id)
        if survey is None:
            return "missing", None, False
        claimed_until = survey.send_claimed_until
        if claimed_until is not None and claimed_until > now:
            return "busy", None, False
        # A claim that ran out: its worker died, perhaps after the mail went out.
        maybe_delivered = claimed_until is not None
        reminder = False
        if survey.status == SurveyStatus.SCHEDULED:
            if survey.scheduled_for > now:
                return "not_due", None, False
            reason = _send_exclusion(
                survey=survey, now=now, maybe_delivered=maybe_delivered
            )
            if reason:
                survey.send_claimed_until = None
                survey.save(update_fields=["send_claimed_until"])
                _cancel_locked(
                    survey=survey,
                    reason=reason,
                    now=now,
                    actor=None,
                    actor_label=_LABEL,
                )
                return "cancelled", None, False
        elif (
            survey.status == SurveyStatus.SENT
            and survey.channel == SurveyChannel.EMAIL
            and survey.reminded_at is None
            and survey.sent_at <= now - settings.WEBCARE_SURVEY_REMINDER_AFTER
            and not survey_is_expired(survey=survey, now=now)
            and (maybe_delivered or survey.case.status not in ACTIVE_STATUSES)
        ):
            reminder = True
        else:
            if maybe_delivered:
                survey.send_claimed_until = None
                survey.save(update_fields=["send_claimed_until"])
            return "nothing_to_do", None, False
        survey.send_claimed_until = now + SEND_LEASE
        survey.save(update_fields=["send_claimed_until"])
    return "claimed", survey, reminder


def _record_sent(*, survey_id: int, claim: datetime, reminder: bool, now: datetime):
    """The mail went out: record it, whatever happened to the survey meanwhile."""
    with transaction.atomic():
        survey = _lock_case_and_survey(survey_id)
        if survey is None:  # pragma: no cover - surveys are never deleted (PROTECT)
            return
        fields = []
        if survey.send_claimed_until == claim:
            survey.send_claimed_until = None
            fields.append("send_claimed_until")
        applied = True
        if not reminder and survey.status == SurveyStatus.SCHEDULED:
            survey.status, survey.sent_at = SurveyStatus.SENT, now
            fields += ["status", "sent_at"]
        elif reminder and survey.status == SurveyStatus.SENT:
            survey.status, survey.reminded_at = SurveyStatus.REMINDED, now
            fields += ["status", "reminded_at"]
        else:
            # Answered, withdrawn (spam, opt-out, staff) or expired while the mail
            # was on its way: keep that status, but record that the mail went out.
            applied = False
            if (
                not reminder
                and survey.sent_at is None
                and survey.status
                not in (
                    SurveyStatus.CANCELLED,
                    SurveyStatus.FAILED,
                )
            ):
                survey.sent_at = now
                fields.append("sent_at")
        if applied:
            survey.last_error = ""
            fields.append("last_error")
        if fields:
            survey.save(update_fields=fields)
        extra = (
            {} if applied else {"withdrawn": survey.status == SurveyStatus.CANCELLED}
        )
        case_event(
            case=survey.case_id,
            kind=EventKind.SURVEY_SENT,
            actor_label=_LABEL,
            survey_id=survey.pk,
            channel=survey.channel,
            reminder=reminder,
            **extra,
        )


def _record_failed(
    *, survey_id: int, claim: datetime, reminder: bool, error: Exception, now: datetime
) -> SurveyDeliveryError | None:
    with transaction.atomic():
        survey = _lock_case_and_survey(survey_id)
        if survey is None or survey.send_claimed_until != claim:
            # The claim ran out and another worker took over: it owns the retries.
            return None
        survey.send_claimed_until = None
        survey.save(update_fields=["send_claimed_until"])
        expected = SurveyStatus.SENT if reminder else SurveyStatus.SCHEDULED
        if survey.status != expected:
            return None  # answered or withdrawn meanwhile: nothing to retry
        return _record_failure(survey=survey, error=error, now=now, reminder=reminder)


def survey_deliver(*, survey_id: int, now: datetime | None = None) -> str:
    """Send a due survey, or its one reminder: claim, commit, mail, record.

    Returns what happened: "sent", "reminded", "cancelled", or why nothing was done
    ("busy", "missing", "not_due", "nothing_to_do"). A failed send raises
    SurveyDeliveryError after recording the attempt; `retry_in` says when to retry,
    or None once the survey is marked failed.

    No lock is held while mailing (a slow SMTP server must not block a reopen, nor
    deadlock with it). The claim (`send_claimed_until`, a lease) makes a second
    worker or a duplicate task return "busy". A claimed survey counts as on its
    way: a reopen or merge leaves it alone (as it leaves a sent one), so the link
    the customer gets always works; a withdrawal that also withdraws sent surveys
    (closed as spam/abuse/not a customer, opt-out, staff) still cancels it and the
    mail is recorded with `withdrawn`. A worker that dies between claim and record
    leaves a claim that runs out after SEND_LEASE; process_surveys then finds the
    survey due again and it is mailed again with the same link: at least once,
    twice only if the worker died after the SMTP server took the message.
    """
    now = now or timezone.now()
    outcome, survey, reminder = _claim(survey_id=survey_id, now=now)
    if survey is None:
        return outcome
    claim = survey.send_claimed_until
    try:
        if survey.channel == SurveyChannel.EMAIL:
            _send_email(survey=survey, reminder=reminder)
    except (smtplib.SMTPException, OSError) as error:
        failure = _record_failed(
            survey_id=survey_id, claim=claim, reminder=reminder, error=error, now=now
        )
        if failure is not None:
            raise failure
        return "nothing_to_do"
    _record_sent(survey_id=survey_id, claim=claim, reminder=reminder, now=now)
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
    expiring = Survey.objects.filter(
        status__in=DELIVERED_STATUSES, sent_at__lte=cutoff
    ).order_by("sent_at", "id")
    with transaction.atomic():
        # Case before survey, the order every survey service locks in (the events
        # below need the case rows); a busy case waits for the next run.
        case_ids = list(
            Case.objects.select_for_update(skip_locked=True)
            .filter(pk__in=list(expiring.values_list("case_id", flat=True)[:limit]))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        due = list(
            expiring.select_for_update(skip_locked=True)
            .filter(case_id__in=case_ids)
            .values_list("pk", "case_id", "status")
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
