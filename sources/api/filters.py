"""FilterSets for sources, authors and mentions in the CRM API."""

import django_filters

from sources.models import (
    Author,
    Category,
    Mention,
    Outcome,
    Source,
    SourceKind,
    TriageStatus,
)
from webcare.api.filters import (
    Choices,
    IdFilter,
    IdListFilter,
    TextFilter,
    UtcIsoDateTimeFilter,
    datetime_range,
)


class SourceFilter(django_filters.FilterSet):
    kind = Choices(choices=SourceKind.choices)
    is_active = django_filters.BooleanFilter()
    is_primary = django_filters.BooleanFilter()

    class Meta:
        model = Source
        fields = []


class AuthorFilter(django_filters.FilterSet):
    platform = Choices(choices=SourceKind.choices)
    handle = TextFilter(field_name="handle", lookup_expr="iexact")
    crm_customer_id = TextFilter(field_name="crm_customer_id")
    linked = django_filters.BooleanFilter(
        method="filter_linked", label="Only authors linked (or not) to a CRM customer."
    )
    is_journalist = django_filters.BooleanFilter()
    is_influential = django_filters.BooleanFilter()
    is_vip = django_filters.BooleanFilter()
    is_repeat_complainer = django_filters.BooleanFilter()
    updated_since = UtcIsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Author
        fields = []

    def filter_linked(self, queryset, name, value):
        if value:
            return queryset.exclude(crm_customer_id="")
        return queryset.filter(crm_customer_id="")


class MentionFilter(django_filters.FilterSet):
    source = IdListFilter(field_name="source_id", lookup_expr="in")
    author = IdFilter(field_name="author_id")
    case = IdFilter(field_name="case_id")
    has_case = django_filters.BooleanFilter(
        field_name="case", lookup_expr="isnull", exclude=True
    )
    crm_customer_id = TextFilter(field_name="author__crm_customer_id")
    triage_status = Choices(choices=TriageStatus.choices)
    category = Choices(choices=Category.choices)
    outcome = Choices(choices=Outcome.choices)
    language = TextFilter(field_name="language", max_length=8)
    conversation_key = TextFilter(field_name="conversation_key")
    is_deleted = django_filters.BooleanFilter()
    published_after, published_before = datetime_range("published_at", "Published")
    first_seen_after, first_seen_before = datetime_range("first_seen_at", "First seen")
    updated_since = UtcIsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")

    class Meta:
        model = Mention
        fields = []
