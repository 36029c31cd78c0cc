"""Filter pieces every app's endpoints share, and the webhook delivery filter.

Ids are filtered as plain integers (no query to check they exist: an unknown id simply
matches nothing), so a list costs the same number of queries whatever is asked.
"""

from datetime import UTC

import django_filters
from django import forms
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError
from rest_framework.filters import SearchFilter

from webcare.api.models import WebhookDelivery

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


class WebhookDeliveryFilter(django_filters.FilterSet):
    webhook = IdFilter(field_name="webhook_id")
    status = django_filters.ChoiceFilter(
        choices=WebhookDelivery._meta.get_field("status").choices
    )
    created_after, created_before = datetime_range("created_at", "Created")

    class Meta:
        model = WebhookDelivery
        fields = []
