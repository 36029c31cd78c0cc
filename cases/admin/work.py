"""Department inboxes, promises, replies, notes and the audit trail."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Case as When_
from django.db.models import When
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases import access, services
from cases.admin.common import _action_form_page, _run_per_object, due_badge
from cases.forms import (
    MarkPublishedForm,
    NewCommitmentForm,
    ResolveEscalationActionForm,
)
from cases.models import (
    CaseEvent,
    Commitment,
    CommitmentStatus,
    Escalation,
    EscalationStatus,
    Note,
    Reply,
)
from webcare.admin_mixins import ReadOnlyAdminMixin, SaveChangedFieldsMixin

# --- Department inbox, promises, replies, notes, trail -----------------------------


@admin.register(Escalation)
class EscalationAdmin(SaveChangedFieldsMixin, admin.ModelAdmin):
    """A department's inbox: filter by department and status; act with actions."""

    list_display = (
        "id",
        "case_link",
        "department",
        "status",
        "reason_short",
        "requested_at",
        "acknowledge_by",
        "acknowledged_at",
    )
    list_filter = ("department", "status")
    list_select_related = ("case",)
    search_fields = ("reason", "case__subject")
    readonly_fields = (
        "case",
        "department",
        "status",
        "reason",
        "requested_by",
        "requested_at",
        "acknowledgement_due_at",
        "acknowledgement_breached_at",
        "acknowledged_by",
        "acknowledged_at",
        "resolved_by",
        "resolved_at",
        "resolution_note",
    )
    actions = ("acknowledge", "resolve")

    def get_queryset(self, request):
        # The changelist skips list_select_related once a select_related is set.
        # Only what this person may see (a restricted department's escalations:
        # its members, managers and the people on the case); a hidden one is
        # absent from the list and its page.
        return access.escalations_visible_to(
            request.user,
            super()
            .get_queryset(request)
            .select_related("case", "requested_by", "acknowledged_by", "resolved_by"),
        )

    def get_ordering(self, request):
        # Open first, the oldest first: the inbox order.
        return [
            When_(
                When(status=EscalationStatus.OPEN, then=0),
                When(status=EscalationStatus.ACKNOWLEDGED, then=1),
                default=2,
            ),
            "requested_at",
        ]

    def has_add_permission(self, request):
        return False  # escalated from the case

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="case", ordering="case_id")
    def case_link(self, obj):
        return format_html(
            '<a href="{}">#{} {}</a>',
            obj.case.get_absolute_url(),
            obj.case_id,
            Truncator(obj.case.subject).chars(50),
        )

    @admin.display(description="reason")
    def reason_short(self, obj):
        return Truncator(obj.reason).chars(80)

    @admin.display(description="acknowledge by", ordering="acknowledgement_due_at")
    def acknowledge_by(self, obj):
        return due_badge(
            obj.acknowledgement_due_at, done=obj.status != EscalationStatus.OPEN
        )

    @admin.action(description="Acknowledge", permissions=("change",))
    def acknowledge(self, request, queryset):
        _run_per_object(
            request,
            queryset,
            "Acknowledged",
            lambda escalation: services.escalation_acknowledge(
                escalation=escalation, actor=request.user
            ),
        )

    @admin.action(description="Resolve with a note…", permissions=("change",))
    def resolve(self, request, queryset):
        form = ResolveEscalationActionForm(
            request.POST if "apply" in request.POST else None
        )
        if form.is_valid():
            _run_per_object(
                request,
                queryset,
                "Resolved",
                lambda escalation: services.escalation_resolve(
                    escalation=escalation,
                    note=form.cleaned_data["note"],
                    actor=request.user,
                ),
            )
            return None
        return _action_form_page(
            self,
            request,
            queryset,
            form=form,
            title="Resolve escalations",
            action="resolve",
        )


class OverdueCommitmentFilter(admin.SimpleListFilter):
    title = "due"
    parameter_name = "due"

    def lookups(self, request, model_admin):
        return (("overdue", "Overdue"), ("mine", "Mine, open"))

    def queryset(self, request, queryset):
        if self.value() == "overdue":
            return queryset.overdue()
        if self.value() == "mine":
            return queryset.open().filter(owner=request.user)
        return queryset


@admin.register(Commitment)
class CommitmentAdmin(admin.ModelAdmin):
    form = NewCommitmentForm
    list_display = ("description", "case_link", "owner", "due", "status")
    list_filter = (OverdueCommitmentFilter, "status")
    list_select_related = ("case", "owner")
    search_fields = ("description", "case__subject")
    autocomplete_fields = ("case",)
    actions = ("keep", "cancel")
    fields = ("case", "description", "owner", "due_at")

    def get_ordering(self, request):
        return ["status", "due_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return (
            *self.fields,
            "status",
            "reminder_sent_at",
            "overdue_notified_at",
            "kept_at",
        )

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.fields
        return (
            *self.fields,
            "status",
            "reminder_sent_at",
            "overdue_notified_at",
            "kept_at",
        )

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="case", ordering="case_id")
    def case_link(self, obj):
        return format_html(
            '<a href="{}">#{} {}</a>',
            obj.case.get_absolute_url(),
            obj.case_id,
            Truncator(obj.case.subject).chars(50),
        )

    @admin.display(description="due", ordering="due_at")
    def due(self, obj):
        return due_badge(obj.due_at, done=obj.status != CommitmentStatus.OPEN)

    def save_model(self, request, obj, form, change):
        if change:
            return  # read-only once made: keep or cancel with the actions
        commitment = services.commitment_make(
            case=form.cleaned_data["case"],
            owner=form.cleaned_data["owner"],
            description=form.cleaned_data["description"],
            due_at=form.cleaned_data["due_at"],
            actor=request.user,
        )
        obj.pk = obj.id = commitment.pk

    @admin.action(description="Mark as kept", permissions=("change",))
    def keep(self, request, queryset):
        _run_per_object(
            request,
            queryset,
            "Kept",
            lambda commitment: services.commitment_keep(
                commitment=commitment, actor=request.user
            ),
        )

    @admin.action(description="Cancel", permissions=("change",))
    def cancel(self, request, queryset):
        _run_per_object(
            request,
            queryset,
            "Cancelled",
            lambda commitment: services.commitment_cancel(
                commitment=commitment, actor=request.user
            ),
        )


@admin.register(Reply)
class ReplyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Replies are recorded on the case page; here they can be found and read, and
    one whose publishing could not be settled is settled by hand."""

    list_display = (
        "sent_at",
        "case",
        "signature",
        "agent",
        "channel",
        "is_private",
        "publish_status",
        "publish_error",
    )
    list_filter = ("publish_status", "channel", "is_private")
    list_select_related = ("case", "agent")
    search_fields = ("text", "case__subject")
    date_hierarchy = "sent_at"
    actions = ("send_again", "mark_published")

    def has_settle_permission(self, request):
        return request.user.has_perm("cases.reply_case")

    @admin.action(
        description=gettext_lazy("Send again (checked: not on the platform)"),
        permissions=("settle",),
    )
    def send_again(self, request, queryset):
        _run_per_object(
            request,
            queryset,
            _("Queued again"),
            lambda reply: services.reply_send_again(reply=reply, actor=request.user),
        )

    @admin.action(
        description=gettext_lazy("Mark as published (found on the platform)…"),
        permissions=("settle",),
    )
    def mark_published(self, request, queryset):
        form = MarkPublishedForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            _run_per_object(
                request,
                queryset,
                _("Marked published"),
                lambda reply: services.reply_mark_published(
                    reply=reply, url=form.cleaned_data["url"], actor=request.user
                ),
            )
            return None
        return _action_form_page(
            self,
            request,
            queryset,
            form=form,
            title=_("Mark as published"),
            action="mark_published",
        )


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ("created_at", "case", "author", "text_short")
    list_select_related = ("case", "author")
    search_fields = ("text", "case__subject")
    autocomplete_fields = ("case",)
    fields = ("case", "text")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("case", "author", "text", "created_at")

    def get_fields(self, request, obj=None):
        return self.fields if obj is None else ("case", "author", "text", "created_at")

    def has_change_permission(self, request, obj=None):
        return False  # a note is part of the record

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="text")
    def text_short(self, obj):
        return Truncator(obj.text).chars(100)

    def save_model(self, request, obj, form, change):
        note = services.case_add_note(
            case=form.cleaned_data["case"],
            author=request.user,
            text=form.cleaned_data["text"],
        )
        obj.pk = obj.id = note.pk


@admin.register(CaseEvent)
class CaseEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "case", "kind", "actor", "actor_label")
    list_filter = ("kind",)
    list_select_related = ("case", "actor")
    search_fields = ("case__subject", "actor_label")
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return access.events_visible_to(request.user, super().get_queryset(request))
