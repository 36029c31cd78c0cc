"""Surveys and the daily summary: every write with a rule, atomic and audited.

A survey is scheduled when a case is resolved, sent once (by email, or as a personal
link the CRM or an agent sends in a private message), reminded once, and expires.
A detractor's answer opens a follow-up for the team. Events are written on the case.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import date as date_type
from datetime import datetime, time, timedelta
from enum import StrEnum

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from cases.events import case_event
from cases.models import (
    ACTIVE_STATUSES,
    Case,
    CaseEvent,
    CaseStatus,
    CloseReason,
    EventKind,
)
from cases.webhooks import webhook_event
from reporting.models import DailySummary, Survey, SurveyChannel, SurveyStatus
from reporting.nps import DETRACTOR, band
from sources.models import Author, Priority
from webcare.celery import enqueue_on_commit

logger = logging.getLogger(__name__)

SUPPORTED_LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"
# Cases closed for these reasons were never a customer helped: no survey.
EXCLUDED_CLOSE_REASONS = frozenset(
    {CloseReason.SPAM, CloseReason.ABUSE, CloseReason.NOT_CUSTOMER}
)
# Not answered yet and not closed: may still be answered or cancelled.
OPEN_STATUSES = (
    SurveyStatus.SCHEDULED,
    SurveyStatus.SENT,
    SurveyStatus.REMINDED,
    SurveyStatus.FAILED,
)
UNSENT_STATUSES = (SurveyStatus.SCHEDULED, SurveyStatus.FAILED)
DELIVERED_STATUSES = (SurveyStatus.SENT, SurveyStatus.REMINDED)
MAX_COMMENT_LENGTH = 2000


class SurveyError(Exception):
    """A clear, user-facing message."""


class SurveyClosed(SurveyError):
    """The survey can no longer be answered; `status` says why (expired, cancelled)."""

    def __init__(self, status: str):
        super().__init__(f"This survey is {status}.")
        self.status = status


class SurveyDeliveryError(Exception):
    """Sending failed; `retry_in` is None when it must not be retried."""

    def __init__(
        self, message: str, *, retry_in: timedelta | None, reminder: bool = False
    ):
        super().__init__(message)
        self.retry_in = retry_in
        self.reminder = reminder


class AnswerOutcome(StrEnum):
    ANSWERED = "answered"
    CORRECTED = "corrected"
    UNCHANGED = "unchanged"  # the same answer again (a double submit)
    FINAL = "final"  # answered before and the correction window has passed


# --- audit -----------------------------------------------------------------------


# --- links -------------------------------------------------------------------------


def survey_link(*, survey: Survey) -> str:
    """The customer's personal survey URL: for an email or a private message only."""
    return settings.SITE_URL + reverse(
        "reporting:survey", kwargs={"token": survey.token}
    )


def survey_opt_out_link(*, survey: Survey) -> str:
    return settings.SITE_URL + reverse(
        "reporting:survey_opt_out", kwargs={"token": survey.token}
    )


# --- timing ------------------------------------------------------------------------


def survey_expires_at(*, survey: Survey) -> datetime:
    """When the link stops working, whether or not the expiry task has run yet."""
    if survey.sent_at is not None:
        return survey.sent_at + settings.WEBCARE_SURVEY_EXPIRES_AFTER
    # Never sent (still scheduled, or failed): as long as a sent one would live.
    return (
        survey.created_at
        + settings.WEBCARE_SURVEY_DELAY
        + settings.WEBCARE_SURVEY_EXPIRES_AFTER
    )


def survey_is_expired(*, survey: Survey, now: datetime | None = None) -> bool:
    if survey.status == SurveyStatus.EXPIRED:
        return True
    if survey.status not in OPEN_STATUSES:
        return False
    return (now or timezone.now()) >= survey_expires_at(survey=survey)


def survey_can_correct(*, survey: Survey, now: datetime | None = None) -> bool:
    return (
        survey.status == SurveyStatus.ANSWERED
        and survey.responded_at is not None
        and (now or timezone.now()) - survey.responded_at
        <= settings.WEBCARE_SURVEY_CORRECTION_WINDOW
    )


def _backoff(attempts: int) -> timedelta:
    # 1, 5, 25, 125 minutes... capped at six hours.
    return min(timedelta(minutes=5 ** max(attempts - 1, 0)), timedelta(hours=6))


# --- scheduling --------------------------------------------------------------------


def _language_for(*, customer: Author, case: Case) -> str:
    language = (customer.language or "").lower()[:2]
    if language in SUPPORTED_LANGUAGES:
        return language
    # Otherwise the language the customer wrote to us in.
    written = (
        case.mentions.exclude(language="")
        .order_by("published_at", "id")
        .values_list("language", flat=True)
        .first()
    )
    written = (written or "").lower()[:2]
    return written if written in SUPPORTED_LANGUAGES else DEFAULT_LANGUAGE


def _agent_first_name(case: Case) -> str:
    # The name the customer saw under the replies, else the assignee's first name.
    signature = (
        case.replies.exclude(signature="")
        .order_by("-sent_at", "-id")
        .values_list("signature", flat=True)
        .first()
    )
    if signature:
        return signature[:100]
    if case.assignee_id is not None:
        return case.assignee.first_name[:100]
    return ""


def _recently_surveyed(*, customer: Author, now: datetime) -> bool:
    """Surveyed (or about to be) within the quarantine, under any of their accounts."""
    same_customer = Q(recipient=customer)
    if customer.email:
        same_customer |= Q(email__iexact=customer.email)
    if customer.crm_customer_id:
        same_customer |= Q(recipient__crm_customer_id=customer.crm_customer_id)
    since = now - settings.WEBCARE_SURVEY_QUARANTINE
    return (
        Survey.objects.filter(same_customer)
        .filter(
            Q(status=SurveyStatus.SCHEDULED)
            | Q(sent_at__gte=since)
            | Q(responded_at__gte=since)
        )
        .exists()
    )


def _schedule_exclusion(*, case: Case, now: datetime) -> str:
    """Why this case gets no survey, or "" when it does."""
    if Survey.objects.filter(case_id=case.pk).exists():
        return "already_surveyed"
    if case.status != CaseStatus.RESOLVED:
        return "not_resolved"
    if case.close_reason in EXCLUDED_CLOSE_REASONS:
        return f"closed_as_{case.close_reason}"
    customer = case.customer
    if customer is None:
        return "no_customer"
    if customer.is_blocked:
        return "blocked"
    if customer.survey_opt_out_at is not None:
        return "opted_out"
    if _recently_surveyed(customer=customer, now=now):
        return "quarantine"
    return ""


def survey_schedule_for_case(
    *,
    case: Case,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
) -> Survey | None:
    """Schedule the case's one survey after the delay, unless a rule excludes it.

    Called by case_resolve after the case is saved as resolved. An exclusion returns
    None and is logged on the case (kind survey_cancelled, scheduled False).
    """
    now = timezone.now()
    with transaction.atomic():
        # Lock the case, then the customer: concurrent resolves of two cases of one
        # customer cannot both pass the quarantine check.
        case = Case.objects.select_for_update().get(pk=case.pk)
        if case.customer_id is not None:
            Author.objects.select_for_update().filter(pk=case.customer_id).first()
        reason = _schedule_exclusion(case=case, now=now)
        if reason:
            case_event(
                case=case,
                kind=EventKind.SURVEY_CANCELLED,
                actor=actor,
                actor_label=actor_label,
                survey_id=None,
                scheduled=False,
                reason=reason,
            )
            logger.info("No survey for case %s: %s", case.pk, reason)
            return None
        customer = case.customer
        survey = Survey.objects.create(
            case=case,
            recipient=customer,
            email=customer.email,
            channel=SurveyChannel.EMAIL if customer.email else SurveyChannel.LINK,
            language=_language_for(customer=customer, case=case),
            agent_first_name=_agent_first_name(case),
            subject=case.subject[:300],
            created_at=now,
            scheduled_for=(case.resolved_at or now) + settings.WEBCARE_SURVEY_DELAY,
        )
        case_event(
            case=case,
            kind=EventKind.SURVEY_SCHEDULED,
            actor=actor,
            actor_label=actor_label,
            survey_id=survey.pk,
            channel=survey.channel,
            scheduled_for=survey.scheduled_for.isoformat(),
        )
    return survey


# --- cancelling --------------------------------------------------------------------


def _cancel_locked(
    *,
    survey: Survey,
    reason: str,
    now: datetime,
    actor: AbstractBaseUser | None,
    actor_label: str,
) -> None:
    old_status = survey.status
    survey.status = SurveyStatus.CANCELLED
    survey.cancelled_at = now
    survey.save(update_fields=["status", "cancelled_at"])
    case_event(
        case=survey.case_id,
        kind=EventKind.SURVEY_CANCELLED,
        actor=actor,
        actor_label=actor_label,
        survey_id=survey.pk,
        reason=reason,
        previous_status=old_status,
    )


def survey_cancel_for_case(
    *,
    case: Case,
    reason: str,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
) -> None:
    """Cancel the case's survey that has not been sent yet (called on reopen/close).

    Closing as spam, abuse or not a customer also withdraws a survey already sent.
    """
    statuses = OPEN_STATUSES if reason in EXCLUDED_CLOSE_REASONS else UNSENT_STATUSES
    with transaction.atomic():
        survey = (
            Survey.objects.select_for_update()
            .filter(case_id=case.pk, status__in=statuses)
            .first()
        )
        if survey is not None:
            _cancel_locked(
                survey=survey,
                reason=reason,
                now=timezone.now(),
                actor=actor,
                actor_label=actor_label,
            )


def survey_cancel(
    *,
    survey: Survey,
    reason: str = "staff",
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
) -> Survey:
    """Cancel an unanswered survey (staff action): no send, no reminder, link closed."""
    with transaction.atomic():
        survey = Survey.objects.select_for_update().get(pk=survey.pk)
        if survey.status not in OPEN_STATUSES:
            raise SurveyError(
                f"A survey that is {survey.get_status_display().lower()} "
                "cannot be cancelled."
            )
        _cancel_locked(
            survey=survey,
            reason=reason,
            now=timezone.now(),
            actor=actor,
            actor_label=actor_label,
        )
    return survey


def survey_resend(
    *,
    survey: Survey,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
) -> Survey:
    """Send a failed (or still scheduled) survey now, with fresh attempts."""
    from reporting.tasks import send_survey

    now = timezone.now()
    with transaction.atomic():
        survey = Survey.objects.select_for_update().get(pk=survey.pk)
        if survey.status not in UNSENT_STATUSES:
            raise SurveyError(
                "Only a survey that failed or was not sent yet can be resent; "
                f"this one is {survey.get_status_display().lower()}."
            )
        customer = survey.recipient
        if customer.is_blocked or customer.survey_opt_out_at is not None:
            raise SurveyError("The customer is blocked or opted out of surveys.")
        survey.status = SurveyStatus.SCHEDULED
        survey.scheduled_for = now
        survey.send_attempts = 0
        survey.last_error = ""
        survey.save(
            update_fields=["status", "scheduled_for", "send_attempts", "last_error"]
        )
        case_event(
            case=survey.case_id,
            kind=EventKind.SURVEY_SCHEDULED,
            actor=actor,
            actor_label=actor_label,
            survey_id=survey.pk,
            channel=survey.channel,
            scheduled_for=now.isoformat(),
            resend=True,
        )
        enqueue_on_commit(send_survey, survey.pk)
    return survey


def survey_opt_out(*, survey: Survey, actor_label: str = "customer") -> int:
    """The customer wants no more surveys: remember it and cancel what is unanswered.

    Returns how many surveys were cancelled.
    """
    now = timezone.now()
    with transaction.atomic():
        customer = Author.objects.select_for_update().get(pk=survey.recipient_id)
        if customer.survey_opt_out_at is None:
            customer.survey_opt_out_at = now
            customer.save(update_fields=["survey_opt_out_at", "updated_at"])
        pending = Survey.objects.select_for_update().filter(
            recipient=customer, status__in=OPEN_STATUSES
        )
        cancelled = 0
        for pending_survey in pending:
            _cancel_locked(
                survey=pending_survey,
                reason="opted_out",
                now=now,
                actor=None,
                actor_label=actor_label,
            )
            cancelled += 1
    return cancelled


# --- delivery ----------------------------------------------------------------------


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


# --- answering ---------------------------------------------------------------------


def _follow_up_owner(case: Case):
    if case.assignee_id is not None:
        return case.assignee
    last_reply = (
        case.replies.order_by("-sent_at", "-id").select_related("agent").first()
    )
    return last_reply.agent if last_reply else None


def _open_follow_up(*, survey: Survey, now: datetime) -> None:
    """A detractor: a new case in the team's queue, through the case services so it
    gets its due times and audit trail; promised to whoever helped, if anyone did.

    A new case, not a reopened one: the helped case stays resolved in the figures.
    """
    from cases.services import (
        CaseError,
        case_assign,
        case_open,
        case_update,
        commitment_make,
    )

    case = survey.case
    label = "system:survey"
    follow_up = case_open(
        subject=f"NPS follow-up ({survey.score}/10): {case.subject}"[:300],
        priority=Priority.HIGH,
        category=case.category,
        channel=case.channel,
        team=case.team,
        customer=case.customer,
        crm_customer_id=case.crm_customer_id,
        actor_label=label,
    )
    topics = list(case.topics.all())
    if topics:
        case_update(case=follow_up, topics=topics, actor_label=label)
    owner = _follow_up_owner(case)
    commitment = None
    if owner is not None:
        try:
            with transaction.atomic():
                case_assign(case=follow_up, assignee=owner, actor_label=label)
                commitment = commitment_make(
                    case=follow_up,
                    owner=owner,
                    description=(
                        f"NPS follow-up: the customer scored {survey.score}/10"
                        + (" with a comment" if survey.comment else "")
                        + ". Contact them privately and learn what went wrong."
                    ),
                    due_at=now + settings.WEBCARE_SURVEY_FOLLOW_UP_WITHIN,
                    actor_label=label,
                )
        except CaseError:
            # The agent who helped has left or may no longer take cases: the
            # follow-up stays in the team queue; the customer's answer still counts.
            commitment = None
    case_event(
        case=case,
        kind=EventKind.FOLLOW_UP,
        actor_label=label,
        survey_id=survey.pk,
        score=survey.score,
        follow_up_case_id=follow_up.pk,
        commitment_id=commitment.pk if commitment else None,
    )


def survey_answer(
    *,
    survey: Survey,
    score: int,
    comment: str = "",
    now: datetime | None = None,
) -> str:
    """Record the customer's answer once; a change within the window is a correction.

    Returns an AnswerOutcome value; raises SurveyClosed when the survey is expired or
    cancelled. The comment is stored exactly as given (it is escaped when shown).
    """
    band(score)  # raises ValueError for anything but a whole number 0-10
    if len(comment) > MAX_COMMENT_LENGTH:
        raise SurveyError(f"A comment has at most {MAX_COMMENT_LENGTH} characters.")
    now = now or timezone.now()
    with transaction.atomic():
        survey = Survey.objects.select_for_update().get(pk=survey.pk)
        if survey.status == SurveyStatus.ANSWERED:
            if not survey_can_correct(survey=survey, now=now):
                return AnswerOutcome.FINAL
            if survey.score == score and survey.comment == comment:
                return AnswerOutcome.UNCHANGED
            old_score, old_comment = survey.score, survey.comment
            survey.score, survey.comment, survey.corrected_at = score, comment, now
            survey.save(update_fields=["score", "comment", "corrected_at"])
            case_event(
                case=survey.case_id,
                kind=EventKind.SURVEY_CORRECTED,
                actor_label="customer",
                survey_id=survey.pk,
                old_score=old_score,
                score=score,
                old_comment=old_comment,
                comment=comment,
            )
            if band(score) == DETRACTOR and band(old_score) != DETRACTOR:
                _open_follow_up(survey=survey, now=now)
            return AnswerOutcome.CORRECTED
        if survey.status not in OPEN_STATUSES or survey_is_expired(
            survey=survey, now=now
        ):
            raise SurveyClosed(
                SurveyStatus.EXPIRED
                if survey.status in OPEN_STATUSES
                else survey.status
            )
        survey.status = SurveyStatus.ANSWERED
        survey.score, survey.comment, survey.responded_at = score, comment, now
        survey.save(update_fields=["status", "score", "comment", "responded_at"])
        case_event(
            case=survey.case_id,
            kind=EventKind.SURVEY_ANSWERED,
            actor_label="customer",
            survey_id=survey.pk,
            score=score,
            band=band(score),
            comment=comment,
        )
        if band(score) == DETRACTOR:
            _open_follow_up(survey=survey, now=now)
        webhook_event(event="survey.answered", case=survey.case, survey=survey)
    return AnswerOutcome.ANSWERED


# --- the daily summary -------------------------------------------------------------


def _day_bounds(day: date_type) -> tuple[datetime, datetime]:
    zone = timezone.get_default_timezone()
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def daily_summary_send(
    *, day: date_type | None = None, now: datetime | None = None
) -> DailySummary:
    """Summarise the day's contacts and mail them to customer service, once per day.

    The body is written when the row is created (the day up to that moment); a rerun
    finds the row and sends only if it was not sent yet.
    """
    from reporting.selectors import daily_contacts

    now = now or timezone.now()
    day = day or timezone.localdate(now)
    start, end = _day_bounds(day)
    end = min(end, now)
    recipients = [settings.WEBCARE_DEPARTMENT_EMAILS["customer_service"]]
    if not DailySummary.objects.filter(date=day).exists():
        contacts = daily_contacts(start=start, end=end)
        body = render_to_string(
            "reporting/daily_summary.txt",
            {
                "day": day,
                "start": start,
                "end": end,
                "team_name": settings.WEBCARE_TEAM_NAME,
                **contacts,
            },
        )
        try:
            with transaction.atomic():
                DailySummary.objects.create(
                    date=day, body=body, recipients=recipients, created_at=now
                )
        except IntegrityError:
            pass  # another worker wrote it first; send theirs
    failure: Exception | None = None
    with transaction.atomic():
        summary = (
            DailySummary.objects.select_for_update(skip_locked=True)
            .filter(date=day)
            .first()
        )
        if summary is None or summary.sent_at is not None:
            return summary or DailySummary.objects.get(date=day)
        try:
            EmailMultiAlternatives(
                subject=f"{settings.WEBCARE_TEAM_NAME}: contacts of {day:%Y-%m-%d}",
                body=summary.body,
                to=summary.recipients,
            ).send(fail_silently=False)
        except (smtplib.SMTPException, OSError) as error:
            failure = error
        else:
            summary.sent_at = timezone.now()
            summary.save(update_fields=["sent_at"])
    if failure is not None:
        raise SurveyDeliveryError(
            f"daily summary: {type(failure).__name__}: {failure}",
            retry_in=timedelta(minutes=5),
        )
    return summary
