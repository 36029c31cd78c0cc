"""What the team answers with: reply templates and the facts the company stands by."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from cases.admin.common import badge
from cases.models import ApprovedFact, ReplyTemplate
from webcare.admin_mixins import SaveChangedFieldsMixin


@admin.register(ReplyTemplate)
class ReplyTemplateAdmin(SaveChangedFieldsMixin, admin.ModelAdmin):
    list_display = ("name", "language", "category", "is_active", "updated_at")
    list_filter = ("language", "category", "is_active")
    search_fields = ("name", "text")
    fields = ("name", ("language", "category"), "text", "is_active")


class CurrentFactFilter(admin.SimpleListFilter):
    title = _("review")
    parameter_name = "review"

    def lookups(self, request, model_admin):
        return (("current", _("offered")), ("expired", _("past review date")))

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "current":
            return queryset.filter(review_by__gte=today)
        if self.value() == "expired":
            return queryset.filter(review_by__lt=today)
        return queryset


@admin.register(ApprovedFact)
class ApprovedFactAdmin(SaveChangedFieldsMixin, admin.ModelAdmin):
    list_display = (
        "statement_short",
        "language",
        "owner_department",
        "owner",
        "review",
    )
    list_filter = (CurrentFactFilter, "language", "owner_department")
    list_select_related = ("owner",)
    search_fields = ("statement", "sources")
    raw_id_fields = ("owner",)
    fields = (
        "statement",
        "language",
        ("owner_department", "owner"),
        "sources",
        "review_by",
    )

    @admin.display(description=_("statement"), ordering="statement")
    def statement_short(self, obj):
        return obj.statement[:100]

    @admin.display(description=_("review by"), ordering="review_by")
    def review(self, obj):
        days = (obj.review_by - timezone.localdate()).days
        if days < 0:
            return badge("breached", obj.review_by.isoformat(), _("not offered"))
        text = ngettext("in %(days)d day", "in %(days)d days", days) % {"days": days}
        return badge("soon" if days <= 14 else "ok", text, obj.review_by.isoformat())
