"""Serializers for sources, authors and mentions in the CRM API.

Mention text is hostile: it is returned as the plain text it is, for the client to
escape; nothing here renders it.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext as _
from rest_framework import serializers

from sources.models import (
    EXPECTED_SILENCE_BOUNDS,
    POLL_INTERVAL_BOUNDS,
    Author,
    Category,
    Mention,
    Outcome,
    Source,
    SourceKind,
)
from webcare import outbound

MAX_COUNTER = 2_147_483_647
MAX_INGEST_ITEMS = 500


class BoundedDurationField(serializers.DurationField):
    """A duration between bounds; an absurd one is a 400, not an overflow."""

    def to_internal_value(self, value):
        try:
            return super().to_internal_value(value)
        except (OverflowError, ValueError):
            self.fail("invalid", format="[DD] [HH:[MM:]]ss[.uuuuuu]")


class SourceSerializer(serializers.ModelSerializer):
    poll_interval = BoundedDurationField(
        required=False,
        min_value=POLL_INTERVAL_BOUNDS[0],
        max_value=POLL_INTERVAL_BOUNDS[1],
    )
    expected_silence = BoundedDurationField(
        required=False,
        min_value=EXPECTED_SILENCE_BOUNDS[0],
        max_value=EXPECTED_SILENCE_BOUNDS[1],
    )
    # Blank is allowed (a manual source has none), so not an OpenAPI "uri".
    url = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    is_healthy = serializers.BooleanField(read_only=True)

    class Meta:
        model = Source
        fields = [
            "id",
            "name",
            "kind",
            "query",
            "url",
            "keywords",
            "is_active",
            "is_primary",
            "poll_interval",
            "expected_silence",
            "is_healthy",
            "last_polled_at",
            "last_success_at",
            "last_item_at",
            "consecutive_failures",
            "parse_failures",
            "created_at",
        ]
        # No last_error: it may quote a third party's answer; staff read it in
        # the admin.
        read_only_fields = [
            "id",
            "is_healthy",
            "last_polled_at",
            "last_success_at",
            "last_item_at",
            "consecutive_failures",
            "parse_failures",
            "created_at",
        ]
        extra_kwargs = {"keywords": {"max_length": 10000}}

    def validate_url(self, url: str) -> str:
        if not url:
            return url
        try:
            URLValidator(schemes=["http", "https"])(url)
        except DjangoValidationError:
            raise serializers.ValidationError(_("Only http and https URLs."))
        # Polled by our workers: never a host inside our network.
        problem = outbound.url_problem(url)
        if problem:
            raise serializers.ValidationError(problem)
        return url

    def update(self, instance, validated_data):
        # Only what the client sent: a poll may be writing the cursor and lease now.
        for name, value in validated_data.items():
            setattr(instance, name, value)
        if validated_data:
            instance.save(update_fields=list(validated_data))
        return instance


class AuthorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Author
        fields = [
            "id",
            "platform",
            "platform_id",
            "handle",
            "display_name",
            "follower_count",
            "is_journalist",
            "is_columnist",
            "is_influential",
            "is_vip",
            "is_repeat_complainer",
            "is_blocked",
            "crm_customer_id",
            "language",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class MentionAuthorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Author
        fields = ["id", "platform", "handle", "display_name", "crm_customer_id"]
        read_only_fields = fields


class MentionSerializer(serializers.ModelSerializer):
    author = MentionAuthorSerializer(read_only=True, allow_null=True)
    reach = serializers.IntegerField(read_only=True)
    url = serializers.CharField(read_only=True)
    category = serializers.ChoiceField(
        choices=Category.choices, allow_blank=True, read_only=True
    )
    outcome = serializers.ChoiceField(
        choices=Outcome.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = Mention
        fields = [
            "id",
            "source",
            "external_id",
            "url",
            "author",
            "text",
            "language",
            "published_at",
            "first_seen_at",
            "updated_at",
            "edited_at",
            "is_deleted",
            "deleted_at",
            "in_reply_to",
            "conversation_key",
            "likes",
            "reposts",
            "replies",
            "reach",
            "triage_status",
            "category",
            "confidence",
            "outcome",
            "triage_reason",
            "triaged_at",
            "case",
        ]
        read_only_fields = fields


class MentionItemSerializer(serializers.Serializer):
    """One post pushed by the CRM or another system, as a connector would read it."""

    external_id = serializers.CharField(max_length=200)
    text = serializers.CharField(max_length=20000, allow_blank=True)
    url = serializers.URLField(max_length=1000, required=False, allow_blank=True)
    author_id = serializers.CharField(max_length=200, required=False, allow_blank=True)
    author_handle = serializers.CharField(
        max_length=200, required=False, allow_blank=True
    )
    author_name = serializers.CharField(
        max_length=300, required=False, allow_blank=True
    )
    author_followers = serializers.IntegerField(
        min_value=0, max_value=MAX_COUNTER, required=False, allow_null=True
    )
    published_at = serializers.DateTimeField(required=False, allow_null=True)
    edited_at = serializers.DateTimeField(required=False, allow_null=True)
    deleted = serializers.BooleanField(required=False, default=False)
    language = serializers.CharField(max_length=8, required=False, allow_blank=True)
    in_reply_to = serializers.CharField(
        max_length=200, required=False, allow_blank=True
    )
    conversation_key = serializers.CharField(
        max_length=300, required=False, allow_blank=True
    )
    likes = serializers.IntegerField(min_value=0, max_value=MAX_COUNTER, default=0)
    reposts = serializers.IntegerField(min_value=0, max_value=MAX_COUNTER, default=0)
    replies = serializers.IntegerField(min_value=0, max_value=MAX_COUNTER, default=0)
    raw = serializers.DictField(required=False, default=dict)


class MentionIngestSerializer(serializers.Serializer):
    source = serializers.PrimaryKeyRelatedField(
        queryset=Source.objects.all(),
        help_text="A source of kind 'manual' that these mentions come from.",
    )
    items = MentionItemSerializer(
        many=True, allow_empty=False, max_length=MAX_INGEST_ITEMS
    )

    def validate_source(self, source: Source) -> Source:
        if source.kind != SourceKind.MANUAL:
            raise serializers.ValidationError(
                "Mentions can only be pushed to a source of kind 'manual'."
            )
        if not source.is_active:
            raise serializers.ValidationError("This source is not active.")
        return source


class IngestResultSerializer(serializers.Serializer):
    new = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    failed = serializers.IntegerField()
    mention_ids_new = serializers.ListField(child=serializers.IntegerField())
    errors = serializers.ListField(child=serializers.CharField())
