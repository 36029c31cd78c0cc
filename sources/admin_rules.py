"""Staff pages of triage: the rules of engagement with a dry run, the spokespeople's
review queue and re-runs of triage. Imported by sources/admin.py.

Mention text is hostile: templates autoescape it and nothing here marks it safe
except the output of format_html.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from webcare.admin_mixins import SaveChangedFieldsMixin

from .models import (
    Author,
    Category,
    EngagementRule,
    Outcome,
    ReviewMention,
    RuleDryRun,
    RuleDryRunMode,
    SourceKind,
    TriageRun,
    TriageRunStatus,
)
from .triage.explain import triage_explanation_html
from .triage.rules import LANGUAGES, compile_pattern, pattern_time_check
from .triage.services import (
    RUN_BATCH_SIZE_MAX,
    TriageError,
    mention_review,
    pattern_timeout,
    rule_dry_run_start,
    rule_spec_from_rule,
    triage_run_start,
)

DRY_RUN_LAST_N = 500
LANGUAGE_NAMES = {"nl": "Dutch", "en": "English"}


class EngagementRuleForm(forms.ModelForm):
    categories = forms.MultipleChoiceField(
        choices=Category.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Any of; none ticked: any category.",
    )
    source_kinds = forms.MultipleChoiceField(
        choices=SourceKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Any of; none ticked: any source.",
    )
    author_flags = forms.MultipleChoiceField(
        choices=[(flag, flag.replace("_", " ")) for flag in Author.WATCH_FLAGS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The author has any of these flags; none ticked: any author.",
    )
    languages = forms.MultipleChoiceField(
        choices=[(code, LANGUAGE_NAMES.get(code, code)) for code in LANGUAGES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Any of; none ticked: any language.",
    )

    class Meta:
        model = EngagementRule
        fields = (
            "name",
            "position",
            "is_active",
            "description",
            "categories",
            "patterns",
            "source_kinds",
            "author_flags",
            "min_reach",
            "languages",
            "outcome",
            "priority",
            "reason",
            "department",
            "also_escalate_to",
        )

    def clean_patterns(self):
        patterns = self.cleaned_data.get("patterns", "")
        errors = []
        for number, line in enumerate(patterns.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                compile_pattern(line.strip())
                pattern_time_check(line.strip(), timeout=pattern_timeout())
            except ValueError as error:
                errors.append(f"Line {number} ({line.strip()[:60]}): {error}")
        if errors:
            raise ValidationError(errors)
        return "\n".join(line.strip() for line in patterns.splitlines() if line.strip())

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        candidate = EngagementRule(
            **{name: cleaned.get(name) for name in self.Meta.fields}
        )
        if cleaned.get("also_escalate_to") and cleaned.get("outcome") != Outcome.ENGAGE:
            raise ValidationError(
                {"also_escalate_to": "Only an engage rule also escalates."}
            )
        if cleaned.get("outcome") == Outcome.ESCALATE and not cleaned.get("department"):
            raise ValidationError(
                {"department": "An escalate rule needs a department."}
            )
        try:
            rule_spec_from_rule(candidate)
        except ValueError as error:
            raise ValidationError(str(error)) from None
        return cleaned


@admin.register(EngagementRule)
class EngagementRuleAdmin(SaveChangedFieldsMixin, admin.ModelAdmin):
    form = EngagementRuleForm
    list_display = (
        "position",
        "name",
        "categories_column",
        "outcome",
        "priority",
        "also_escalate_to",
        "is_active",
        "timeouts_column",
        "dry_run_link",
    )
    list_display_links = ("name",)
    list_editable = ("position", "is_active")
    list_filter = ("is_active", "outcome")
    search_fields = ("name", "description", "patterns", "reason")
    ordering = ("position", "id")
    readonly_fields = ("pattern_timeouts", "last_pattern_timeout_at")
    fieldsets = (
        (None, {"fields": ("name", "position", "is_active", "description")}),
        (
            "When",
            {
                "fields": (
                    "categories",
                    "patterns",
                    "source_kinds",
                    "author_flags",
                    "min_reach",
                    "languages",
                    "pattern_timeouts",
                    "last_pattern_timeout_at",
                )
            },
        ),
        (
            "Then",
            {
                "fields": (
                    "outcome",
                    "priority",
                    "reason",
                    "department",
                    "also_escalate_to",
                )
            },
        ),
    )

    @admin.display(description="categories")
    def categories_column(self, rule):
        return ", ".join(rule.categories or ()) or "any"

    @admin.display(
        description=gettext_lazy("pattern time-outs"), ordering="pattern_timeouts"
    )
    def timeouts_column(self, rule):
        # A time-out sent a mention to review: staff make the pattern cheaper.
        if not rule.pattern_timeouts:
            return "-"
        return _("timed out %(count)d, last %(when)s ago") % {
            "count": rule.pattern_timeouts,
            "when": timesince(rule.last_pattern_timeout_at),
        }

    @admin.display(description="dry run")
    def dry_run_link(self, rule):
        url = reverse("admin:sources_engagementrule_dry_run", args=[rule.pk])
        label = "Preview switching off" if rule.is_active else "Preview switching on"
        return format_html('<a href="{}">{}</a>', url, label)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "dry-run/",
                view(self.dry_run_view),
                name="sources_engagementrule_dry_run_add",
            ),
            path(
                "<int:rule_id>/dry-run/",
                view(self.dry_run_view),
                name="sources_engagementrule_dry_run",
            ),
            path(
                "dry-runs/<int:dry_run_id>/",
                view(self.dry_run_result_view),
                name="sources_engagementrule_dry_run_result",
            ),
            *super().get_urls(),
        ]

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        if object_id and object_id.isdigit():
            extra_context["dry_run_url"] = reverse(
                "admin:sources_engagementrule_dry_run", args=[int(object_id)]
            )
        else:
            extra_context["dry_run_url"] = reverse(
                "admin:sources_engagementrule_dry_run_add"
            )
        return super().changeform_view(request, object_id, form_url, extra_context)

    def dry_run_view(self, request, rule_id=None):
        """Start a dry run in the background: of the unsaved edits of the form
        (POST), or of the stored rule switched on or off (GET asks, POST starts).
        Nothing here tries a pattern on a mention: the task does."""
        rule = None
        if rule_id is not None:
            rule = self.get_object(request, str(rule_id))
            if rule is None:
                return self._get_obj_does_not_exist_redirect(
                    request, self.opts, str(rule_id)
                )
        switching = rule is not None and (
            request.method == "GET" or "_switch" in request.POST
        )
        if request.method == "POST" and not switching:
            allowed = (
                self.has_change_permission(request, rule)
                if rule
                else self.has_add_permission(request)
            )
        else:
            allowed = rule is not None and self.has_view_permission(request, rule)
        if not allowed:
            raise PermissionDenied
        context = self._dry_run_context(request, rule)
        if switching:
            mode = (
                RuleDryRunMode.SWITCH_OFF
                if rule.is_active
                else RuleDryRunMode.SWITCH_ON
            )
            if request.method == "GET":
                context["mode"] = mode
                context["candidate"] = rule
                return TemplateResponse(
                    request, "admin/sources/engagementrule/dry_run.html", context
                )
            dry_run = rule_dry_run_start(
                mode=mode, rule=rule, started_by=request.user, last_n=DRY_RUN_LAST_N
            )
            return redirect("admin:sources_engagementrule_dry_run_result", dry_run.pk)
        form_class = self.get_form(request, rule, change=rule is not None)
        form = form_class(request.POST, instance=rule)
        if not form.is_valid():
            context["form_errors"] = form.errors
            return TemplateResponse(
                request, "admin/sources/engagementrule/dry_run.html", context
            )
        dry_run = rule_dry_run_start(
            mode=RuleDryRunMode.EDITED,
            rule=rule,
            # The rule as edited, as JSON: nothing of it is saved.
            candidate={name: form.cleaned_data.get(name) for name in form.Meta.fields},
            form_data=[
                [key, value]
                for key in request.POST
                if key not in ("csrfmiddlewaretoken", "_dry_run")
                for value in request.POST.getlist(key)
            ],
            started_by=request.user,
            last_n=DRY_RUN_LAST_N,
        )
        return redirect("admin:sources_engagementrule_dry_run_result", dry_run.pk)

    def dry_run_result_view(self, request, dry_run_id):
        """The progress of a dry run (the page refreshes itself), then its result."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        dry_run = (
            RuleDryRun.objects.select_related("rule").filter(pk=dry_run_id).first()
        )
        if dry_run is None:
            return self._get_obj_does_not_exist_redirect(
                request, RuleDryRun._meta, str(dry_run_id)
            )
        context = self._dry_run_context(request, dry_run.rule)
        context.update(
            dry_run=dry_run,
            mode=dry_run.mode,
            candidate={"name": dry_run.candidate.get("name") or dry_run.rule.name},
            in_progress=dry_run.status
            in (TriageRunStatus.QUEUED, TriageRunStatus.RUNNING),
        )
        if dry_run.status == TriageRunStatus.FAILED:
            context["form_errors"] = {"__all__": [dry_run.last_error]}
        if dry_run.status == TriageRunStatus.DONE:
            result = dict(dry_run.result)
            result["examples"] = [
                {**example, "first_seen_at": parse_datetime(example["first_seen_at"])}
                for example in result.get("examples", ())
            ]
            context["result"] = result
        if dry_run.mode == RuleDryRunMode.EDITED:
            context["resubmit"] = dry_run.form_data
            context["save_url"] = (
                reverse("admin:sources_engagementrule_change", args=[dry_run.rule_id])
                if dry_run.rule_id
                else reverse("admin:sources_engagementrule_add")
            )
        return TemplateResponse(
            request, "admin/sources/engagementrule/dry_run.html", context
        )

    def _dry_run_context(self, request, rule) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": rule,
            "title": _("Dry run of a rule of engagement"),
            "last_n": DRY_RUN_LAST_N,
        }


# --- Review queue ------------------------------------------------------------------


class ReviewActionForm(ActionForm):
    note = forms.CharField(
        required=False,
        max_length=300,
        label="Note",
        help_text="Why, for the audit trail (optional).",
    )


@admin.register(ReviewMention)
class ReviewMentionAdmin(admin.ModelAdmin):
    """Mentions triage was in doubt about, oldest first, for the spokespeople."""

    action_form = ReviewActionForm
    actions = ("engage_selected", "ignore_selected")
    list_display = (
        "first_seen_at",
        "short_text",
        "author",
        "source",
        "category",
        "confidence_column",
        "triage_reason",
    )
    list_display_links = ("short_text",)
    list_select_related = ("author", "source")
    list_filter = ("category", "source__kind")
    search_fields = ("text", "author__handle")
    ordering = ("first_seen_at", "id")
    fields = (
        "text",
        "author",
        "source",
        "url",
        "published_at",
        "first_seen_at",
        "conversation_key",
        "reach_column",
        "triage_explanation",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).review_queue()

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # The page is read-only; "change" here means settling items.
        if obj is not None:
            return False
        return super().has_change_permission(request)

    def has_settle_permission(self, request):
        return super().has_change_permission(request)

    @admin.display(description="text")
    def short_text(self, mention):
        return Truncator(mention.text).chars(140)

    @admin.display(description="confidence", ordering="confidence")
    def confidence_column(self, mention):
        return "-" if mention.confidence is None else f"{mention.confidence:.2f}"

    @admin.display(description="reach")
    def reach_column(self, mention):
        return mention.reach

    @admin.display(description="why triage was in doubt")
    def triage_explanation(self, mention):
        return triage_explanation_html(mention)

    def get_urls(self):
        return [
            path(
                "<int:mention_id>/settle/",
                self.admin_site.admin_view(self.settle_view),
                name="sources_reviewmention_settle",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        if object_id.isdigit() and self.has_settle_permission(request):
            extra_context["settle_url"] = reverse(
                "admin:sources_reviewmention_settle", args=[int(object_id)]
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def settle_view(self, request, mention_id):
        if request.method != "POST":
            return redirect("admin:sources_reviewmention_change", mention_id)
        if not self.has_settle_permission(request):
            raise PermissionDenied
        mention = self.get_object(request, str(mention_id))
        outcome = request.POST.get("outcome", "")
        if mention is None:
            self.message_user(
                request,
                "This mention is no longer waiting for review.",
                messages.WARNING,
            )
            return redirect("admin:sources_reviewmention_changelist")
        try:
            mention_review(
                mention=mention,
                outcome=outcome,
                reviewer=request.user,
                note=request.POST.get("note", ""),
            )
        except TriageError as error:
            self.message_user(request, str(error), messages.ERROR)
            return redirect("admin:sources_reviewmention_change", mention_id)
        self.message_user(request, _settled_message(mention, outcome), messages.SUCCESS)
        return redirect("admin:sources_reviewmention_changelist")

    def _settle(self, request, queryset, outcome: str) -> None:
        note = request.POST.get("note", "")
        settled = 0
        for mention in queryset.select_related(None).only("pk"):
            try:
                mention_review(
                    mention=mention, outcome=outcome, reviewer=request.user, note=note
                )
            except TriageError as error:
                self.message_user(request, str(error), messages.WARNING)
                continue
            settled += 1
        if settled:
            self.message_user(
                request,
                f"{settled} mention(s) settled: {outcome}.",
                messages.SUCCESS,
            )

    @admin.action(description="Engage: open or join the case", permissions=["settle"])
    def engage_selected(self, request, queryset):
        self._settle(request, queryset, Outcome.ENGAGE)

    @admin.action(description="Ignore (stays visible)", permissions=["settle"])
    def ignore_selected(self, request, queryset):
        self._settle(request, queryset, Outcome.IGNORE)


def _settled_message(mention, outcome: str) -> str:
    if outcome == Outcome.ENGAGE and mention.case_id:
        return f"Mention {mention.pk} engaged: case #{mention.case_id}."
    return f"Mention {mention.pk} settled: {outcome}."


# --- Re-runs of triage -------------------------------------------------------------


class TriageRunForm(forms.ModelForm):
    # The bounds triage_run_start enforces: outside them it would refuse (a 500).
    batch_size = forms.IntegerField(
        min_value=1, max_value=RUN_BATCH_SIZE_MAX, initial=200
    )

    class Meta:
        model = TriageRun
        fields = ("scope", "batch_size")


@admin.register(TriageRun)
class TriageRunAdmin(admin.ModelAdmin):
    """Adding a run is the "re-run triage" button; its progress shows in the list."""

    form = TriageRunForm
    list_display = (
        "__str__",
        "status",
        "progress_column",
        "results_column",
        "started_by",
        "created_at",
        "started_at",
        "finished_at",
        "short_error",
    )
    list_select_related = ("started_by",)
    list_filter = ("status", "scope")
    readonly_fields = (
        "status",
        "total",
        "done",
        "progress_column",
        "results_column",
        "started_by",
        "created_at",
        "started_at",
        "finished_at",
        "last_error",
    )

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("scope", "batch_size")
        return ("scope", "batch_size", *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("scope", "batch_size", *self.readonly_fields)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # The service creates the run and queues it after commit.
        run = triage_run_start(
            scope=obj.scope, batch_size=obj.batch_size, started_by=request.user
        )
        obj.pk = run.pk
        obj.refresh_from_db()

    @admin.display(description="progress")
    def progress_column(self, run):
        return f"{run.done}/{run.total} ({run.progress:.0%})"

    @admin.display(description="results")
    def results_column(self, run):
        return ", ".join(f"{key} {value}" for key, value in run.results.items()) or "-"

    @admin.display(description="error")
    def short_error(self, run):
        return Truncator(run.last_error).chars(80)
