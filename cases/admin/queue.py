"""The case queues: my queue, team queue, overdue, unassigned."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q
from django.utils import timezone

from cases.models import Agent

# --- The queue ---------------------------------------------------------------------


class QueueFilter(admin.SimpleListFilter):
    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return (
            ("mine", "My queue"),
            ("team", "Team queue"),
            ("overdue", "Overdue"),
            ("unassigned", "Unassigned"),
        )

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        active = queryset.active()
        if value == "mine":
            return active.filter(assignee=request.user)
        if value == "team":
            team_id = (
                Agent.objects.filter(user=request.user)
                .values_list("team_id", flat=True)
                .first()
            )
            return active.filter(team_id=team_id) if team_id else active
        if value == "overdue":
            now = timezone.now()
            return active.filter(
                Q(next_due_at__lt=now)
                | Q(has_overdue_commitment=True)
                | Q(first_response_breached_at__isnull=False, first_response_at=None)
                | Q(resolution_breached_at__isnull=False)
            )
        if value == "unassigned":
            return active.filter(assignee__isnull=True)
        return queryset
