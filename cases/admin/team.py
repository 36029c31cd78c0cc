"""Staffing, targets and hours: teams, agents, topics, service targets, holidays."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count, Q

from cases import services
from cases.admin.common import _run_per_object, badge
from cases.forms import TeamAdminForm
from cases.models import (
    ACTIVE_STATUSES,
    Agent,
    DepartmentMembership,
    Holiday,
    ServiceTarget,
    Team,
    Topic,
)
from webcare.admin_mixins import SaveChangedFieldsMixin

# --- Staffing, targets and hours ---------------------------------------------------


@admin.register(Team)
class TeamAdmin(SaveChangedFieldsMixin, admin.ModelAdmin):
    form = TeamAdminForm
    list_display = ("name", "email", "agent_count", "available_count")
    search_fields = ("name",)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                agents_total=Count("agents", distinct=True),
                agents_available=Count(
                    "agents", filter=Q(agents__is_available=True), distinct=True
                ),
            )
        )

    @admin.display(description="agents", ordering="agents_total")
    def agent_count(self, obj):
        return obj.agents_total

    @admin.display(description="available", ordering="agents_available")
    def available_count(self, obj):
        return obj.agents_available


@admin.register(Agent)
class AgentAdmin(SaveChangedFieldsMixin, admin.ModelAdmin):
    list_display = ("__str__", "team", "availability", "is_team_lead", "active_cases")
    list_filter = ("team", "is_available", "is_team_lead")
    list_select_related = ("user", "team")
    search_fields = ("user__username", "user__first_name", "user__last_name")
    autocomplete_fields = ("team",)
    raw_id_fields = ("user",)
    actions = ("mark_available", "mark_away")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                active=Count(
                    "user__assigned_cases",
                    filter=Q(user__assigned_cases__status__in=ACTIVE_STATUSES),
                )
            )
        )

    @admin.display(description="available", ordering="is_available")
    def availability(self, obj):
        return badge("ok", "available") if obj.is_available else badge("done", "away")

    @admin.display(description="active cases", ordering="active")
    def active_cases(self, obj):
        return obj.active

    def _set(self, request, queryset, available):
        _run_per_object(
            request,
            queryset,
            "Available" if available else "Away",
            lambda agent: services.agent_set_availability(
                agent=agent, is_available=available, actor=request.user
            ),
        )

    # Every agent may mark themselves; the service refuses others' rows.
    @admin.action(description="Mark available", permissions=("view",))
    def mark_available(self, request, queryset):
        self._set(request, queryset, True)

    @admin.action(description="Mark away", permissions=("view",))
    def mark_away(self, request, queryset):
        self._set(request, queryset, False)


@admin.register(Topic)
class TopicAdmin(SaveChangedFieldsMixin, admin.ModelAdmin):
    list_display = ("name", "owner", "structural_cases")
    search_fields = ("name", "owner")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                structural=Count(
                    "cases", filter=Q(cases__is_structural=True), distinct=True
                )
            )
        )

    @admin.display(description="structural cases", ordering="structural")
    def structural_cases(self, obj):
        return obj.structural


@admin.register(ServiceTarget)
class ServiceTargetAdmin(SaveChangedFieldsMixin, admin.ModelAdmin):
    list_display = (
        "priority",
        "channel",
        "first_response",
        "resolution",
        "escalation_acknowledgement",
    )
    list_filter = ("priority", "channel")


@admin.register(Holiday)
class HolidayAdmin(SaveChangedFieldsMixin, admin.ModelAdmin):
    list_display = ("date", "name")
    date_hierarchy = "date"
    search_fields = ("name",)


@admin.register(DepartmentMembership)
class DepartmentMembershipAdmin(admin.ModelAdmin):
    """Who works for which department, besides the role defaults
    (WEBCARE_ROLE_DEPARTMENTS): managers keep it (cases/access.py)."""

    list_display = ("user", "department", "created_at")
    list_filter = ("department",)
    list_select_related = ("user",)
    search_fields = ("user__username", "user__first_name", "user__last_name")
    autocomplete_fields = ("user",)
    fields = ("user", "department")
