"""Staff interface for sources, authors and mentions; actions call services.

Mention text and raw records are hostile: they are only ever shown escaped
(Django's default; nothing here marks them safe).
"""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Q
from django.db.models.functions import Cast
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from webcare import outbound
from webcare.admin_mixins import ReadOnlyAdminMixin, SaveChangedFieldsMixin
from webcare.errors import ServiceError

from .connectors import ConnectorError, connector_for
from .connectors.base import NOT_SECRET
from .models import Author, Mention, ReachSample, Source
from .services import source_poll_request
from .services.cleaning import raw_json_text
from .triage.explain import triage_explanation_html


class HealthFilter(admin.SimpleListFilter):
    title = "health"
    parameter_name = "health"

    def lookups(self, request, model_admin):
        return [("healthy", "Healthy"), ("unhealthy", "Unhealthy")]

    def queryset(self, request, queryset):
        unhealthy = Q(consecutive_failures__gt=0) | Q(silence_alerted_at__isnull=False)
        if self.value() == "unhealthy":
            return queryset.filter(unhealthy)
        if self.value() == "healthy":
            return queryset.exclude(unhealthy)
        return queryset


class SourceForm(forms.ModelForm):
    def clean_url(self):
        url = self.cleaned_data.get("url") or ""
        # Polled by our workers: never a host inside our network. Checked when
        # entered, as the API checks what it is sent; every poll checks again.
        changed = url and "url" in self.changed_data
        problem = outbound.url_problem(url) if changed else None
        if problem:
            raise forms.ValidationError(problem)
        return url


@admin.register(Source)
class SourceAdmin(SaveChangedFieldsMixin, admin.ModelAdmin):
    form = SourceForm
    list_display = (
        "name",
        "kind",
        "is_active",
        "is_primary",
        "health",
        "last_success_at",
        "last_item_at",
        "consecutive_failures",
        "short_error",
        "parse_failures",
        "next_poll_at",
    )
    list_filter = (HealthFilter, "kind", "is_active", "is_primary")
    search_fields = ("name", "query", "url")
    actions = ("poll_now",)
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    readonly_fields = (
        "credentials",
        "poll_status",
        "cursor",
        "next_poll_at",
        "locked_until",
        "last_polled_at",
        "last_success_at",
        "last_item_at",
        "consecutive_failures",
        "last_error",
        "parse_failures",
        "silence_alerted_at",
        "created_at",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "kind",
                    "query",
                    "url",
                    "keywords",
                    "is_active",
                    "is_primary",
                    "poll_interval",
                    "expected_silence",
                    "credentials",
                )
            },
        ),
        (
            "Health",
            {
                "fields": (
                    "poll_status",
                    "last_polled_at",
                    "last_success_at",
                    "last_item_at",
                    "consecutive_failures",
                    "last_error",
                    "parse_failures",
                    "silence_alerted_at",
                    "next_poll_at",
                    "locked_until",
                    "cursor",
                    "created_at",
                )
            },
        ),
    )

    @admin.display(description="health", ordering="consecutive_failures")
    def health(self, source):
        if source.is_healthy:
            return format_html('<span style="color:#2e7d32">&#9679; {}</span>', "ok")
        reason = "failing" if source.consecutive_failures else "silent"
        return format_html('<span style="color:#c62828">&#9679; {}</span>', reason)

    @admin.display(description="last error")
    def short_error(self, source):
        return Truncator(source.last_error).chars(80)

    @admin.display(description="credentials")
    def credentials(self, source):
        # Credentials live in the environment only; show whether they are set,
        # never what they are.
        values = settings.WEBCARE_CONNECTOR_CREDENTIALS.get(source.kind) or {}
        secrets = {k: v for k, v in values.items() if k not in NOT_SECRET}
        if not secrets:
            return "none needed"
        missing = [name for name, value in secrets.items() if not value]
        if missing:
            return "missing in the environment: " + ", ".join(sorted(missing))
        # Say so here when this source's URL is not the host they belong to.
        try:
            _, withheld_note = connector_for(source.kind).credentials_for(
                url=source.url, credentials=values
            )
        except ConnectorError as error:
            return f"configured in the environment, not sent: {error}"
        if withheld_note:
            return f"configured in the environment; {withheld_note}"
        return "configured in the environment"

    @admin.display(description=gettext_lazy("poll"))
    def poll_status(self, source):
        """Where the last poll asked for stands: queued, running, its outcome."""
        now = timezone.now()
        lines = []
        if source.locked_until and source.locked_until > now:
            lines.append(
                _("Polling since %(time)s (%(ago)s ago).")
                % _when(source.poll_started_at or now, now)
            )
        elif _poll_is_queued(source, now):
            lines.append(
                _("Poll queued at %(time)s (%(ago)s ago), waiting for a worker.")
                % _when(source.poll_requested_at, now)
            )
        if source.last_polled_at is None:
            lines.append(_("Never polled."))
        elif source.consecutive_failures and source.last_error:
            lines.append(
                _("Last poll at %(time)s (%(ago)s ago) failed: %(error)s")
                % {**_when(source.last_polled_at, now), "error": source.last_error}
            )
        else:
            counts = source.last_poll_result or {}
            outcome = (
                _("not modified since the poll before")
                if counts.get("not_modified")
                else _(
                    "%(fetched)s fetched, %(new)s new, %(updated)s updated, "
                    "%(failed)s failed"
                )
                % {
                    name: int(counts.get(name) or 0)
                    for name in ("fetched", "new", "updated", "failed")
                }
            )
            lines.append(
                _("Last poll at %(time)s (%(ago)s ago) succeeded: %(outcome)s.")
                % {**_when(source.last_polled_at, now), "outcome": outcome}
            )
        # Error text comes from a third party's server: escaped like any text.
        return format_html_join("", "<div>{}</div>", ((line,) for line in lines))

    @admin.action(description=gettext_lazy("Poll now"), permissions=["change"])
    def poll_now(self, request, queryset):
        queued = []
        for source in queryset.order_by("pk"):
            self._poll_request(request, source, queued)
        if queued:
            self.message_user(
                request,
                ngettext(
                    "A poll of %(sources)s was queued; its page shows its progress.",
                    "Polls of %(sources)s were queued; their pages show progress.",
                    len(queued),
                )
                % {"sources": ", ".join(queued)},
                messages.SUCCESS,
            )

    def _poll_request(self, request, source, queued: list[str]) -> None:
        try:
            if source_poll_request(source_id=source.pk):
                queued.append(source.name)
            else:
                self.message_user(
                    request,
                    _("A poll of %(source)s is already queued.")
                    % {"source": source.name},
                    messages.INFO,
                )
        except ServiceError as error:
            self.message_user(request, str(error), messages.ERROR)

    def get_urls(self):
        return [
            path(
                "<int:source_id>/poll/",
                self.admin_site.admin_view(self.poll_view),
                name="sources_source_poll",
            ),
            *super().get_urls(),
        ]

    def poll_view(self, request, source_id):
        """The source page's "Poll now" button: queue a poll, back to the page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        source = self.get_object(request, str(source_id))
        if source is None:
            return self._get_obj_does_not_exist_redirect(
                request, self.opts, str(source_id)
            )
        if not self.has_change_permission(request, source):
            raise PermissionDenied
        queued: list[str] = []
        self._poll_request(request, source, queued)
        if queued:
            self.message_user(
                request,
                _("A poll of %(source)s was queued; this page shows its progress.")
                % {"source": source.name},
                messages.SUCCESS,
            )
        return HttpResponseRedirect(
            reverse("admin:sources_source_change", args=[source.pk])
        )


def _poll_is_queued(source, now) -> bool:
    # As source_poll_request counts it: asked for, not started since, and not
    # older than a lease (a lost task is not waited for forever).
    requested = source.poll_requested_at
    lease = timedelta(seconds=int(settings.WEBCARE_POLL_LEASE_SECONDS))
    return bool(
        requested
        and requested > now - lease
        and (source.poll_started_at is None or source.poll_started_at < requested)
    )


def _when(moment, now) -> dict[str, str]:
    return {
        "time": date_format(timezone.localtime(moment), "DATETIME_FORMAT"),
        "ago": timesince(moment, now),
    }


class WatchListFilter(admin.SimpleListFilter):
    title = "author on watch list"
    parameter_name = "watch"

    def lookups(self, request, model_admin):
        return [("any", "Any watch flag")] + [
            (flag, flag.replace("_", " ")) for flag in Author.WATCH_FLAGS
        ]

    def queryset(self, request, queryset):
        value = self.value()
        prefix = "author__" if queryset.model is Mention else ""
        if value == "any":
            condition = Q()
            for flag in Author.WATCH_FLAGS:
                condition |= Q(**{f"{prefix}is_{flag}": True})
            return queryset.filter(condition)
        if value in Author.WATCH_FLAGS:
            return queryset.filter(**{f"{prefix}is_{value}": True})
        return queryset


@admin.register(Author)
class AuthorAdmin(SaveChangedFieldsMixin, admin.ModelAdmin):
    list_display = (
        "__str__",
        "display_name",
        "platform",
        "follower_count",
        "is_journalist",
        "is_columnist",
        "is_influential",
        "is_vip",
        "is_repeat_complainer",
        "is_blocked",
        "crm_customer_id",
    )
    list_editable = (
        "is_journalist",
        "is_columnist",
        "is_influential",
        "is_vip",
        "is_repeat_complainer",
        "is_blocked",
    )
    list_filter = (WatchListFilter, "platform", "is_blocked")
    search_fields = ("handle", "display_name", "crm_customer_id", "platform_id")
    # The opt-out is the customer's: set and cleared only by the survey page.
    readonly_fields = (
        "platform",
        "platform_id",
        "survey_opt_out_at",
        "created_at",
        "updated_at",
    )

    def get_readonly_fields(self, request, obj=None):
        # The survey's personal link is mailed to this address: whoever could set
        # it to their own could answer as the customer. Customer service keeps it.
        fields = super().get_readonly_fields(request, obj)
        if not request.user.has_perm("sources.change_author_contact"):
            fields = (*fields, "email")
        return fields

    def has_delete_permission(self, request, obj=None):
        # Never deleted: a surveyed author is protected by the survey, and deleting
        # any other would leave their posts behind, unattributed, and break the
        # case history. A person's data is erased instead (reporting's admin adds
        # "Erase personal data" for those who may).
        return False


class ReachSampleInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ReachSample
    fields = ("sampled_at", "reach")
    readonly_fields = fields
    extra = 0
    ordering = ("-sampled_at",)


@admin.register(Mention)
class MentionAdmin(SaveChangedFieldsMixin, admin.ModelAdmin):
    list_display = (
        "short_text",
        "author",
        "source",
        "published_at",
        "language",
        "triage_status",
        "category",
        "outcome",
        "reach_column",
        "is_deleted",
    )
    list_select_related = ("author", "source")
    list_filter = (
        "source",
        WatchListFilter,
        "language",
        "triage_status",
        "category",
        "outcome",
        "is_deleted",
        "published_at",
    )
    search_fields = ("text", "author__handle", "external_id")
    date_hierarchy = "published_at"
    inlines = (ReachSampleInline,)
    fields = (
        "source",
        "external_id",
        "url",
        "author",
        "text",
        "language",
        "published_at",
        "first_seen_at",
        "edited_at",
        "is_deleted",
        "deleted_at",
        "in_reply_to",
        "conversation_key",
        ("likes", "reposts", "replies"),
        "reach_alerted_at",
        "triage_status",
        "category",
        "confidence",
        "outcome",
        "rule",
        "triage_reason",
        "triage_explanation",
        "triaged_at",
        "reviewed_by",
        "reviewed_at",
        "case",
        "raw_record",
    )
    # What was seen is evidence (audit trail), and so is its triage: that is
    # decided by the rules or the review queue, and a mention joins a case through
    # case_add_mention (the "Add to case" action that cases.admin adds), which
    # writes the CaseEvent. Who wrote it is evidence too: corrected only with a
    # reason, through mention_reattribute (the "Re-attribute" action).
    readonly_fields = (
        "author",
        "triage_status",
        "category",
        "outcome",
        "triage_reason",
        "case",
        "source",
        "external_id",
        "url",
        "text",
        "language",
        "published_at",
        "first_seen_at",
        "edited_at",
        "is_deleted",
        "deleted_at",
        "in_reply_to",
        "conversation_key",
        "likes",
        "reposts",
        "replies",
        "reach_alerted_at",
        "confidence",
        "rule",
        "triaged_at",
        "reviewed_by",
        "reviewed_at",
        "raw_record",
        "triage_explanation",
    )

    def has_add_permission(self, request):
        return False

    @admin.display(description="text")
    def short_text(self, mention):
        return Truncator(mention.text).chars(100)

    @admin.display(description="reach")
    def reach_column(self, mention):
        return mention.reach

    @admin.display(description="why triaged so")
    def triage_explanation(self, mention):
        return triage_explanation_html(mention)

    def get_queryset(self, request):
        # The raw record is read only by raw_record, as text: one stored before
        # ingest bounded its depth may nest too deeply for Python to load.
        return super().get_queryset(request).defer("raw")

    @admin.display(description="raw record")
    def raw_record(self, mention):
        stored = (
            Mention.objects.filter(pk=mention.pk)
            .values_list(Cast("raw", models.TextField()), flat=True)
            .first()
        )
        return format_html(
            "<pre style='white-space:pre-wrap'>{}</pre>",
            raw_json_text(stored or "{}", limit=20000),
        )


# The rules of engagement, their dry run, the review queue and triage runs.
from sources import admin_rules  # noqa: E402, F401
