"""Serializers of the case endpoints: cases, their trail, escalations, teams.

Read serializers describe rows; write serializers only validate input, and the views
hand the validated data to a service.
"""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cases.models import (
    Agent,
    Case,
    CaseEvent,
    CloseReason,
    Commitment,
    Escalation,
    Note,
    Reply,
    Team,
    Topic,
)
from sources.models import Author, Category, Department, Mention, Priority, SourceKind

User = get_user_model()


class UserSummarySerializer(serializers.ModelSerializer):
    name = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "name"]
        read_only_fields = fields

    def get_name(self, user) -> str:
        return user.get_full_name() or user.get_username()


class AuthorSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Author
        fields = [
            "id",
            "platform",
            "platform_id",
            "handle",
            "display_name",
            "crm_customer_id",
        ]
        read_only_fields = fields


class CaseSerializer(serializers.ModelSerializer):
    assignee = UserSummarySerializer(read_only=True, allow_null=True)
    team = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    team_name = serializers.SerializerMethodField()
    topics = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    customer = AuthorSummarySerializer(read_only=True, allow_null=True)
    category = serializers.ChoiceField(
        choices=Category.choices, allow_blank=True, read_only=True
    )
    channel = serializers.ChoiceField(
        choices=SourceKind.choices, allow_blank=True, read_only=True
    )
    close_reason = serializers.ChoiceField(
        choices=CloseReason.choices, allow_blank=True, read_only=True
    )
    survey = serializers.SerializerMethodField()
    first_response_breached = serializers.SerializerMethodField()
    resolution_breached = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = [
            "id",
            "subject",
            "status",
            "priority",
            "category",
            "channel",
            "assignee",
            "team",
            "team_name",
            "topics",
            "is_structural",
            "structural_note",
            "customer",
            "crm_customer_id",
            "conversation_key",
            "reach",
            "merged_into",
            "close_reason",
            "survey",
            "created_at",
            "updated_at",
            "first_response_at",
            "resolved_at",
            "closed_at",
            "first_response_due_at",
            "resolution_due_at",
            "next_due_at",
            "first_response_breached",
            "resolution_breached",
        ]
        read_only_fields = fields

    def get_team_name(self, case) -> str:
        return case.team.name if case.team_id else ""

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_survey(self, case) -> int | None:
        # `survey` is select_related by the views; a case without one raises.
        try:
            return case.survey.pk
        except Case.survey.RelatedObjectDoesNotExist:
            return None

    def get_first_response_breached(self, case) -> bool:
        return case.first_response_breached_at is not None

    def get_resolution_breached(self, case) -> bool:
        return case.resolution_breached_at is not None


class CaseCreateSerializer(serializers.Serializer):
    subject = serializers.CharField(max_length=300)
    priority = serializers.ChoiceField(
        choices=Priority.choices, default=Priority.NORMAL
    )
    category = serializers.ChoiceField(
        choices=Category.choices, required=False, allow_blank=True, default=""
    )
    channel = serializers.ChoiceField(
        choices=SourceKind.choices, required=False, allow_blank=True, default=""
    )
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, allow_null=True, default=None
    )
    customer = serializers.PrimaryKeyRelatedField(
        queryset=Author.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text="The social author this case is about.",
    )
    crm_customer_id = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default=""
    )
    conversation_key = serializers.CharField(
        max_length=300, required=False, allow_blank=True, default=""
    )
    mention = serializers.PrimaryKeyRelatedField(
        queryset=Mention.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text="The mention the case starts from, if any.",
    )


class CaseUpdateSerializer(serializers.Serializer):
    """The fields a CRM may change directly; status changes go through the actions."""

    subject = serializers.CharField(max_length=300, required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    category = serializers.ChoiceField(
        choices=Category.choices, required=False, allow_blank=True
    )
    topics = serializers.SlugRelatedField(
        many=True, slug_field="name", queryset=Topic.objects.all(), required=False
    )
    is_structural = serializers.BooleanField(required=False)
    structural_note = serializers.CharField(
        required=False, allow_blank=True, max_length=10000
    )
    crm_customer_id = serializers.CharField(
        max_length=100, required=False, allow_blank=True
    )
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, allow_null=True
    )

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Send at least one field to change.")
        return attrs


class AssignSerializer(serializers.Serializer):
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True, agent__isnull=False),
        required=False,
        allow_null=True,
        help_text="An agent's user id; null unassigns. Leave out with "
        "`automatic: true` to pick the least-loaded available agent of the team. "
        "A staff session moves a case assigned to someone else only as a manager, "
        "the lead of the case's team, or while the assignee is away (403 "
        "otherwise).",
    )
    automatic = serializers.BooleanField(default=False)

    def validate(self, attrs):
        if attrs["automatic"] == ("assignee" in attrs):
            raise serializers.ValidationError(
                "Give either an assignee (null to unassign) or automatic: true."
            )
        return attrs


class ReplyRecordSerializer(serializers.Serializer):
    agent = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True, agent__isnull=False),
        required=False,
        help_text="The agent who sent the reply (required for API clients). A "
        "staff session records its own replies: leave it out or give yourself; "
        "anyone else is refused (403).",
    )
    text = serializers.CharField(max_length=10000)
    channel = serializers.ChoiceField(
        choices=SourceKind.choices, required=False, allow_blank=True, default=""
    )
    in_reply_to = serializers.PrimaryKeyRelatedField(
        queryset=Mention.objects.all(), required=False, allow_null=True, default=None
    )
    is_private = serializers.BooleanField(default=False)
    publish = serializers.BooleanField(
        default=False,
        help_text="Publish it on the platform (Mastodon, Discourse) after it is "
        "recorded: publicly in reply to `in_reply_to`, or as a direct/private "
        "message with `is_private`. Follow `publish_status`; the webhooks "
        "reply.published and reply.failed tell the outcome.",
    )
    posted_url = serializers.URLField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="Where the agent posted it by hand (feeds, blogs): recorded as "
        "posted by hand with this link.",
    )


class NoteCreateSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=10000)


class EscalateSerializer(serializers.Serializer):
    department = serializers.ChoiceField(choices=Department.choices)
    reason = serializers.CharField(max_length=5000)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=1000, required=False, allow_blank=True, default=""
    )


class CloseSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(
        choices=[c for c in CloseReason.choices if c[0] != CloseReason.DUPLICATE],
        help_text="Why the case is closed; duplicates are closed by merging.",
    )


class MergeSerializer(serializers.Serializer):
    into = serializers.PrimaryKeyRelatedField(
        queryset=Case.objects.all(), help_text="The case this one duplicates."
    )


class CommitmentCreateSerializer(serializers.Serializer):
    owner = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True, agent__isnull=False),
        required=False,
        help_text="Who keeps the promise (required for API clients).",
    )
    description = serializers.CharField(max_length=500)
    due_at = serializers.DateTimeField()


class ReplySerializer(serializers.ModelSerializer):
    class Meta:
        model = Reply
        fields = [
            "id",
            "case",
            "agent",
            "channel",
            "is_private",
            "text",
            "signature",
            "in_reply_to",
            "sent_at",
            "publish_status",
            "external_id",
            "external_url",
            "publish_error",
            "published_at",
        ]
        read_only_fields = fields


class NoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Note
        fields = ["id", "case", "author", "text", "created_at"]
        read_only_fields = fields


class CommitmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Commitment
        fields = [
            "id",
            "case",
            "owner",
            "description",
            "due_at",
            "status",
            "kept_at",
            "created_at",
        ]
        read_only_fields = fields


class CaseEventSerializer(serializers.ModelSerializer):
    data = serializers.JSONField(read_only=True)

    class Meta:
        model = CaseEvent
        fields = ["id", "case", "kind", "actor", "actor_label", "data", "created_at"]
        read_only_fields = fields


class EscalationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Escalation
        fields = [
            "id",
            "case",
            "department",
            "reason",
            "status",
            "requested_by",
            "requested_at",
            "acknowledgement_due_at",
            "acknowledgement_breached_at",
            "acknowledged_by",
            "acknowledged_at",
            "resolved_by",
            "resolved_at",
            "resolution_note",
        ]
        read_only_fields = fields


class EscalationAcknowledgeSerializer(serializers.Serializer):
    note = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, default=""
    )


class EscalationResolveSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=5000)


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name"]
        read_only_fields = fields


class AgentSerializer(serializers.ModelSerializer):
    user = UserSummarySerializer(read_only=True)

    class Meta:
        model = Agent
        fields = ["id", "user", "team", "is_available"]
        read_only_fields = fields


class TopicSerializer(serializers.ModelSerializer):
    class Meta:
        model = Topic
        fields = ["id", "name", "owner"]
        read_only_fields = fields
