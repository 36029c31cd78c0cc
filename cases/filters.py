"""FilterSets of the CRM API, plus the filter pieces the other apps' endpoints share.

Ids are filtered as plain integers (no query to check they exist: an unknown id simply
matches nothing), so a list costs the same number of queries whatever is asked.
"""

from datetime import UTC

import django_filters
from django import forms
from django.db.models import Exists, OuterRef
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError
from rest_framework.filters import SearchFilter

from cases.models import (
    ACTIVE_STATUSES,
    Case,
    CaseEvent,
    CaseStatus,
    CloseReason,
    Escalation,
    EscalationStatus,
    EventKind,
    WebhookDelivery,
)
from sources.models import Category, Department, Mention, Priority, SourceKind

MAX_ID = 2**63 - 1


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


@extend_schema_field(
    {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}
)
class IdListFilter(django_filters.BaseInFilter, django_filters.NumberFilter):
    """`?source=1,2,3`."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class Choices(django_filters.MultipleChoiceFilter):
    """`?status=open&status=waiting`. No DISTINCT: a plain column has no duplicates,
    and DISTINCT would keep the database from reading the sync index in order."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("distinct", False)
        super().__init__(*args, **kwargs)


class TextFilter(django_filters.CharFilter):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", 300)
        super().__init__(*args, **kwargs)


class UtcIsoDateTimeField(IsoDateTimeField):
    """ISO 8601 with any offset, compared in UTC: PostgreSQL refuses offsets beyond
    ±15:59, and a date at the edge of the calendar must be a 400, not an overflow."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except (OverflowError, ValueError):
            raise forms.ValidationError("Date and time out of range.", code="invalid")


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


def datetime_range(field_name: str, label: str):
    after = UtcIsoDateTimeFilter(
        field_name=field_name,
        lookup_expr="gte",
        label=f"{label} at or after (ISO 8601).",
    )
    before = UtcIsoDateTimeFilter(
        field_name=field_name,
        lookup_expr="lt",
        label=f"{label} before (ISO 8601).",
    )
    return after, before


class NulSafeSearchFilter(SearchFilter):
    """Search that refuses what the database cannot compare (NUL), with a 400."""

    search_description = "Words that must all appear (subject, handles, ids)."
    max_terms = 10

    def get_search_terms(self, request):
        value = request.query_params.get(self.search_param, "")
        if "\x00" in value or len(value) > 300:
            raise ValidationError(
                {self.search_param: ["At most 300 characters, no NUL characters."]}
            )
        return super().get_search_terms(request)[: self.max_terms]


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


class WebhookDeliveryFilter(django_filters.FilterSet):
    webhook = IdFilter(field_name="webhook_id")
    status = django_filters.ChoiceFilter(
        choices=WebhookDelivery._meta.get_field("status").choices
    )
    created_after, created_before = datetime_range("created_at", "Created")

    class Meta:
        model = WebhookDelivery
        fields = []
