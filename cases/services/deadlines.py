"""The periodic deadline check: targets about to breach and breached, per team."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from cases import events, notifications
from cases.business_hours import (
    Schedule,
    add_business_time,
    business_time_between,
    is_open,
)
from cases.models import (
    ACTIVE_STATUSES,
    Case,
    CaseStatus,
    Escalation,
    EscalationStatus,
    Team,
)
from cases.selectors import service_targets_by_key, target_from, team_schedule
from cases.services.common import BATCH_SIZE, WARNING_LEAD
from sources.models import Priority

# --- Deadlines: targets and promises (run by the periodic tasks) --------------------


@dataclass
class DeadlineReport:
    """What one run flagged; every item was claimed by this run only."""

    warnings: list[tuple[int, str]] = field(default_factory=list)
    breaches: list[tuple[int, str]] = field(default_factory=list)
    escalation_breaches: list[int] = field(default_factory=list)
    postponed_teams: list[int | None] = field(default_factory=list)


_TARGET_FIELDS = {
    # target: (due field, warned field, breached field, "done" filter)
    "first_response": (
        "first_response_due_at",
        "first_response_warned_at",
        "first_response_breached_at",
        Q(first_response_at__isnull=True),
    ),
    "resolution": (
        "resolution_due_at",
        "resolution_warned_at",
        "resolution_breached_at",
        # Waiting on the customer stops the resolution clock.
        ~Q(status=CaseStatus.WAITING),
    ),
}


def _lead_for(target_obj, target: str) -> timedelta:
    if target_obj is None:
        return WARNING_LEAD
    duration = getattr(target_obj, target)
    return min(WARNING_LEAD, duration / 4)


def case_deadlines_check(
    *, now: datetime | None = None, actor_label: str = "system:check_case_deadlines"
) -> DeadlineReport:
    """Flag cases about to breach and breached, once each, and tell each team.

    Every flag is claimed with a conditional UPDATE (`... WHERE warned_at IS NULL`)
    and counted: a second run, or a second worker at the same moment, finds
    nothing left to claim, so no notice is written twice. The notice is written
    in the same transaction as the flags (webcare.notices), so a mail server that
    is down delays it but never loses it. Outside the team's hours
    only urgent cases are flagged; the others wait for the next opening.
    """
    now = now or timezone.now()
    report = DeadlineReport()
    targets = service_targets_by_key()
    # Cases whose team was deleted are checked on the default hours.
    for team in [*Team.objects.all(), None]:
        schedule = team_schedule(team)
        open_now = is_open(schedule, now)
        team_id = team.pk if team else None
        if not open_now:
            report.postponed_teams.append(team_id)
        with transaction.atomic():
            claimed = _check_team_cases(
                team,
                schedule,
                targets,
                now=now,
                open_now=open_now,
                actor_label=actor_label,
            )
            escalations = _check_escalation_acknowledgements(
                team, now=now, open_now=open_now, actor_label=actor_label
            )
            if claimed["warnings"] or claimed["breaches"] or escalations:
                # In the claim's transaction: a committed flag always has its
                # notice, sent after commit and retried by the outbox until it is.
                notifications.target_digest_notify(
                    team_id=team_id,
                    warnings=claimed["warnings"],
                    breaches=claimed["breaches"],
                    escalation_ids=escalations,
                )
        report.warnings.extend(claimed["warnings"])
        report.breaches.extend(claimed["breaches"])
        report.escalation_breaches.extend(escalations)
    return report


def _check_team_cases(
    team: Team | None,
    schedule: Schedule,
    targets,
    *,
    now: datetime,
    open_now: bool,
    actor_label: str,
) -> dict[str, list[tuple[int, str]]]:
    claimed: dict[str, list[tuple[int, str]]] = defaultdict(list)
    base = Case.objects.filter(team=team, status__in=ACTIVE_STATUSES)
    if not open_now:
        base = base.filter(priority=Priority.URGENT)
    horizon = add_business_time(schedule, now, WARNING_LEAD)
    for target, (
        due_field,
        warned_field,
        breached_field,
        pending,
    ) in _TARGET_FIELDS.items():
        candidates = base.filter(pending).filter(
            **{f"{due_field}__isnull": False, f"{breached_field}__isnull": True}
        )
        # Breaches first: a case found past due is not also warned about.
        for case_id, due in (
            candidates.filter(**{f"{due_field}__lte": now})
            .order_by(due_field)
            .values_list("pk", due_field)[:BATCH_SIZE]
        ):
            won = (
                Case.objects.filter(pk=case_id, **{f"{breached_field}__isnull": True})
                .filter(pending)
                .update(
                    **{
                        breached_field: now,
                        warned_field: Coalesce(F(warned_field), now),
                    }
                )
            )
            if won:
                claimed["breaches"].append((case_id, target))
                events.target_breached_event(
                    case=Case(pk=case_id),
                    target=target,
                    due_at=due,
                    actor_label=actor_label,
                )
        for case_id, due, priority, channel in (
            candidates.filter(
                **{
                    f"{due_field}__gt": now,
                    f"{due_field}__lte": horizon,
                    f"{warned_field}__isnull": True,
                }
            )
            .order_by(due_field)
            .values_list("pk", due_field, "priority", "channel")[:BATCH_SIZE]
        ):
            lead = _lead_for(
                target_from(targets, priority=priority, channel=channel), target
            )
            if business_time_between(schedule, now, due) > lead:
                continue
            won = (
                Case.objects.filter(
                    pk=case_id,
                    **{
                        f"{warned_field}__isnull": True,
                        f"{breached_field}__isnull": True,
                    },
                )
                .filter(pending)
                .update(**{warned_field: now})
            )
            if won:
                claimed["warnings"].append((case_id, target))
                events.target_warning_event(
                    case=Case(pk=case_id),
                    target=target,
                    due_at=due,
                    actor_label=actor_label,
                )
    return claimed


def _check_escalation_acknowledgements(
    team: Team | None, *, now: datetime, open_now: bool, actor_label: str
) -> list[int]:
    late = Escalation.objects.filter(
        case__team=team,
        status=EscalationStatus.OPEN,
        acknowledgement_due_at__lte=now,
        acknowledgement_breached_at__isnull=True,
    )
    if not open_now:
        late = late.filter(case__priority=Priority.URGENT)
    claimed = []
    for escalation_id, case_id, due, department in late.order_by(
        "acknowledgement_due_at"
    ).values_list("pk", "case_id", "acknowledgement_due_at", "department")[:BATCH_SIZE]:
        won = Escalation.objects.filter(
            pk=escalation_id,
            status=EscalationStatus.OPEN,
            acknowledgement_breached_at__isnull=True,
        ).update(acknowledgement_breached_at=now)
        if won:
            claimed.append(escalation_id)
            events.target_breached_event(
                case=Case(pk=case_id),
                target="escalation_acknowledgement",
                due_at=due,
                actor_label=actor_label,
                escalation_id=escalation_id,
                department=department,
            )
    return claimed
