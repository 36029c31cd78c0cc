"""The case page's sections: conversation, replies, notes, escalations, promises, trail."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy

from cases import access
from cases.admin.common import due_badge
from cases.forms import (
    NewCommitmentForm,
    NewEscalationForm,
    NewNoteForm,
    NewReplyForm,
)
from cases.models import (
    ACTIVE_STATUSES,
    CaseEvent,
    Commitment,
    CommitmentStatus,
    Escalation,
    EscalationStatus,
    Note,
    PublishStatus,
    Reply,
)
from sources.models import Mention
from webcare.admin_mixins import ReadOnlyAdminMixin


class MentionInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The conversation, in time order, as posted (escaped)."""

    model = Mention
    fk_name = "case"
    fields = ("published_at", "source", "author", "text", "url", "reach_now")
    readonly_fields = fields
    extra = 0
    verbose_name = "mention in the conversation"
    verbose_name_plural = "conversation"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("source", "author")
            .order_by("published_at", "id")
        )

    @admin.display(description="reach")
    def reach_now(self, obj):
        return obj.reach


class ReplyInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Reply
    fields = (
        "sent_at",
        "signature",
        "channel",
        "is_private",
        "text",
        "publication",
    )
    readonly_fields = fields
    extra = 0

    @admin.display(description=gettext_lazy("on the platform"))
    def publication(self, reply):
        """Where it stands, with the link once it is there and the problem if any."""
        status = reply.get_publish_status_display()
        if reply.external_url:
            link = format_html(
                '<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>',
                reply.external_url,
                status,
            )
        else:
            link = status
        if reply.publish_error and reply.publish_status != PublishStatus.PUBLISHED:
            return format_html("{}<br><small>{}</small>", link, reply.publish_error)
        return link

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("agent")


class _NewRowInline(admin.StackedInline):
    """One empty row that is saved through a service by CaseAdmin.save_formset."""

    extra = 1
    max_num = 1
    can_delete = False
    add_permission = ""

    def get_queryset(self, request):
        return super().get_queryset(request).none()

    def has_add_permission(self, request, obj=None):
        if obj is None or obj.status not in ACTIVE_STATUSES:
            return False
        return request.user.has_perm(self.add_permission)

    def has_change_permission(self, request, obj=None):
        return self.has_add_permission(request, obj)

    def has_view_permission(self, request, obj=None):
        return self.has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False


class NewReplyInline(_NewRowInline):
    model = Reply
    form = NewReplyForm
    add_permission = "cases.reply_case"
    verbose_name = "reply to record (signed with your first name)"
    verbose_name_plural = "record a reply"


class NoteInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Note
    fields = ("created_at", "author", "text")
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author")


class NewNoteInline(_NewRowInline):
    model = Note
    form = NewNoteForm
    add_permission = "cases.add_note"
    verbose_name_plural = "add an internal note"

    def has_add_permission(self, request, obj=None):
        # Notes are allowed in every status.
        return obj is not None and request.user.has_perm(self.add_permission)


class EscalationInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Escalation
    fields = (
        "department",
        "status",
        "reason",
        "requested_at",
        "acknowledge_by",
        "acknowledged_at",
        "resolved_at",
        "resolution_note",
    )
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request):
        # The same escalations as the department inbox shows this person.
        return access.escalations_visible_to(
            request.user, super().get_queryset(request)
        )

    @admin.display(description="acknowledge by")
    def acknowledge_by(self, obj):
        return due_badge(
            obj.acknowledgement_due_at, done=obj.status != EscalationStatus.OPEN
        )


class NewEscalationInline(_NewRowInline):
    model = Escalation
    form = NewEscalationForm
    add_permission = "cases.escalate_case"
    verbose_name_plural = "escalate to a department"


class CommitmentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Commitment
    fields = ("description", "owner", "due", "status", "kept_at")
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner")

    @admin.display(description="due")
    def due(self, obj):
        return due_badge(obj.due_at, done=obj.status != CommitmentStatus.OPEN)


class NewCommitmentInline(_NewRowInline):
    model = Commitment
    form = NewCommitmentForm
    add_permission = "cases.add_commitment"
    verbose_name_plural = "make a commitment (afspraak = afspraak)"


class CaseEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CaseEvent
    fields = ("created_at", "kind", "actor", "actor_label", "data")
    readonly_fields = fields
    extra = 0
    verbose_name_plural = "audit trail"

    def get_queryset(self, request):
        rows = super().get_queryset(request).select_related("actor")
        return access.events_visible_to(request.user, rows)
