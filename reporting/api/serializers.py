"""Serializers of surveys and report figures in the CRM API.

A survey's token is the customer's key to answer; it is never in a survey's
representation. The personal link is its own endpoint, for a client that sends it.
"""

from datetime import UTC, datetime, timedelta

from django.utils import timezone
from rest_framework import serializers

from reporting.models import Survey

MAX_REPORT_RANGE = timedelta(days=400)


class SurveySerializer(serializers.ModelSerializer):
    band = serializers.CharField(read_only=True)

    class Meta:
        model = Survey
        fields = [
            "id",
            "case",
            "recipient",
            "channel",
            "language",
            "status",
            "agent_first_name",
            "subject",
            "created_at",
            "scheduled_for",
            "sent_at",
            "reminded_at",
            "responded_at",
            "expired_at",
            "cancelled_at",
            "score",
            "band",
            "comment",
            "corrected_at",
        ]
        read_only_fields = fields


class SurveyLinkSerializer(serializers.Serializer):
    survey = serializers.IntegerField()
    case = serializers.IntegerField()
    url = serializers.URLField()
    status = serializers.CharField()


class ReportRangeSerializer(serializers.Serializer):
    start = serializers.DateTimeField(
        required=False, help_text="Start of the period (ISO 8601); 30 days ago."
    )
    end = serializers.DateTimeField(
        required=False, help_text="End of the period, exclusive; now."
    )

    def validate(self, attrs):
        end = attrs.get("end") or timezone.now()
        start = attrs.get("start") or end - timedelta(days=30)
        earliest = datetime(2000, 1, 1, tzinfo=UTC)
        if start < earliest or end > datetime(2100, 1, 1, tzinfo=UTC):
            raise serializers.ValidationError(
                {"start": ["Reports cover 2000 to 2100."]}
            )
        if start >= end:
            raise serializers.ValidationError({"start": ["Must be before end."]})
        if end - start > MAX_REPORT_RANGE:
            raise serializers.ValidationError(
                {"start": ["A report covers at most 400 days."]}
            )
        return {**attrs, "start": start, "end": end}


class NpsQuerySerializer(ReportRangeSerializer):
    group_by = serializers.ChoiceField(
        choices=["period", "agent", "team", "topic", "category", "source"],
        required=False,
    )
    period = serializers.ChoiceField(
        choices=["day", "week", "month", "quarter", "year"], default="month"
    )


class ResponseTimeQuerySerializer(ReportRangeSerializer):
    group_by = serializers.ChoiceField(
        choices=["team", "channel", "priority"], required=False
    )


class VolumeQuerySerializer(ReportRangeSerializer):
    period = serializers.ChoiceField(choices=["day", "week", "month"], default="day")


class NpsResultSerializer(serializers.Serializer):
    answered = serializers.IntegerField()
    promoters = serializers.IntegerField()
    passives = serializers.IntegerField()
    detractors = serializers.IntegerField()
    sent = serializers.IntegerField(allow_null=True)
    nps = serializers.FloatField(allow_null=True)
    margin_of_error = serializers.FloatField(allow_null=True)
    response_rate = serializers.FloatField(allow_null=True)
    indicative = serializers.BooleanField()


class NpsGroupSerializer(NpsResultSerializer):
    key = serializers.JSONField(allow_null=True)
    label = serializers.CharField()


class NpsReportSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    group_by = serializers.CharField(allow_null=True)
    total = NpsResultSerializer()
    groups = NpsGroupSerializer(many=True)


class DurationFiguresSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    median_seconds = serializers.FloatField(allow_null=True)
    p90_seconds = serializers.FloatField(allow_null=True)
    mean_seconds = serializers.FloatField(allow_null=True)
    median_business_seconds = serializers.FloatField(allow_null=True)
    breached = serializers.IntegerField()


class ResponseTimeGroupSerializer(serializers.Serializer):
    key = serializers.CharField(allow_null=True)
    opened = serializers.IntegerField()
    first_response = DurationFiguresSerializer()
    resolution = DurationFiguresSerializer()


class ResponseTimeReportSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    group_by = serializers.CharField(allow_null=True)
    total = ResponseTimeGroupSerializer()
    groups = ResponseTimeGroupSerializer(many=True)


class VolumeRowSerializer(serializers.Serializer):
    period = serializers.DateField()
    mentions = serializers.IntegerField()
    cases_opened = serializers.IntegerField()
    cases_resolved = serializers.IntegerField()
    cases_closed = serializers.IntegerField()
    replies = serializers.IntegerField()
    escalations = serializers.IntegerField()


class VolumeTotalsSerializer(serializers.Serializer):
    mentions = serializers.IntegerField()
    cases_opened = serializers.IntegerField()
    cases_resolved = serializers.IntegerField()
    cases_closed = serializers.IntegerField()
    replies = serializers.IntegerField()
    escalations = serializers.IntegerField()


class VolumeReportSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    period = serializers.CharField()
    total = VolumeTotalsSerializer()
    periods = VolumeRowSerializer(many=True)
