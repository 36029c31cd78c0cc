"""Reads for reports: NPS figures from SQL aggregates, the day's contacts.

NPS cohort: the surveys that reached the customer in [start, end), by the time they
were sent (or answered, for a personal link answered before it was marked sent),
answered whenever. So `sent` and the answers always describe the same surveys and
the response rate can never exceed 100%.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import (
    Coalesce,
    TruncDay,
    TruncMonth,
    TruncQuarter,
    TruncWeek,
    TruncYear,
)
from django.utils import timezone

from cases.access import restricted_departments
from cases.business_hours import Schedule, business_time_between, day_intervals
from cases.models import Case, CaseEvent, Escalation, Reply, Team, Topic
from reporting.models import Survey, SurveyStatus
from reporting.nps import NpsResult, compute_nps_from_counts
from sources.models import Category, Mention, Source

GROUPS = ("period", "agent", "team", "topic", "category", "source")
PERIODS = {
    "day": TruncDay,
    "week": TruncWeek,
    "month": TruncMonth,
    "quarter": TruncQuarter,
    "year": TruncYear,
}


@dataclass(frozen=True)
class NpsGroup:
    key: Hashable  # period start (date), user/team/topic/source id, category code
    label: str
    result: NpsResult

    def as_dict(self) -> dict:
        key = self.key.isoformat() if isinstance(self.key, date) else self.key
        return {"key": key, "label": self.label, **self.result.as_dict()}


def _counts() -> dict:
    answered = Q(status=SurveyStatus.ANSWERED, score__isnull=False)
    return {
        "sent": Count("pk", distinct=True),
        "promoters": Count("pk", filter=answered & Q(score__gte=9), distinct=True),
        "passives": Count(
            "pk", filter=answered & Q(score__gte=7, score__lte=8), distinct=True
        ),
        "detractors": Count("pk", filter=answered & Q(score__lte=6), distinct=True),
    }


def _result(row: dict) -> NpsResult:
    return compute_nps_from_counts(
        promoters=row["promoters"],
        passives=row["passives"],
        detractors=row["detractors"],
        sent=row["sent"],
    )


def _cohort(start: datetime, end: datetime):
    return Survey.objects.annotate(
        reached_at=Coalesce("sent_at", "responded_at")
    ).filter(reached_at__gte=start, reached_at__lt=end)


def _period_starts(start: datetime, end: datetime, period: str) -> list[date]:
    """Every period from the one containing `start` to the one before `end`."""
    zone = timezone.get_current_timezone()
    first = timezone.localtime(start, zone).date()
    last = timezone.localtime(end - timedelta(microseconds=1), zone).date()
    if period == "day":
        step = first
    elif period == "week":
        step = first - timedelta(days=first.weekday())
    elif period == "month":
        step = first.replace(day=1)
    elif period == "quarter":
        step = first.replace(month=(first.month - 1) // 3 * 3 + 1, day=1)
    else:
        step = first.replace(month=1, day=1)
    starts = []
    while step <= last:
        starts.append(step)
        if period == "day":
            step += timedelta(days=1)
        elif period == "week":
            step += timedelta(days=7)
        else:
            months = {"month": 1, "quarter": 3, "year": 12}[period]
            month_index = step.month - 1 + months
            step = step.replace(
                year=step.year + month_index // 12, month=month_index % 12 + 1
            )
    return starts


class BusinessClock:
    """Open time of one schedule as a running total, for reports over many cases.

    `between(start, end)` equals `business_time_between(schedule, start, end)`, but
    costs a binary search instead of building every day's opening intervals again:
    the open time up to an instant is the total of the intervals before it plus the
    part of the one it falls in. The intervals are built once, from the local day of
    `since` onwards, and extended as later instants come; instants before `since`,
    or more than MAX_AHEAD_DAYS past the last built day, are computed directly.
    """

    MAX_AHEAD_DAYS = 800

    def __init__(self, schedule: Schedule, *, since: datetime):
        self.schedule = schedule
        self.first_day = self._local_date(since)
        # A block running to midnight belongs to the day before.
        self.next_day = self.first_day - timedelta(days=1)
        self.opens: list[datetime] = []
        self.closes: list[datetime] = []
        self.open_before: list[timedelta] = []  # open time before opens[i]
        self.total = timedelta(0)
        self.additive = True

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.schedule.timezone).date()

    def _cover(self, last_day: date) -> bool:
        """Build the intervals up to `last_day`; False if they cannot be added up."""
        if not self.additive or (last_day - self.next_day).days > self.MAX_AHEAD_DAYS:
            return False
        while self.next_day <= last_day:
            for opens, closes in day_intervals(self.schedule, self.next_day):
                if self.closes and opens < self.closes[-1]:
                    # Overlapping intervals would be counted twice by the
                    # subtraction but not by business_time_between.
                    self.additive = False
                    return False
                self.opens.append(opens)
                self.closes.append(closes)
                self.open_before.append(self.total)
                self.total += closes - opens
            self.next_day += timedelta(days=1)
        return True

    def _open_until(self, instant: datetime) -> timedelta:
        index = bisect_right(self.opens, instant) - 1
        if index < 0:
            return timedelta(0)
        return (
            self.open_before[index]
            + min(self.closes[index], instant)
            - (self.opens[index])
        )

    def between(self, start: datetime, end: datetime) -> timedelta:
        if end <= start:
            return timedelta(0)
        start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
        if self._local_date(start_utc) < self.first_day or not self._cover(
            self._local_date(end_utc)
        ):
            return business_time_between(self.schedule, start, end)
        return self._open_until(end_utc) - self._open_until(start_utc)


def nps_figures(
    *,
    start: datetime,
    end: datetime,
    group_by: str | None = None,
    period: str = "month",
) -> NpsResult | list[NpsGroup]:
    """NPS, response rate, counts per band and the 95% margin for [start, end).

    Without group_by: one NpsResult. With group_by: a list of NpsGroup, one per
    period (every period in the range, empty ones included, oldest first), or one
    per agent, team, topic, category or source (largest cohort first). A case with
    two topics counts under both; a case without one is under key None.
    """
    if group_by is not None and group_by not in GROUPS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPS)} or None")
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    if start >= end:
        raise ValueError("start must be before end")
    cohort = _cohort(start, end)
    if group_by is None:
        return _result(cohort.aggregate(**_counts()))

    if group_by == "period":
        zone = timezone.get_current_timezone()
        rows = (
            cohort.annotate(key=PERIODS[period]("reached_at", tzinfo=zone))
            .values("key")
            .annotate(**_counts())
        )
        by_key = {}
        for row in rows:
            key = row["key"]
            # Trunc of a datetime gives an aware datetime; the period is its date.
            by_key[timezone.localtime(key, zone).date()] = row
        empty = {"sent": 0, "promoters": 0, "passives": 0, "detractors": 0}
        return [
            NpsGroup(
                key=day, label=day.isoformat(), result=_result(by_key.get(day, empty))
            )
            for day in _period_starts(start, end, period)
        ]

    key_expression = {
        "agent": F("case__assignee"),
        "team": F("case__team"),
        "topic": F("case__topics"),
        "category": F("case__category"),
        # The source of the first mention of the case: where the customer came from.
        "source": Subquery(
            Mention.objects.filter(case=OuterRef("case"))
            .order_by("published_at", "id")
            .values("source_id")[:1]
        ),
    }[group_by]
    rows = list(
        cohort.annotate(key=key_expression)
        .values("key")
        .annotate(**_counts())
        .order_by()
    )
    labels = _labels(group_by, [row["key"] for row in rows])
    groups = [
        NpsGroup(key=row["key"], label=labels.get(row["key"], ""), result=_result(row))
        for row in rows
    ]
    groups.sort(key=lambda group: (-group.result.sent, group.label))
    return groups


def _labels(group_by: str, keys: list) -> dict:
    present = [key for key in keys if key not in (None, "")]
    if group_by == "agent":
        users = get_user_model().objects.filter(pk__in=present)
        labels = {
            user.pk: user.get_full_name() or user.get_username() for user in users
        }
        labels[None] = "Unassigned"
    elif group_by == "team":
        labels = dict(Team.objects.filter(pk__in=present).values_list("pk", "name"))
        labels[None] = "No team"
    elif group_by == "topic":
        labels = dict(Topic.objects.filter(pk__in=present).values_list("pk", "name"))
        labels[None] = "No topic"
    elif group_by == "source":
        labels = dict(Source.objects.filter(pk__in=present).values_list("pk", "name"))
        labels[None] = "No source"
    else:
        labels = dict(Category.choices)
        labels[""] = "Uncategorised"
    return labels


def daily_contacts(*, start: datetime, end: datetime) -> dict:
    """Every case with activity in [start, end), with what happened to it then."""
    in_window = Q(events__created_at__gte=start, events__created_at__lt=end)
    cases = (
        Case.objects.filter(
            pk__in=CaseEvent.objects.filter(
                created_at__gte=start, created_at__lt=end
            ).values("case_id")
        )
        .select_related("customer", "assignee", "team")
        .annotate(
            events_in_window=Count("events", filter=in_window, distinct=True),
        )
        .order_by("created_at", "pk")
    )
    replies = dict(
        Reply.objects.filter(sent_at__gte=start, sent_at__lt=end)
        .values("case_id")
        .annotate(count=Count("pk"))
        .values_list("case_id", "count")
    )
    escalations: dict[int, list[str]] = {}
    # The summary goes to customer service: restricted escalations (security) stay
    # with the people involved (cases.access).
    for case_id, department in (
        Escalation.objects.filter(requested_at__gte=start, requested_at__lt=end)
        .exclude(department__in=restricted_departments())
        .values_list("case_id", "department")
    ):
        escalations.setdefault(case_id, []).append(department)
    rows = [
        {
            "case": case,
            "replies": replies.get(case.pk, 0),
            "escalated_to": escalations.get(case.pk, []),
            "is_new": start <= case.created_at < end,
        }
        for case in cases
    ]
    return {
        "contacts": rows,
        "opened": sum(1 for row in rows if row["is_new"]),
        "resolved": Case.objects.filter(
            resolved_at__gte=start, resolved_at__lt=end
        ).count(),
        "still_open": sum(1 for row in rows if row["case"].is_active),
        "escalations": sum(len(value) for value in escalations.values()),
        "nps": nps_figures(start=start, end=end),
    }
