"""Reads with a rule: a team's opening hours, the target for a case, the queues."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Exists, Max, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from cases.business_hours import DEFAULT_CONFIG, Schedule
from cases.models import (
    ACTIVE_STATUSES,
    Case,
    Commitment,
    CommitmentStatus,
    Holiday,
    ServiceTarget,
    Team,
    Topic,
)


def team_schedule(team: Team | None) -> Schedule:
    """The team's opening hours with the Dutch public holidays and every Holiday.

    `Team.opening_hours` overrides keys of the default config (usually just
    "blocks"); the Holiday rows close the day for every team.
    """
    config = {**DEFAULT_CONFIG, **((team.opening_hours if team else None) or {})}
    holidays = [*config.get("holidays", ())]
    holidays.extend(Holiday.objects.values_list("date", flat=True))
    config["holidays"] = holidays
    return Schedule.from_config(config)


def service_target_for(*, priority: str, channel: str) -> ServiceTarget | None:
    """The target for this priority on this channel, else for any channel."""
    targets = {
        target.channel: target
        for target in ServiceTarget.objects.filter(
            priority=priority, channel__in={channel, ""}
        )
    }
    return targets.get(channel) or targets.get("")


def service_targets_by_key() -> dict[tuple[str, str], ServiceTarget]:
    """Every target by (priority, channel), for tasks that look up many cases."""
    return {(t.priority, t.channel): t for t in ServiceTarget.objects.all()}


def target_from(
    targets: dict[tuple[str, str], ServiceTarget], *, priority: str, channel: str
) -> ServiceTarget | None:
    return targets.get((priority, channel)) or targets.get((priority, ""))


def overdue_commitments_exist():
    return Exists(
        Commitment.objects.filter(
            case=OuterRef("pk"),
            status=CommitmentStatus.OPEN,
            due_at__lt=timezone.now(),
        )
    )


def queue_for_user(user) -> QuerySet[Case]:
    """The user's own active cases, most urgent first."""
    return Case.objects.for_queue().filter(assignee=user)


def team_queue(team: Team | None) -> QuerySet[Case]:
    """A team's active cases, most urgent first; every team's without a team."""
    queue = Case.objects.for_queue()
    return queue.filter(team=team) if team is not None else queue


def overdue_cases(now: datetime | None = None) -> QuerySet[Case]:
    """Active cases past a due time, or with a promise past its due time."""
    now = now or timezone.now()
    return (
        Case.objects.active()
        .annotate(has_overdue_commitment=overdue_commitments_exist())
        .filter(Q(next_due_at__lt=now) | Q(has_overdue_commitment=True))
    )


def structural_cases(start: datetime, end: datetime) -> QuerySet[Case]:
    """Cases opened in [start, end) that show a product, process or service problem."""
    return Case.objects.filter(
        is_structural=True, created_at__gte=start, created_at__lt=end
    )


def structural_issues_by_topic(start: datetime, end: datetime) -> QuerySet[Topic]:
    """Topics with structural cases opened in [start, end), most cases first.

    Each topic is annotated with `case_count`, `active_count`, `first_case_at` and
    `last_case_at`. A case with several topics counts once for each of them; cases
    without a topic are in `structural_cases(start, end).filter(topics=None)`.
    """
    in_period = Q(
        cases__is_structural=True,
        cases__created_at__gte=start,
        cases__created_at__lt=end,
    )
    return (
        Topic.objects.annotate(
            case_count=Count("cases", filter=in_period, distinct=True),
            active_count=Count(
                "cases",
                filter=in_period & Q(cases__status__in=ACTIVE_STATUSES),
                distinct=True,
            ),
            first_case_at=Min("cases__created_at", filter=in_period),
            last_case_at=Max("cases__created_at", filter=in_period),
        )
        .filter(case_count__gt=0)
        .order_by("-case_count", "name")
    )
