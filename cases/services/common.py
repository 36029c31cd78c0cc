"""Shared by the case services: errors, constants, permission and status helpers."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Sum
from django.db.models.functions import Coalesce

from cases import events
from cases.business_hours import add_business_time, business_time_between
from cases.models import (
    ACTIVE_STATUSES,
    Case,
    CaseStatus,
    EscalationStatus,
    EventKind,
    Team,
)
from cases.selectors import service_target_for, team_schedule
from sources.models import REACH_EXPRESSION, Department, Mention
from webcare.errors import ServiceError, ServicePermissionDenied, StateConflict


class CaseError(ServiceError):
    """A rule stopped the change; the message is meant for the user."""


class InvalidTransition(CaseError, StateConflict):
    pass


class CasePermissionDenied(CaseError, ServicePermissionDenied):
    pass


# --- Helpers -----------------------------------------------------------------------

_STATUS_VERBS = {
    CaseStatus.OPEN: "opened",
    CaseStatus.WAITING: "set to wait for the customer",
    CaseStatus.ESCALATED: "escalated",
    CaseStatus.RESOLVED: "resolved",
    CaseStatus.CLOSED: "closed",
}
_STATUS_HINTS = {
    CaseStatus.NEW: "; assign it or reply first",
    CaseStatus.RESOLVED: "; reopen it first",
    CaseStatus.CLOSED: "; reopen it first",
}
_PERMISSION_WORDS = {
    "add_case": "open cases",
    "change_case": "change cases",
    "assign_case": "assign cases",
    "reply_case": "reply to cases",
    "escalate_case": "escalate cases",
    "resolve_case": "resolve, close or reopen cases",
    "merge_case": "merge cases",
    "add_note": "add notes",
    "change_escalation": "acknowledge or resolve escalations",
    "add_commitment": "make commitments",
    "change_commitment": "keep or cancel commitments",
    "change_agent": "change agents",
}
UPDATABLE_FIELDS = frozenset(
    {
        "priority",
        "category",
        "subject",
        "topics",
        "is_structural",
        "structural_note",
        "crm_customer_id",
        "team",
    }
)
# Within this much business time of a due time a case is "about to breach"
# (a quarter of the target when that is shorter, so urgent cases are not
# flagged the moment they open).
WARNING_LEAD = timedelta(minutes=30)
COMMITMENT_REMINDER_LEAD = timedelta(minutes=30)
# Bounded batches: a rerun picks up the rest.
BATCH_SIZE = 500


def _name(user: AbstractBaseUser) -> str:
    return user.get_full_name() or user.get_username()


def _check_permission(actor: AbstractBaseUser | None, codename: str) -> None:
    if actor is None:
        return
    if not actor.is_active or not actor.has_perm(f"cases.{codename}"):
        raise CasePermissionDenied(
            f"{_name(actor)} may not {_PERMISSION_WORDS.get(codename, codename)}."
        )


def _lock(case: Case) -> Case:
    """The case's row, locked until the end of the transaction, as it is now."""
    return Case.objects.select_for_update().get(pk=case.pk)


def _transition_error(case: Case, new: str) -> InvalidTransition:
    if case.status == new:
        return InvalidTransition(
            f"Case #{case.pk} is already {case.get_status_display().lower()}."
        )
    if case.merged_into_id:
        return InvalidTransition(
            f"Case #{case.pk} was merged into case #{case.merged_into_id}; "
            "work on that case."
        )
    article = "An" if case.status in (CaseStatus.OPEN, CaseStatus.ESCALATED) else "A"
    label = case.get_status_display().lower()
    if case.status == CaseStatus.WAITING:
        label = "waiting"
    return InvalidTransition(
        f"{article} {label} case cannot be {_STATUS_VERBS[new]}"
        f"{_STATUS_HINTS.get(case.status, '')}."
    )


def _set_status(
    case: Case,
    new: str,
    *,
    now: datetime,
    actor,
    actor_label: str,
    reason: str = "",
) -> None:
    """Move a locked case along the state machine; the caller saves it."""
    if not case.can_move_to(new) or (case.merged_into_id and new != CaseStatus.CLOSED):
        raise _transition_error(case, new)
    old = case.status
    if old == CaseStatus.WAITING and new in ACTIVE_STATUSES:
        _resume_resolution_clock(case, now=now)
    case.status = new
    events.case_status_changed_event(
        case=case,
        old=old,
        new=new,
        reason=reason,
        actor=actor,
        actor_label=actor_label,
    )


def _resume_resolution_clock(case: Case, *, now: datetime) -> None:
    """The resolution clock stops while waiting on the customer: move the due time.

    The business time that was left when the wait began is left again now.
    """
    if case.resolution_due_at is None or case.resolution_breached_at is not None:
        return
    waiting_since = (
        case.events.filter(kind=EventKind.STATUS_CHANGED, data__to=CaseStatus.WAITING)
        .order_by("-created_at", "-id")
        .values_list("created_at", flat=True)
        .first()
    )
    if waiting_since is None or case.resolution_due_at <= waiting_since:
        return
    schedule = team_schedule(case.team)
    left = business_time_between(schedule, waiting_since, case.resolution_due_at)
    case.resolution_due_at = add_business_time(schedule, now, left)
    case.resolution_warned_at = None


def _refresh_next_due(case: Case) -> None:
    """`next_due_at`: the earliest due time still open, which sorts the queue."""
    candidates = []
    if case.status in ACTIVE_STATUSES:
        if case.first_response_at is None and case.first_response_due_at:
            candidates.append(case.first_response_due_at)
        # While waiting on the customer the resolution clock is stopped.
        if case.status != CaseStatus.WAITING and case.resolution_due_at:
            candidates.append(case.resolution_due_at)
        if case.pk:
            promise = (
                case.commitments.open()
                .order_by("due_at")
                .values_list("due_at", flat=True)
                .first()
            )
            if promise:
                candidates.append(promise)
    case.next_due_at = min(candidates) if candidates else None


def _compute_targets(case: Case, *, now: datetime, reset_resolution: bool) -> None:
    """Due times from the service target for the case's priority and channel.

    First response counts from when the case was opened; a reopened case gets a
    fresh resolution target from now. A later due time clears the notices so the
    team is told again about the new one.
    """
    target = service_target_for(priority=case.priority, channel=case.channel)
    if target is None:
        case.first_response_due_at = case.resolution_due_at = None
        return
    schedule = team_schedule(case.team)
    if case.first_response_at is None:
        due = add_business_time(schedule, case.created_at, target.first_response)
        if due != case.first_response_due_at:
            case.first_response_due_at = due
            if due > now:
                case.first_response_warned_at = case.first_response_breached_at = None
    start = now if reset_resolution else case.created_at
    due = add_business_time(schedule, start, target.resolution)
    if due != case.resolution_due_at:
        case.resolution_due_at = due
        if due > now:
            case.resolution_warned_at = case.resolution_breached_at = None


def _default_team() -> Team:
    team, _ = Team.objects.get_or_create(
        name=settings.WEBCARE_TEAM_NAME,
        defaults={"email": settings.WEBCARE_TEAM_EMAIL},
    )
    return team


def _actor_id(actor: AbstractBaseUser | None) -> int | None:
    return actor.pk if actor is not None else None


def _refresh_reach(case: Case) -> None:
    total = Mention.objects.filter(case=case).aggregate(
        total=Coalesce(Sum(REACH_EXPRESSION), 0)
    )["total"]
    case.reach = max(total, 0)


def _refuse_with_open_work(case: Case, verb: str) -> None:
    """A case is not finished while a department or a promise still owes something."""
    for message in (
        _open_escalations_message(case, verb),
        _open_commitments_message(case, verb),
    ):
        if message:
            raise CaseError(message)


def _open_escalations_message(case: Case, verb: str) -> str | None:
    open_departments = sorted(
        Department(department).label
        for department in case.escalations.exclude(
            status=EscalationStatus.RESOLVED
        ).values_list("department", flat=True)
    )
    if open_departments:
        return (
            f"Case #{case.pk} has open escalations ({', '.join(open_departments)}); "
            f"they must be resolved before the case is {verb}."
        )
    return None


def _open_commitments_message(case: Case, verb: str) -> str | None:
    promise = case.commitments.open().first()
    if promise:
        return (
            f"Case #{case.pk} has an open commitment ({promise.description}); keep or "
            f"cancel it before the case is {verb}."
        )
    return None
