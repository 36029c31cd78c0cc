"""Promises to the customer: making, keeping, cancelling, and their reminders."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from cases import events, notifications
from cases.business_hours import is_open
from cases.models import ACTIVE_STATUSES, Case, Commitment, CommitmentStatus, EventKind
from cases.selectors import team_schedule
from cases.services.common import (
    BATCH_SIZE,
    COMMITMENT_REMINDER_LEAD,
    CaseError,
    InvalidTransition,
    _check_permission,
    _lock,
    _refresh_next_due,
)
from sources.models import Priority

# --- Commitments ("afspraak = afspraak") --------------------------------------------


@transaction.atomic
def commitment_make(
    *,
    case: Case,
    owner,
    description: str,
    due_at: datetime,
    actor=None,
    actor_label: str = "",
) -> Commitment:
    """A promise to the customer (call back, follow up) that is tracked until kept."""
    _check_permission(actor, "add_commitment")
    description = " ".join((description or "").split())
    if not description:
        raise CaseError("Say what was promised.")
    if owner is None or not owner.is_active:
        raise CaseError("A commitment needs an active owner.")
    if timezone.is_naive(due_at):
        raise CaseError("The due time needs a time zone.")
    if due_at <= timezone.now():
        raise CaseError("The due time of a commitment must be in the future.")
    case = _lock(case)
    if case.status not in ACTIVE_STATUSES:
        raise InvalidTransition(
            f"A {case.get_status_display().lower()} case cannot take a commitment; "
            "reopen it first."
        )
    commitment = Commitment.objects.create(
        case=case,
        owner=owner,
        description=description[:500],
        due_at=due_at,
        created_by=actor,
        created_at=timezone.now(),
    )
    events.commitment_event(
        commitment=commitment,
        kind=EventKind.COMMITMENT_MADE,
        actor=actor,
        actor_label=actor_label,
    )
    _refresh_next_due(case)
    case.save(update_fields=["next_due_at", "updated_at"])
    return commitment


class _CommitmentMoved(Exception):
    """The commitment's case changed (a merge) while we waited for its lock."""


# More hops than any real chain of merges; each hop waited for a committed merge.
_MAX_CASE_HOPS = 5


def _lock_case_of(commitment_id: int) -> tuple[Case, Commitment]:
    """The commitment's case and the commitment, locked in that order: the order
    every other service locks in (a merge locks cases, then moves their open
    commitments), so the two cannot deadlock.

    The case id read before locking may be stale: a merge that held the case
    moves the commitment to the surviving case. So the commitment is read again
    under the case's lock; if it moved, the savepoint is rolled back (releasing
    the old case's lock, so only one case is ever held) and the new case locked.
    """
    for _hop in range(_MAX_CASE_HOPS):
        case_id = Commitment.objects.values_list("case_id", flat=True).get(
            pk=commitment_id
        )
        try:
            with transaction.atomic():
                case = Case.objects.select_for_update().get(pk=case_id)
                commitment = Commitment.objects.select_for_update().get(
                    pk=commitment_id
                )
                if commitment.case_id != case.pk:
                    raise _CommitmentMoved
        except _CommitmentMoved:
            continue
        return case, commitment
    raise CaseError("The case of this commitment keeps changing; try again.")


def _close_commitment(commitment, new_status, kind, *, actor, actor_label):
    case, commitment = _lock_case_of(commitment.pk)
    if commitment.status != CommitmentStatus.OPEN:
        raise InvalidTransition(
            f"This commitment is already {commitment.get_status_display().lower()}."
        )
    commitment.status = new_status
    if new_status == CommitmentStatus.KEPT:
        commitment.kept_at = timezone.now()
    commitment.save()
    commitment.case = case
    events.commitment_event(
        commitment=commitment, kind=kind, actor=actor, actor_label=actor_label
    )
    _refresh_next_due(case)
    case.save(update_fields=["next_due_at", "updated_at"])
    return commitment


@transaction.atomic
def commitment_keep(
    *, commitment: Commitment, actor=None, actor_label: str = ""
) -> Commitment:
    _check_permission(actor, "change_commitment")
    return _close_commitment(
        commitment,
        CommitmentStatus.KEPT,
        EventKind.COMMITMENT_KEPT,
        actor=actor,
        actor_label=actor_label,
    )


@transaction.atomic
def commitment_cancel(
    *, commitment: Commitment, actor=None, actor_label: str = ""
) -> Commitment:
    _check_permission(actor, "change_commitment")
    return _close_commitment(
        commitment,
        CommitmentStatus.CANCELLED,
        EventKind.COMMITMENT_CANCELLED,
        actor=actor,
        actor_label=actor_label,
    )


@dataclass
class ReminderReport:
    reminded: list[int] = field(default_factory=list)
    overdue: list[int] = field(default_factory=list)


def commitment_reminders_send(
    *,
    now: datetime | None = None,
    actor_label: str = "system:send_commitment_reminders",
) -> ReminderReport:
    """Remind each owner once shortly before a promise is due, and tell the owner
    and the team once when it is overdue. Claimed like the deadline check, so a
    rerun sends nothing twice; each notice is written with its claim and sent by
    the outbox (webcare.notices), retried until delivered. The team hears of a
    non-urgent overdue promise only in its opening hours."""
    now = now or timezone.now()
    report = ReminderReport()
    due_soon = Commitment.objects.filter(
        status=CommitmentStatus.OPEN,
        reminder_sent_at__isnull=True,
        due_at__gt=now,
        due_at__lte=now + COMMITMENT_REMINDER_LEAD,
    ).order_by("due_at")
    for commitment_id in due_soon.values_list("pk", flat=True)[:BATCH_SIZE]:
        with transaction.atomic():
            # Case, then commitment: the order a merge locks in.
            try:
                _case, commitment = _lock_case_of(commitment_id)
            except Commitment.DoesNotExist:
                continue  # deleted with its case meanwhile
            if (
                commitment.status == CommitmentStatus.OPEN
                and commitment.reminder_sent_at is None
            ):
                commitment.reminder_sent_at = now
                commitment.save(update_fields=["reminder_sent_at"])
                report.reminded.append(commitment_id)
                # In the claim's transaction: the outbox sends it after commit.
                notifications.commitment_reminder_notify(commitment_id=commitment_id)
    overdue = Commitment.objects.filter(
        status=CommitmentStatus.OPEN,
        overdue_notified_at__isnull=True,
        due_at__lte=now,
    ).select_related("case__team")
    schedules: dict[int | None, bool] = {}
    for commitment in overdue.order_by("due_at")[:BATCH_SIZE]:
        team = commitment.case.team
        key = team.pk if team else None
        if key not in schedules:
            schedules[key] = is_open(team_schedule(team), now)
        if not schedules[key] and commitment.case.priority != Priority.URGENT:
            continue
        with transaction.atomic():
            # Case, then commitment (as a merge locks), and the case it is on now.
            try:
                case, locked = _lock_case_of(commitment.pk)
            except Commitment.DoesNotExist:
                continue
            if (
                locked.status == CommitmentStatus.OPEN
                and locked.overdue_notified_at is None
            ):
                locked.overdue_notified_at = now
                # Too late for a reminder now; the overdue notice says it all.
                locked.reminder_sent_at = locked.reminder_sent_at or now
                locked.save(update_fields=["overdue_notified_at", "reminder_sent_at"])
                report.overdue.append(commitment.pk)
                events.target_breached_event(
                    case=case,
                    target="commitment",
                    due_at=commitment.due_at,
                    actor_label=actor_label,
                    commitment_id=commitment.pk,
                )
                notifications.commitment_overdue_notify(commitment_id=commitment.pk)
    return report
