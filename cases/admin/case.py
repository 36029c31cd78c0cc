"""The case admin: the queue list and the case page, saved through the services."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import Count, Exists, F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import JsonResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases import access, services
from cases.admin.case_inlines import (
    CaseEventInline,
    CommitmentInline,
    EscalationInline,
    MentionInline,
    NewCommitmentInline,
    NewEscalationInline,
    NewNoteInline,
    NewReplyInline,
    NoteInline,
    ReplyInline,
)
from cases.admin.common import (
    PRIORITY_RANK,
    _action_form_page,
    _run_per_object,
    badge,
    due_badge,
)
from cases.admin.queue import QueueFilter
from cases.forms import CaseAdminForm, EscalateActionForm, staff_who_may_reply
from cases.models import (
    ACTIVE_STATUSES,
    Answering,
    Case,
    Commitment,
    CommitmentStatus,
    Escalation,
    EscalationStatus,
    Note,
    Reply,
)
from cases.selectors import (
    answering_now,
    conversation_position,
    offered_facts,
    suggested_replies,
)
from cases.services import CaseError
from sources.models import Mention, Priority

# The latest posts of a case offered to answer (a long conversation's older ones
# are answered from the conversation itself).
ANSWERABLE_POSTS = 100


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
        "answering",
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
        # Only the escalations this user may see are counted (cases/access.py).
        open_escalations = (
            access.escalations_visible_to(
                request.user, Escalation.objects.filter(case=OuterRef("pk"))
            )
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
                answering_agent=Subquery(
                    Answering.objects.filter(
                        case=OuterRef("pk"),
                        seen_at__gte=now - settings.WEBCARE_ANSWERING_TIMEOUT,
                    )
                    .order_by("started_at")
                    .values("agent__first_name")[:1]
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

    class Media:
        js = ("cases/reply_composer.js",)

    def get_object(self, request, object_id, from_field=None):
        # The page reads its case more than once (suggestions, then the form).
        cache = request.__dict__.setdefault("_webcare_cases", {})
        key = (object_id, from_field)
        if key not in cache:
            cache[key] = super().get_object(request, object_id, from_field)
        return cache[key]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The page also offers what to answer with: the reply templates for the
        case's category and language, filled in, and for a factual inaccuracy the
        approved facts that are not past their review date."""
        extra_context = extra_context or {}
        case = self.get_object(request, unquote(object_id))
        if (
            case is not None
            and case.status in ACTIVE_STATUSES
            and request.user.has_perm("cases.reply_case")
        ):
            extra_context["suggested_replies"] = suggested_replies(case, request.user)
            extra_context["offered_facts"] = offered_facts(case)
            extra_context["answering"] = answering_now(case, besides=request.user)
            extra_context["answering_url"] = reverse(
                "admin:cases_case_answering", args=[case.pk]
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/answering/",
                self.admin_site.admin_view(self.answering_view),
                name="cases_case_answering",
            ),
            *super().get_urls(),
        ]

    def answering_view(self, request, object_id):
        """The composer's sign of life while she types (POST), or that she stopped
        (POST with stop=1); answers who else is answering the case."""
        if request.method != "POST":
            return JsonResponse({"error": _("Use POST.")}, status=405)
        case = self.get_object(request, unquote(object_id))
        if case is None or not self.has_view_permission(request, case):
            return JsonResponse({"error": _("No such case.")}, status=404)
        try:
            if request.POST.get("stop"):
                services.case_stop_answering(case=case, agent=request.user)
                others = list(answering_now(case, besides=request.user))
            else:
                others = services.case_start_answering(case=case, agent=request.user)
        except services.CasePermissionDenied as error:
            return JsonResponse({"error": str(error)}, status=403)
        except CaseError as error:
            return JsonResponse({"error": str(error)}, status=409)
        return JsonResponse(
            {
                "others": [
                    {
                        "name": row.agent.first_name or row.agent.get_username(),
                        "since": timezone.localtime(row.started_at).strftime("%H:%M"),
                    }
                    for row in others
                ]
            }
        )

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

    @admin.display(description=gettext_lazy("answering now"))
    def answering(self, obj):
        name = getattr(obj, "answering_agent", None)
        return badge("soon", name, _("is writing a reply")) if name else ""

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
                        conversation_seen=data.get("conversation_seen") or None,
                        in_reply_to=data.get("in_reply_to"),
                        publish=bool(data.get("publish")),
                        posted_url=data.get("posted_url") or "",
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
            except services.ConversationChanged as error:
                # Between the form's check and the lock: keep her words in the message.
                messages.error(
                    request,
                    _("%(error)s Your reply was: “%(text)s”")
                    % {"error": error, "text": data["text"]},
                )
            except CaseError as error:
                messages.error(request, str(error))

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, NewReplyInline) and obj is not None and obj.pk:
            kwargs["form_kwargs"] = {
                "conversation_position": conversation_position(obj),
                "case": obj,
                "answerable": list(
                    Mention.objects.filter(case=obj)
                    .select_related("author")
                    .order_by("-published_at", "-pk")[:ANSWERABLE_POSTS]
                ),
            }
        return kwargs

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
