"""FilterSets of the case endpoints."""

import django_filters
from django.db.models import Exists, OuterRef

from cases.models import (
    ACTIVE_STATUSES,
    Case,
    CaseEvent,
    CaseStatus,
    CloseReason,
    Escalation,
    EscalationStatus,
    EventKind,
)
from sources.models import Category, Department, Mention, Priority, SourceKind
from webcare.api.filters import (
    Choices,
    IdFilter,
    IdListFilter,
    TextFilter,
    UtcIsoDateTimeFilter,
    datetime_range,
)


class CaseFilter(django_filters.FilterSet):
    status = Choices(choices=CaseStatus.choices)
    priority = Choices(choices=Priority.choices)
    category = Choices(choices=Category.choices)
    channel = Choices(choices=SourceKind.choices)
    close_reason = Choices(choices=CloseReason.choices)
    assignee = IdFilter(field_name="assignee_id", label="The assignee's user id.")
    unassigned = django_filters.BooleanFilter(
        field_name="assignee", lookup_expr="isnull", label="Only cases without one."
    )
    team = IdFilter(field_name="team_id")
    topic = TextFilter(method="filter_topic", label="A topic's name.")
    source = IdListFilter(
        method="filter_source", label="Cases with a mention from these sources."
    )
    customer = IdFilter(field_name="customer_id", label="The social author's id.")
    crm_customer_id = TextFilter(field_name="crm_customer_id")
    is_structural = django_filters.BooleanFilter()
    active = django_filters.BooleanFilter(method="filter_active")
    created_after, created_before = datetime_range("created_at", "Created")
    updated_after, updated_before = datetime_range("updated_at", "Updated")
    updated_since = UtcIsoDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        label="Changed at or after (ISO 8601): for incremental sync.",
    )

    class Meta:
        model = Case
        fields = []

    def filter_topic(self, queryset, name, value):
        through = Case.topics.through
        return queryset.filter(
            Exists(through.objects.filter(case=OuterRef("pk"), topic__name=value))
        )

    def filter_source(self, queryset, name, value):
        # EXISTS, not a join: a case with many mentions must appear once.
        return queryset.filter(
            Exists(Mention.objects.filter(case=OuterRef("pk"), source_id__in=value))
        )

    def filter_active(self, queryset, name, value):
        if value:
            return queryset.active()
        return queryset.exclude(status__in=ACTIVE_STATUSES)


class CaseEventFilter(django_filters.FilterSet):
    case = IdFilter(field_name="case_id")
    kind = Choices(choices=EventKind.choices)
    created_after, created_before = datetime_range("created_at", "Happened")

    class Meta:
        model = CaseEvent
        fields = []


class EscalationFilter(django_filters.FilterSet):
    case = IdFilter(field_name="case_id")
    status = Choices(choices=EscalationStatus.choices)
    department = Choices(choices=Department.choices)
    crm_customer_id = TextFilter(field_name="case__crm_customer_id")
    requested_after, requested_before = datetime_range("requested_at", "Requested")

    class Meta:
        model = Escalation
        fields = []
