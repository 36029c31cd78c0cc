"""Staff interface for sources, authors and mentions; actions call services.

Mention text and raw records are hostile: they are only ever shown escaped
(Django's default; nothing here marks them safe).
"""

import json

from django.conf import settings
from django.contrib import admin, messages
from django.db import models
from django.db.models import Q
from django.utils.html import format_html
from django.utils.text import Truncator

from webcare.admin_mixins import ReadOnlyAdminMixin

from .connectors import ConnectorError, connector_for
from .connectors.base import NOT_SECRET
from .models import Author, Mention, ReachSample, Source
from .services import source_poll
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


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
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

    @admin.action(description="Poll now", permissions=["change"])
    def poll_now(self, request, queryset):
        for source in queryset.order_by("pk"):
            result = source_poll(source_id=source.pk)
            summary = (
                f"{source.name}: fetched {result.fetched}, new {result.new}, "
                f"updated {result.updated}, failed {result.failed}"
            )
            if result.error:
                self.message_user(
                    request, f"{summary}; error: {result.error}", messages.ERROR
                )
            else:
                self.message_user(request, summary, messages.SUCCESS)


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
class AuthorAdmin(admin.ModelAdmin):
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
    readonly_fields = ("platform", "platform_id", "created_at", "updated_at")


class ReachSampleInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ReachSample
    fields = ("sampled_at", "reach")
    readonly_fields = fields
    extra = 0
    ordering = ("-sampled_at",)


@admin.register(Mention)
class MentionAdmin(admin.ModelAdmin):
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
    autocomplete_fields = ("author",)
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
    # writes the CaseEvent.
    readonly_fields = (
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

    @admin.display(description="raw record")
    def raw_record(self, mention):
        return format_html(
            "<pre style='white-space:pre-wrap'>{}</pre>",
            json.dumps(mention.raw, indent=2, ensure_ascii=False)[:20000],
        )


# The rules of engagement, their dry run, the review queue and triage runs.
from sources import admin_rules  # noqa: E402, F401
