"""The CRM API for surveys (NPS) and report figures: NPS, response times, volumes."""

from __future__ import annotations

import statistics
from array import array
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

import django_filters
from django.conf import settings
from django.db.models import Count
from django.db.models.functions import TruncDay, TruncMonth, TruncWeek
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cases.models import Case, Escalation, Reply, Team
from cases.selectors import team_schedule
from reporting.api.serializers import (
    NpsQuerySerializer,
    NpsReportSerializer,
    ResponseTimeQuerySerializer,
    ResponseTimeReportSerializer,
    SurveyLinkSerializer,
    SurveySerializer,
    VolumeQuerySerializer,
    VolumeReportSerializer,
)
from reporting.models import Survey, SurveyChannel, SurveyStatus
from reporting.selectors import BusinessClock, nps_figures
from reporting.services import COPY_PERMISSION, survey_link_copy
from sources.models import Mention
from webcare.api.filters import Choices, IdFilter, datetime_range
from webcare.api.views import ERROR_RESPONSES, ApiViewSetMixin

TRUNC = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}
# Rows per fetch of the response-time report; only their durations are kept.
REPORT_CHUNK_SIZE = 2000


class SurveyFilter(django_filters.FilterSet):
    case = IdFilter(field_name="case_id")
    recipient = IdFilter(field_name="recipient_id")
    status = Choices(choices=SurveyStatus.choices)
    channel = django_filters.ChoiceFilter(choices=SurveyChannel.choices)
    score_min = django_filters.NumberFilter(field_name="score", lookup_expr="gte")
    score_max = django_filters.NumberFilter(field_name="score", lookup_expr="lte")
    responded_after, responded_before = datetime_range("responded_at", "Answered")
    created_after, created_before = datetime_range("created_at", "Created")

    class Meta:
        model = Survey
        fields = []


@extend_schema_view(
    list=extend_schema(summary="NPS surveys"),
    retrieve=extend_schema(summary="One survey"),
)
class SurveyViewSet(ApiViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Survey.objects.all()
    serializer_class = SurveySerializer
    filterset_class = SurveyFilter
    search_fields = ["comment", "subject"]
    ordering_fields = ["sync_position", "created_at", "id"]
    # The link lets anyone answer as the customer: only for clients that send it,
    # and for staff who may copy it (never the rated agent: the service checks).
    required_scopes = {"link": "write"}
    staff_permissions = {"link": (COPY_PERMISSION,)}

    @extend_schema(
        summary="The customer's personal survey link",
        description="For a CRM that sends the survey itself, e.g. in a private "
        "message. Treat it as a secret: whoever has it can answer. Every fetch is "
        "recorded on the case (a `survey_link_copied` event with the client's name); "
        "a cancelled or expired survey answers 409, and a staff session of an agent "
        "who helped on the case 403.",
        responses={200: SurveyLinkSerializer, **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def link(self, request, pk=None):
        survey = self.get_object()
        url = survey_link_copy(survey=survey, via="api", **self.actor())
        return Response(
            {
                "survey": survey.pk,
                "case": survey.case_id,
                "url": url,
                "status": survey.status,
            }
        )


def _seconds(values: Sequence[float]) -> dict:
    seconds = sorted(values)
    if not seconds:
        return {"median_seconds": None, "p90_seconds": None, "mean_seconds": None}
    p90_index = min(len(seconds) - 1, round(0.9 * (len(seconds) - 1)))
    return {
        "median_seconds": statistics.median(seconds),
        "p90_seconds": seconds[p90_index],
        "mean_seconds": statistics.fmean(seconds),
    }


class _Durations:
    """The durations of one group as packed floats (8 bytes each), not row tuples."""

    def __init__(self):
        self.opened = 0
        self.first, self.first_business = array("d"), array("d")
        self.resolution, self.resolution_business = array("d"), array("d")
        self.first_breached = self.resolution_breached = 0

    @classmethod
    def combined(cls, groups: Iterable[_Durations]) -> _Durations:
        total = cls()
        for group in groups:
            total.opened += group.opened
            total.first.extend(group.first)
            total.first_business.extend(group.first_business)
            total.resolution.extend(group.resolution)
            total.resolution_business.extend(group.resolution_business)
            total.first_breached += group.first_breached
            total.resolution_breached += group.resolution_breached
        return total

    def figures(self, key) -> dict:
        def block(values, business, breached) -> dict:
            return {
                "count": len(values),
                **_seconds(values),
                "median_business_seconds": statistics.median(business)
                if business
                else None,
                "breached": breached,
            }

        return {
            "key": None if key is None else str(key),
            "opened": self.opened,
            "first_response": block(
                self.first, self.first_business, self.first_breached
            ),
            "resolution": block(
                self.resolution, self.resolution_business, self.resolution_breached
            ),
        }


def response_time_figures(
    *, start: datetime, end: datetime, group_by: str | None = None
) -> dict:
    """First-response and resolution times of the cases opened in [start, end).

    Wall-clock percentiles, the median in business hours (the team's own opening
    hours, which is what the targets count) and how many targets were breached.
    The cases are read in chunks of the needed columns and kept as durations only;
    business time is a subtraction on one BusinessClock per team.
    """
    rows = (
        Case.objects.filter(created_at__gte=start, created_at__lt=end)
        .values_list(
            "team_id",
            "channel",
            "priority",
            "created_at",
            "first_response_at",
            "resolved_at",
            "first_response_breached_at",
            "resolution_breached_at",
        )
        .order_by()
        .iterator(chunk_size=REPORT_CHUNK_SIZE)
    )
    teams = {team.pk: team for team in Team.objects.all()}
    clocks: dict = {}
    key_index = {"team": 0, "channel": 1, "priority": 2}.get(group_by)
    groups: dict = defaultdict(_Durations)
    for row in rows:
        team_id, _, _, created, responded, resolved, first_late, resolution_late = row
        clock = clocks.get(team_id)
        if clock is None:
            clock = BusinessClock(team_schedule(teams.get(team_id)), since=start)
            clocks[team_id] = clock
        group = groups[None if key_index is None else row[key_index]]
        group.opened += 1
        if responded:
            group.first.append((responded - created).total_seconds())
            group.first_business.append(
                clock.between(created, responded).total_seconds()
            )
        if resolved:
            group.resolution.append((resolved - created).total_seconds())
            group.resolution_business.append(
                clock.between(created, resolved).total_seconds()
            )
        group.first_breached += bool(first_late)
        group.resolution_breached += bool(resolution_late)

    total = _Durations.combined(groups.values())
    return {
        "start": start,
        "end": end,
        "group_by": group_by,
        "total": total.figures(None),
        "groups": [
            group.figures(key)
            for key, group in sorted(groups.items(), key=lambda kv: str(kv[0]))
        ]
        if group_by
        else [],
    }


def _period_start(day: date, period: str) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def _next_period(day: date, period: str) -> date:
    if period == "day":
        return day + timedelta(days=1)
    if period == "week":
        return day + timedelta(days=7)
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def volume_figures(*, start: datetime, end: datetime, period: str = "day") -> dict:
    """Counts per period in [start, end): mentions seen, cases opened, resolved and
    closed, replies sent and escalations requested. One aggregate query each."""
    zone = timezone.get_current_timezone()
    measures = {
        "mentions": (Mention.objects, "first_seen_at"),
        "cases_opened": (Case.objects, "created_at"),
        "cases_resolved": (Case.objects, "resolved_at"),
        "cases_closed": (Case.objects, "closed_at"),
        "replies": (Reply.objects, "sent_at"),
        "escalations": (Escalation.objects, "requested_at"),
    }
    counts: dict = defaultdict(lambda: dict.fromkeys(measures, 0))
    for name, (manager, field) in measures.items():
        rows = (
            manager.filter(**{f"{field}__gte": start, f"{field}__lt": end})
            .annotate(bucket=TRUNC[period](field, tzinfo=zone))
            .values("bucket")
            .annotate(count=Count("pk"))
            .order_by()
        )
        for row in rows:
            bucket = row["bucket"]
            day = timezone.localtime(bucket, zone).date()
            counts[_period_start(day, period)][name] += row["count"]
    first = _period_start(timezone.localtime(start, zone).date(), period)
    last = timezone.localtime(end - timedelta(microseconds=1), zone).date()
    periods = []
    day = first
    while day <= last:
        periods.append({"period": day, **counts.get(day, dict.fromkeys(measures, 0))})
        day = _next_period(day, period)
    total = {name: sum(row[name] for row in periods) for name in measures}
    return {
        "start": start,
        "end": end,
        "period": period,
        "total": total,
        "periods": periods,
    }


class ReportViewSet(ApiViewSetMixin, viewsets.ViewSet):
    """Figures for the CRM's dashboards; all periods are [start, end)."""

    filter_backends = []
    pagination_class = None
    # No model to take a view permission from: each report names what it shows.
    staff_permissions = {
        "nps": ("reporting.view_survey",),
        "response_times": ("cases.view_case",),
        "volumes": ("cases.view_case",),
    }

    def _query(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.query_params)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @extend_schema(
        summary="NPS (total and grouped)",
        parameters=[NpsQuerySerializer],
        responses={200: NpsReportSerializer, **ERROR_RESPONSES},
    )
    @action(detail=False, methods=["get"])
    def nps(self, request):
        query = self._query(NpsQuerySerializer)
        start, end = query["start"], query["end"]
        group_by = query.get("group_by")
        # Periods are the team's local days; the answer's times are UTC.
        with timezone.override(settings.TIME_ZONE):
            total = nps_figures(start=start, end=end)
            groups = []
            if group_by:
                groups = [
                    group.as_dict()
                    for group in nps_figures(
                        start=start, end=end, group_by=group_by, period=query["period"]
                    )
                ]
        report = {
            "start": start,
            "end": end,
            "group_by": group_by,
            "total": total.as_dict(),
            "groups": groups,
        }
        return Response(NpsReportSerializer(report).data)

    @extend_schema(
        summary="First-response and resolution times",
        parameters=[ResponseTimeQuerySerializer],
        responses={200: ResponseTimeReportSerializer, **ERROR_RESPONSES},
    )
    @action(detail=False, methods=["get"], url_path="response-times")
    def response_times(self, request):
        query = self._query(ResponseTimeQuerySerializer)
        report = response_time_figures(
            start=query["start"], end=query["end"], group_by=query.get("group_by")
        )
        return Response(ResponseTimeReportSerializer(report).data)

    @extend_schema(
        summary="Volumes per period",
        parameters=[VolumeQuerySerializer],
        responses={200: VolumeReportSerializer, **ERROR_RESPONSES},
    )
    @action(detail=False, methods=["get"])
    def volumes(self, request):
        query = self._query(VolumeQuerySerializer)
        with timezone.override(settings.TIME_ZONE):
            report = volume_figures(
                start=query["start"], end=query["end"], period=query["period"]
            )
        return Response(VolumeReportSerializer(report).data)
