"""Scheduling a survey when a case is resolved, cancelling, resending, opt-out."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from cases.events import case_event
from cases.models import Case, CaseStatus, EventKind
from reporting.models import Survey, SurveyChannel, SurveyStatus
from reporting.services.surveys import (
    DEFAULT_LANGUAGE,
    EXCLUDED_CLOSE_REASONS,
    OPEN_STATUSES,
    SUPPORTED_LANGUAGES,
    UNSENT_STATUSES,
    SurveyError,
)
from sources.models import Author
from webcare.celery import enqueue_on_commit

logger = logging.getLogger(__name__)


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


# The first key of PostgreSQL's two-key advisory locks that guard one customer's
# survey quarantine ("SQ"); the second is a hash of one identity of the customer.
_ADVISORY_NAMESPACE = 0x5351


def _identity_keys(customer: Author) -> list[int]:
    """One 32-bit key per way a customer is known across accounts, sorted."""
    identities = {f"author:{customer.pk}"}
    if customer.email:
        # casefold: never less than iexact matches (a collision only serialises more).
        identities.add(f"email:{customer.email.strip().casefold()}")
    if customer.crm_customer_id:
        identities.add(f"crm:{customer.crm_customer_id.strip()}")
    return sorted(
        {
            int.from_bytes(
                hashlib.blake2b(identity.encode(), digest_size=4).digest(),
                "big",
                signed=True,
            )
            for identity in identities
        }
    )


def _lock_customer_identity(customer: Author) -> None:
    """Serialise the quarantine check of one customer under all their accounts.

    Two accounts of one person (the same email in any case, or the same CRM id)
    share no row to lock, so two cases resolved at once would both pass the check
    and both schedule a survey. A transaction-level advisory lock per identity,
    taken in sorted key order (so two customers sharing some identities cannot
    deadlock), is held until the resolve commits and makes the second wait and
    then see the first's survey. SQLite serialises writers anyway.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for key in _identity_keys(customer):
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s::integer, %s::integer)",
                [_ADVISORY_NAMESPACE, key],
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
        # Lock the case, then the customer's identities, then the account: concurrent
        # resolves of two cases of one customer cannot both pass the quarantine.
        case = Case.objects.select_for_update().get(pk=case.pk)
        if case.customer_id is not None:
            _lock_customer_identity(case.customer)
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


def _lock_case_then_survey(survey: Survey) -> Survey:
    """The survey's case, then the survey, locked: the one lock order everywhere
    (a case event written under the survey's lock needs the case)."""
    Case.objects.select_for_update().filter(pk=survey.case_id).first()
    return Survey.objects.select_for_update().get(pk=survey.pk)


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
    """Cancel the case's survey that has not been sent yet (on reopen, merge, close).

    Closing as spam, abuse or not a customer also withdraws a survey already sent.
    A survey claimed for sending counts as sent: its mail may be on its way, and a
    reopen or merge must not leave the customer a dead link.
    """
    withdraw_sent = reason in EXCLUDED_CLOSE_REASONS
    pending = Survey.objects.filter(
        case_id=case.pk,
        status__in=OPEN_STATUSES if withdraw_sent else UNSENT_STATUSES,
    )
    if not withdraw_sent:
        pending = pending.filter(send_claimed_until__isnull=True)
    with transaction.atomic():
        # The caller holds the case's lock; the survey's comes after it.
        survey = pending.select_for_update().first()
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
        survey = _lock_case_then_survey(survey)
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
    now = timezone.now()
    with transaction.atomic():
        survey = _lock_case_then_survey(survey)
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
        enqueue_on_commit("reporting.tasks.send_survey", survey.pk)
    return survey


def survey_opt_out(*, survey: Survey, actor_label: str = "customer") -> int:
    """The customer wants no more surveys: remember it and cancel what is unanswered.

    Returns how many surveys were cancelled.
    """
    now = timezone.now()
    with transaction.atomic():
        # Cases, then the customer, then surveys: the order scheduling uses.
        list(
            Case.objects.select_for_update()
            .filter(
                survey__recipient_id=survey.recipient_id,
                survey__status__in=OPEN_STATUSES,
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
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
