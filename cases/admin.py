"""The team's workplace: queues sorted by urgency, the case page, department inboxes.

Every change goes through cases.services, so the admin, the API and the tasks keep
one set of rules and one audit trail. Social posts are hostile text: everything
shown is escaped (format_html, never mark_safe on data).
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Case as When_
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery, When
from django.db.models.functions import Coalesce
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator

from cases import services
from cases.forms import (
    AddToCaseForm,
    CaseAdminForm,
    EscalateActionForm,
    NewCommitmentForm,
    NewEscalationForm,
    NewNoteForm,
    NewReplyForm,
    ResolveEscalationActionForm,
    TeamAdminForm,
    staff_who_may_reply,
)
from cases.models import (
    ACTIVE_STATUSES,
    Agent,
    Case,
    CaseEvent,
    Commitment,
    CommitmentStatus,
    Escalation,
    EscalationStatus,
    Holiday,
    Note,
    Reply,
    ServiceTarget,
    Team,
    Topic,
)
from cases.services import CaseError
from sources import admin as sources_admin
from sources.models import Mention, Priority
from webcare.admin_mixins import ReadOnlyAdminMixin

DUE_SOON = timedelta(hours=1)
# As in Case.objects.for_queue(): urgent first.
PRIORITY_RANK = When_(
    When(priority=Priority.URGENT, then=0),
    When(priority=Priority.HIGH, then=1),
    When(priority=Priority.NORMAL, then=2),
    default=3,
)
BADGE_COLOURS = {
    "breached": "#ba2121",
    "soon": "#c86400",
    "ok": "#2e7d32",
    "done": "#6b6b6b",
    "urgent": "#ba2121",
    "high": "#c86400",
    "normal": "#417690",
    "low": "#6b6b6b",
}


def badge(kind: str, text: str, title: str = ""):
    return format_html(
        '<span title="{}" style="display:inline-block;padding:1px 6px;'
        'border-radius:8px;color:#fff;background:{};white-space:nowrap">{}</span>',
        title,
        BADGE_COLOURS[kind],
        text,
    )


def due_badge(due, *, done=False, now=None):
    """Green, orange within an hour, red when past; grey once met."""
    if due is None:
        return "-"
    now = now or timezone.now()
    local = timezone.localtime(due)
    text = local.strftime("%d-%m %H:%M")
    if done:
        return badge("done", text, "met")
    if due < now:
        return badge("breached", text, "breached")
    if due - now < DUE_SOON:
        return badge("soon", text, "due within an hour")
    return badge("ok", text, "due")


def report_outcome(request, done: list[str], errors: list[str], verb: str) -> None:
    """One message for what a bulk action did, one per object it could not do."""
    if done:
        messages.success(request, f"{verb}: {', '.join(done)}.")
    for error in errors:
        messages.error(request, error)


def _run_per_object(request, queryset, verb, call):
    """Call a service per selected object; one failure does not stop the others."""
    done, errors = [], []
    for obj in queryset:
        try:
            call(obj)
        except CaseError as error:
            errors.append(f"#{obj.pk}: {error}")
        else:
            done.append(f"#{obj.pk}")
    report_outcome(request, done, errors, verb)


def _action_form_page(modeladmin, request, queryset, *, form, title, action):
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "form": form,
        "queryset": queryset,
        "action": action,
        "opts": modeladmin.model._meta,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
        "media": modeladmin.media + form.media,
    }
    return render(request, "admin/cases/action_form.html", context)


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
    fields = ("sent_at", "signature", "agent", "channel", "is_private", "text")
    readonly_fields = fields
    extra = 0

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
        return super().get_queryset(request).select_related("actor")


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    form = CaseAdminForm
    list_display = (
        "id",
        "subject_short",
        "status",
        "priority_badge",
        "channel",
        "assignee",
        "team",
        "due",
        "open_escalations",
        "promises",
        "reach",
        "created_at",
    )
    list_display_links = ("id", "subject_short")
    list_filter = (
        QueueFilter,
        "status",
        "priority",
        "channel",
        "team",
        "is_structural",
        "topics",
    )
    list_select_related = ("assignee", "team")
    search_fields = (
        "subject",
        "crm_customer_id",
        "customer__handle",
        "conversation_key",
    )
    autocomplete_fields = ("customer", "topics", "team")
    list_per_page = 50
    show_full_result_count = False
    inlines = (
        MentionInline,
        ReplyInline,
        NewReplyInline,
        NoteInline,
        NewNoteInline,
        EscalationInline,
        NewEscalationInline,
        CommitmentInline,
        NewCommitmentInline,
        # reporting.admin adds the survey here.
        CaseEventInline,
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "subject",
                    ("status", "close_reason", "merged_into"),
                    ("priority", "category", "channel"),
                    ("assignee", "team"),
                    ("customer", "crm_customer_id"),
                    "conversation_key",
                    "reach",
                )
            },
        ),
        (
            "Targets (business hours)",
            {
                "fields": (
                    ("first_response_due", "first_response_at"),
                    ("resolution_due", "resolved_at"),
                    ("created_at", "closed_at"),
                )
            },
        ),
        (
            "Structural issue",
            {"fields": ("topics", "is_structural", "structural_note")},
        ),
    )
    # What the services own: never edited on the form.
    always_read_only = (
        "status",
        "close_reason",
        "merged_into",
        "reach",
        "first_response_due",
        "first_response_at",
        "resolution_due",
        "resolved_at",
        "created_at",
        "closed_at",
    )
    actions = (
        "assign_to_me",
        "assign_automatically",
        "escalate",
        "resolve",
    )

    def get_queryset(self, request):
        now = timezone.now()
        open_escalations = (
            Escalation.objects.filter(case=OuterRef("pk"))
            .exclude(status=EscalationStatus.RESOLVED)
            .order_by()
            .values("case")
            .annotate(count=Count("pk"))
            .values("count")
        )
        # Not super(): its ordering needs the annotations made here.
        return (
            self.model._default_manager.get_queryset()
            .annotate(
                priority_rank=PRIORITY_RANK,
                open_escalation_count=Coalesce(Subquery(open_escalations), 0),
                has_overdue_commitment=Exists(
                    Commitment.objects.filter(
                        case=OuterRef("pk"),
                        status=CommitmentStatus.OPEN,
                        due_at__lt=now,
                    )
                ),
                has_open_commitment=Exists(
                    Commitment.objects.filter(
                        case=OuterRef("pk"), status=CommitmentStatus.OPEN
                    )
                ),
            )
            .order_by(*self.get_ordering(request))
        )

    def get_ordering(self, request):
        # Case.objects.for_queue(): earliest due, then priority, then reach.
        # Expressions, not the annotation: other pages order plain Case querysets
        # with this too (autocomplete, related lookups).
        return [
            F("next_due_at").asc(nulls_last=True),
            PRIORITY_RANK.asc(),
            "-reach",
            "created_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.always_read_only
        return (*self.always_read_only, "channel", "customer", "conversation_key")

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return (
                (
                    None,
                    {
                        "fields": (
                            "subject",
                            ("priority", "category", "channel"),
                            ("assignee", "team"),
                            ("customer", "crm_customer_id"),
                        )
                    },
                ),
                (
                    "Structural issue",
                    {"fields": ("topics", "is_structural", "structural_note")},
                ),
            )
        return super().get_fieldsets(request, obj)

    def get_inlines(self, request, obj):
        return () if obj is None else self.inlines

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "assignee":
            kwargs["queryset"] = staff_who_may_reply()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_delete_permission(self, request, obj=None):
        # The audit trail must stay: cases are closed, never deleted.
        return False

    # Columns

    @admin.display(description="subject", ordering="subject")
    def subject_short(self, obj):
        return Truncator(obj.subject).chars(70)

    @admin.display(description="priority", ordering="priority_rank")
    def priority_badge(self, obj):
        return badge(obj.priority, obj.get_priority_display())

    @admin.display(
        description="next due", ordering=F("next_due_at").asc(nulls_last=True)
    )
    def due(self, obj):
        if obj.status not in ACTIVE_STATUSES:
            return "-"
        return due_badge(obj.next_due_at)

    @admin.display(description="escalations", ordering="open_escalation_count")
    def open_escalations(self, obj):
        count = getattr(obj, "open_escalation_count", 0)
        return badge("soon", str(count), "open escalations") if count else ""

    @admin.display(description="promise")
    def promises(self, obj):
        if getattr(obj, "has_overdue_commitment", False):
            return badge("breached", "overdue", "a promise is overdue")
        if getattr(obj, "has_open_commitment", False):
            return badge("ok", "open", "an open promise")
        return ""

    @admin.display(description="first response due")
    def first_response_due(self, obj):
        return due_badge(
            obj.first_response_due_at, done=obj.first_response_at is not None
        )

    @admin.display(description="resolution due")
    def resolution_due(self, obj):
        return due_badge(
            obj.resolution_due_at,
            done=obj.status not in ACTIVE_STATUSES,
        )

    # Saving: through the services

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            case = services.case_open(
                subject=data["subject"],
                customer=data.get("customer"),
                priority=data.get("priority") or Priority.NORMAL,
                category=data.get("category") or "",
                channel=data.get("channel") or "",
                team=data.get("team"),
                crm_customer_id=data.get("crm_customer_id") or "",
                actor=request.user,
            )
            obj.pk = obj.id = case.pk
            changes = {
                name: data[name]
                for name in ("topics", "is_structural", "structural_note")
                if data.get(name)
            }
            if changes:
                services.case_update(case=case, actor=request.user, **changes)
            if data.get("assignee"):
                services.case_assign(
                    case=case, assignee=data["assignee"], actor=request.user
                )
            return
        changed = [
            name for name in form.changed_data if name in services.UPDATABLE_FIELDS
        ]
        if changed:
            services.case_update(
                case=obj, actor=request.user, **{name: data[name] for name in changed}
            )
        if "assignee" in form.changed_data:
            services.case_assign(
                case=obj, assignee=data["assignee"], actor=request.user
            )

    def save_related(self, request, form, formsets, change):
        # Topics were saved by case_update (with an event), not by save_m2m().
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def save_formset(self, request, form, formset, change):
        case = form.instance
        user = request.user
        # The change message reads these; what the services did is in the trail.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = (
            [],
            [],
            [],
        )
        for inline_form in formset.forms:
            if not inline_form.has_changed() or not inline_form.is_valid():
                continue
            data = inline_form.cleaned_data
            try:
                if formset.model is Reply:
                    services.case_reply(
                        case=case,
                        agent=user,
                        text=data["text"],
                        channel=data.get("channel") or "",
                        is_private=data.get("is_private", False),
                        actor=user,
                    )
                elif formset.model is Note:
                    services.case_add_note(case=case, author=user, text=data["text"])
                elif formset.model is Escalation:
                    services.case_escalate(
                        case=case,
                        department=data["department"],
                        reason=data["reason"],
                        actor=user,
                    )
                elif formset.model is Commitment:
                    services.commitment_make(
                        case=case,
                        owner=data["owner"],
                        description=data["description"],
                        due_at=data["due_at"],
                        actor=user,
                    )
            except CaseError as error:
                messages.error(request, str(error))

    # Actions

    def has_assign_permission(self, request):
        return request.user.has_perm("cases.assign_case")

    def has_escalate_permission(self, request):
        return request.user.has_perm("cases.escalate_case")

    def has_resolve_permission(self, request):
        return request.user.has_perm("cases.resolve_case")

    @admin.action(description="Assign to me", permissions=("assign",))
    def assign_to_me(self, request, queryset):
        _run_per_object(
            request,
            queryset,
            "Assigned to you",
            lambda case: services.case_assign(
                case=case, assignee=request.user, actor=request.user
            ),
        )

    @admin.action(
        description="Assign to the least-loaded available agent",
        permissions=("assign",),
    )
    def assign_automatically(self, request, queryset):
        _run_per_object(
            request,
            queryset,
            "Assigned",
            lambda case: services.case_assign_automatically(
                case=case, actor=request.user
            ),
        )

    @admin.action(description="Escalate to a department…", permissions=("escalate",))
    def escalate(self, request, queryset):
        form = EscalateActionForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            _run_per_object(
                request,
                queryset,
                "Escalated",
                lambda case: services.case_escalate(
                    case=case,
                    department=form.cleaned_data["department"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                ),
            )
            return None
        return _action_form_page(
            self,
            request,
            queryset,
            form=form,
            title="Escalate cases",
            action="escalate",
        )

    @admin.action(description="Resolve", permissions=("resolve",))
    def resolve(self, request, queryset):
        _run_per_object(
            request,
            queryset,
            "Resolved",
            lambda case: services.case_resolve(case=case, actor=request.user),
        )


# --- Department inbox, promises, replies, notes, trail -----------------------------


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
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
        return (
            super()
            .get_queryset(request)
            .select_related("case", "requested_by", "acknowledged_by", "resolved_by")
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
    """Replies are recorded on the case page; here they can be found and read."""

    list_display = ("sent_at", "case", "signature", "agent", "channel", "is_private")
    list_filter = ("channel", "is_private")
    list_select_related = ("case", "agent")
    search_fields = ("text", "case__subject")
    date_hierarchy = "sent_at"


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


# --- Staffing, targets and hours ---------------------------------------------------


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
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
class AgentAdmin(admin.ModelAdmin):
    list_display = ("__str__", "team", "availability", "active_cases")
    list_filter = ("team", "is_available")
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
class TopicAdmin(admin.ModelAdmin):
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
class ServiceTargetAdmin(admin.ModelAdmin):
    list_display = (
        "priority",
        "channel",
        "first_response",
        "resolution",
        "escalation_acknowledgement",
    )
    list_filter = ("priority", "channel")


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ("date", "name")
    date_hierarchy = "date"
    search_fields = ("name",)


# API clients, webhooks and the API audit log.


# --- Mentions: joining a case by hand ---------------------------------------------


class MentionAdmin(sources_admin.MentionAdmin):
    """The sources app's mention pages, plus the "Add to case" action (through
    case_add_mention). Registered here because cases builds on sources."""

    actions = (*sources_admin.MentionAdmin.actions, "add_to_case")

    def has_add_to_case_permission(self, request):
        return request.user.has_perm("cases.change_case")

    @admin.action(description="Add to case…", permissions=("add_to_case",))
    def add_to_case(self, request, queryset):
        form = AddToCaseForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": "Add to case",
                "form": form,
                "queryset": queryset,
                "action": "add_to_case",
                "opts": self.model._meta,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "media": self.media + form.media,
            }
            return render(request, "admin/cases/action_form.html", context)
        added, errors = [], []
        for mention in queryset.order_by("published_at", "pk"):
            try:
                joined = services.case_add_mention(
                    case=form.cleaned_data["case"], mention=mention, actor=request.user
                )
            except CaseError as error:
                errors.append(f"Mention #{mention.pk}: {error}")
            else:
                added.append(f"#{mention.pk} to case #{joined.pk}")
        if added:
            self.message_user(request, "Added " + ", ".join(added) + ".")
        for error in errors:
            self.message_user(request, error, messages.ERROR)
        return None


admin.site.unregister(Mention)
admin.site.register(Mention, MentionAdmin)
