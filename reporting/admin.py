import json

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cases import admin as cases_admin
from cases.admin import CaseEventInline, report_outcome
from cases.models import Case, CaseStatus
from reporting.forms import PersonEraseForm
from reporting.models import DailySummary, Survey, SurveyChannel
from reporting.services import (
    COPY_PERMISSION,
    SurveyError,
    survey_cancel,
    survey_link_copy,
    survey_link_refusal,
    survey_resend,
    survey_schedule_for_case,
)
from reporting.services.privacy import (
    ERASE_PERMISSION,
    EXPORT_PERMISSION,
    person_erase,
    person_erase_preview,
    person_export,
    person_linked_authors,
)
from sources import admin as sources_admin
from sources.models import Author
from webcare.errors import ServiceError, StateConflict

# Surveys are written by services only: staff read them and use the actions.
SURVEY_FIELDS = (
    "case",
    "recipient",
    "channel",
    "email",
    "language",
    "status",
    "score",
    "comment",
    "agent_first_name",
    "subject",
    "created_at",
    "scheduled_for",
    "sent_at",
    "reminded_at",
    "responded_at",
    "corrected_at",
    "expired_at",
    "cancelled_at",
    "send_attempts",
    "last_error",
)


class BandFilter(admin.SimpleListFilter):
    title = "score"
    parameter_name = "band"

    BANDS = {
        "promoter": Q(score__gte=9),
        "passive": Q(score__gte=7, score__lte=8),
        "detractor": Q(score__lte=6),
    }

    def lookups(self, request, model_admin):
        return [
            ("promoter", "Promoters (9-10)"),
            ("passive", "Passives (7-8)"),
            ("detractor", "Detractors (0-6)"),
            ("none", "No score"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "none":
            return queryset.filter(score__isnull=True)
        if self.value() in self.BANDS:
            return queryset.filter(self.BANDS[self.value()])
        return queryset


def _copy_link_button(survey: Survey) -> str:
    """The way to the link, never the link itself: copying it is checked (not the
    rated agent) and written on the case's trail."""
    if survey.channel != SurveyChannel.LINK or survey.pk is None:
        return "-"
    return format_html(
        '<a class="button" href="{}">{}</a><br><small>{}</small>',
        reverse("admin:reporting_survey_copy_link", args=[survey.pk]),
        _("Copy the personal link for the customer"),
        _("Personal: send it only in a private message. Each copy is recorded."),
    )


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "case_link",
        "recipient",
        "channel",
        "status",
        "score",
        "band",
        "scheduled_for",
        "sent_at",
        "responded_at",
        "send_attempts",
    )
    list_filter = ("status", BandFilter, "channel", "language")
    list_select_related = ("case", "recipient")
    search_fields = ("case__id", "case__subject", "recipient__handle", "email")
    date_hierarchy = "scheduled_for"
    readonly_fields = (*SURVEY_FIELDS, "personal_link")
    fields = SURVEY_FIELDS
    actions = ("resend_surveys", "cancel_surveys")

    def get_fields(self, request, obj=None):
        # The button only for those who may copy; who was rated is checked on copying.
        if request.user.has_perm(COPY_PERMISSION):
            return (*SURVEY_FIELDS, "personal_link")
        return SURVEY_FIELDS

    def get_urls(self):
        copy_link = self.admin_site.admin_view(self.copy_link_view)
        return [
            path(
                "<path:object_id>/copy-link/",
                copy_link,
                name="reporting_survey_copy_link",
            ),
            *super().get_urls(),
        ]

    def copy_link_view(self, request, object_id):
        """Confirm, then show the personal link once; a GET changes nothing."""
        survey = self.get_object(request, unquote(object_id))
        if survey is None or not self.has_view_permission(request, survey):
            raise Http404
        refusal = survey_link_refusal(survey=survey, actor=request.user)
        link, status = "", 200
        if refusal is None and request.method == "POST":
            try:
                link = survey_link_copy(survey=survey, actor=request.user, via="admin")
            except SurveyError as error:
                refusal = error
        if refusal is not None:
            status = 409 if isinstance(refusal, StateConflict) else 403
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Copy the personal link for the customer"),
            "survey": survey,
            "refusal": refusal,
            "link": link,
        }
        return TemplateResponse(
            request, "admin/reporting/survey_copy_link.html", context, status=status
        )

    @admin.display(description="case", ordering="case_id")
    def case_link(self, obj: Survey) -> str:
        return format_html(
            '<a href="{}">#{}</a>', obj.case.get_absolute_url(), obj.case_id
        )

    @admin.display(description="band")
    def band(self, obj: Survey) -> str:
        return obj.band or "-"

    @admin.display(description=_("personal link"))
    def personal_link(self, obj: Survey) -> str:
        return _copy_link_button(obj)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _run(self, request, queryset, service, done: str):
        succeeded = 0
        for survey in queryset:
            try:
                service(survey=survey, actor=request.user)
            except SurveyError as error:
                self.message_user(
                    request, f"Survey {survey.pk}: {error}", messages.WARNING
                )
            else:
                succeeded += 1
        if succeeded:
            self.message_user(request, f"{succeeded} survey(s) {done}.")

    @admin.action(
        permissions=["change"], description="Resend the selected failed surveys now"
    )
    def resend_surveys(self, request, queryset):
        self._run(request, queryset, survey_resend, "queued to be sent")

    @admin.action(
        permissions=["change"], description="Cancel the selected unanswered surveys"
    )
    def cancel_surveys(self, request, queryset):
        self._run(request, queryset, survey_cancel, "cancelled")


class SurveyInline(admin.StackedInline):
    """The case's survey on the case page."""

    model = Survey
    fk_name = "case"
    extra = 0
    max_num = 1
    can_delete = False
    fields = (
        "status",
        "channel",
        "score",
        "comment",
        "scheduled_for",
        "sent_at",
        "reminded_at",
        "responded_at",
        "corrected_at",
        "send_attempts",
        "last_error",
    )
    readonly_fields = (*fields, "personal_link")
    show_change_link = True

    def get_fields(self, request, obj=None):
        if request.user.has_perm(COPY_PERMISSION):
            return (*self.fields, "personal_link")
        return self.fields

    @admin.display(description=_("personal link"))
    def personal_link(self, obj: Survey) -> str:
        return _copy_link_button(obj)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(DailySummary)
class DailySummaryAdmin(admin.ModelAdmin):
    list_display = ("date", "sent_at", "created_at")
    list_select_related = ("notice",)
    date_hierarchy = "date"
    readonly_fields = ("date", "body", "recipients", "notice", "sent_at", "created_at")
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- The case page, with its survey -------------------------------------------------


class CaseAdmin(cases_admin.CaseAdmin):
    """The cases app's case page, plus the survey: its inline and a "Send survey
    now" action. Registered here because reporting builds on cases, not the other
    way round."""

    inlines = (
        *(i for i in cases_admin.CaseAdmin.inlines if i is not CaseEventInline),
        SurveyInline,
        CaseEventInline,
    )
    actions = (*cases_admin.CaseAdmin.actions, "send_survey_now")

    @admin.action(description="Send survey now", permissions=("resolve",))
    def send_survey_now(self, request, queryset):
        """Schedule the survey (every exclusion applies) and send it at once."""
        done, errors = [], []
        for case in queryset.select_related("survey"):
            if case.status != CaseStatus.RESOLVED:
                errors.append(f"#{case.pk}: only a resolved case gets a survey.")
                continue
            survey = getattr(case, "survey", None) or survey_schedule_for_case(
                case=case, actor=request.user
            )
            if survey is None:
                errors.append(
                    f"#{case.pk}: no survey (excluded; the reason is in the "
                    "case's trail)."
                )
                continue
            try:
                survey_resend(survey=survey, actor=request.user)
            except SurveyError as error:
                errors.append(f"#{case.pk}: {error}")
            else:
                done.append(f"#{case.pk}")
        report_outcome(request, done, errors, "Survey sent")


admin.site.unregister(Case)
admin.site.register(Case, CaseAdmin)


# --- A person's data: export and erasure, on the author page -------------------------


ERASE_ROW_LABELS = {
    "authors": _("accounts: identity replaced by a pseudonym"),
    "mentions": _("posts: text, link and platform record removed"),
    "cases": _("cases: subject and notes replaced"),
    "replies": _("replies of the team: text removed"),
    "notes": _("internal notes: text removed"),
    "escalations": _("escalations: reason and notes removed"),
    "commitments": _("commitments: description removed"),
    "surveys": _("surveys: comment and address removed, score kept"),
}


class AuthorAdmin(sources_admin.AuthorAdmin):
    """The sources app's author page, plus exporting and erasing the person's data
    (every linked account, all apps): registered here because the data spans
    cases and surveys, which sources may not know about. Only who holds the
    permission (managers) sees the actions; nobody deletes an author."""

    actions = (
        *(sources_admin.AuthorAdmin.actions or ()),
        "export_personal_data",
        "erase_personal_data",
    )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/export/",
                self.admin_site.admin_view(self.export_view),
                name="sources_author_export",
            ),
            path(
                "<path:object_id>/erase/",
                self.admin_site.admin_view(self.erase_view),
                name="sources_author_erase",
            ),
            *super().get_urls(),
        ]

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and self._may_export_or_erase(request):
            fields = (*fields, "personal_data")
        return fields

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        # Last, once: Django appends read-only fields to the form's own.
        if "personal_data" in fields:
            fields.remove("personal_data")
            fields.append("personal_data")
        return fields

    def has_export_data_permission(self, request, obj=None):
        return request.user.has_perm(EXPORT_PERMISSION)

    def has_erase_data_permission(self, request, obj=None):
        return request.user.has_perm(ERASE_PERMISSION)

    def _may_export_or_erase(self, request) -> bool:
        return self.has_export_data_permission(
            request
        ) or self.has_erase_data_permission(request)

    @admin.display(description=_("personal data"))
    def personal_data(self, obj: Author) -> str:
        return format_html(
            '<a class="button" href="{}">{}</a> <a class="button" href="{}">{}</a>',
            reverse("admin:sources_author_export", args=[obj.pk]),
            gettext("Export personal data (JSON)"),
            reverse("admin:sources_author_erase", args=[obj.pk]),
            gettext("Erase personal data…"),
        )

    @admin.action(
        permissions=["export_data"],
        description=_("Export personal data (JSON download)"),
    )
    def export_personal_data(self, request, queryset):
        author = self._one(request, queryset)
        return self._export_response(request, author) if author else None

    @admin.action(permissions=["erase_data"], description=_("Erase personal data…"))
    def erase_personal_data(self, request, queryset):
        author = self._one(request, queryset)
        if author is None:
            return None
        return HttpResponseRedirect(
            reverse("admin:sources_author_erase", args=[author.pk])
        )

    def _one(self, request, queryset) -> Author | None:
        # One request is about one person (and their linked accounts).
        if queryset.count() != 1:
            self.message_user(
                request,
                gettext("Choose one author: the request is about one person."),
                messages.ERROR,
            )
            return None
        return queryset.get()

    def _export_response(self, request, author: Author) -> HttpResponse:
        try:
            export = person_export(author=author, actor=request.user)
        except ServiceError as error:
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        response = HttpResponse(
            json.dumps(export, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
            content_type="application/json; charset=utf-8",
        )
        response["Content-Disposition"] = (
            f'attachment; filename="person-{author.pk}.json"'
        )
        response["Cache-Control"] = "no-store"
        return response

    def export_view(self, request, object_id):
        """A GET shows what the export covers and changes nothing; the POST
        downloads it (and puts the export on each account's record)."""
        author = self.get_object(request, unquote(object_id))
        if author is None:
            raise Http404
        if not self.has_export_data_permission(request):
            return HttpResponse(status=403)
        if request.method == "POST":
            return self._export_response(request, author)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Export personal data"),
            "author": author,
            "linked": person_linked_authors(author=author),
        }
        return TemplateResponse(request, "admin/reporting/author_export.html", context)

    def erase_view(self, request, object_id):
        """Show what will be erased (counts, linked accounts), ask why; a POST
        erases. A GET changes nothing."""
        author = self.get_object(request, unquote(object_id))
        if author is None:
            raise Http404
        if not self.has_erase_data_permission(request):
            return HttpResponse(status=403)
        form = PersonEraseForm(request.POST or None)
        status = 200
        if request.method == "POST" and form.is_valid():
            try:
                result = person_erase(
                    author=author,
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                )
            except ServiceError as error:
                form.add_error(None, str(error))
                status = 400
            else:
                self.message_user(
                    request,
                    gettext(
                        "Personal data erased from %(authors)s account(s) and "
                        "%(cases)s case(s)."
                    )
                    % {
                        "authors": len(result.author_ids),
                        "cases": len(result.case_ids),
                    },
                )
                return HttpResponseRedirect(
                    reverse("admin:sources_author_change", args=[author.pk])
                )
        elif request.method == "POST":
            status = 400
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Erase personal data"),
            "author": author,
            "linked": person_linked_authors(author=author),
            "rows": [
                (ERASE_ROW_LABELS.get(name, name), count)
                for name, count in person_erase_preview(author=author).rows.items()
            ],
            "form": form,
        }
        return TemplateResponse(
            request, "admin/reporting/author_erase.html", context, status=status
        )


admin.site.unregister(Author)
admin.site.register(Author, AuthorAdmin)
