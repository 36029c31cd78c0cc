import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from webcare.sync import SyncPositionField


def new_survey_token() -> str:
    # 32 random bytes: 256 bits, URL-safe; the token says nothing about the case.
    return secrets.token_urlsafe(32)


class SurveyStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    SENT = "sent", "Sent"
    REMINDED = "reminded", "Reminded"
    ANSWERED = "answered", "Answered"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed to send"


class SurveyChannel(models.TextChoices):
    EMAIL = "email", "Email"
    LINK = "link", "Personal link (private message by CRM or agent)"


class SurveyQuerySet(models.QuerySet):
    def answered(self):
        return self.filter(status=SurveyStatus.ANSWERED, score__isnull=False)


class Survey(models.Model):
    """The NPS question sent to a customer the team helped: one per case, ever."""

    case = models.OneToOneField(
        "cases.Case", on_delete=models.PROTECT, related_name="survey"
    )
    recipient = models.ForeignKey(
        "sources.Author", on_delete=models.PROTECT, related_name="surveys"
    )
    email = models.EmailField(blank=True)
    channel = models.CharField(
        max_length=10, choices=SurveyChannel.choices, default=SurveyChannel.EMAIL
    )
    language = models.CharField(max_length=8, default="nl")
    token = models.CharField(max_length=64, unique=True, default=new_survey_token)
    status = models.CharField(
        max_length=10, choices=SurveyStatus.choices, default=SurveyStatus.SCHEDULED
    )
    # The helping agent's first name and the subject may be shown on the page.
    agent_first_name = models.CharField(max_length=100, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    scheduled_for = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True)
    corrected_at = models.DateTimeField(null=True, blank=True)
    send_attempts = models.PositiveSmallIntegerField(default=0)
    # Set while a worker mails the survey or its reminder (claimed, committed, then
    # sent with no lock held); a claim past this time belongs to a worker that died.
    send_claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    sync_position = SyncPositionField()

    objects = SurveyQuerySet.as_manager()

    class Meta:
        ordering = ["-scheduled_for"]
        constraints = [
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=0, score__lte=10),
                name="survey_score_0_to_10",
            ),
            models.CheckConstraint(
                condition=~Q(status="answered")
                | Q(score__isnull=False, responded_at__isnull=False),
                name="survey_answered_has_score",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "scheduled_for"]),
            models.Index(fields=["recipient", "created_at"]),
            models.Index(fields=["responded_at"]),
            models.Index(fields=["sync_position", "id"]),
        ]
        permissions = [
            (
                "copy_survey_link",
                _("Can copy a survey's personal link for the customer"),
            )
        ]

    def __str__(self):
        return f"Survey for case {self.case_id} ({self.get_status_display()})"

    @property
    def band(self) -> str:
        if self.score is None:
            return ""
        return (
            "promoter"
            if self.score >= 9
            else "passive"
            if self.score >= 7
            else "detractor"
        )


class DailySummary(models.Model):
    """The day's contacts, summarised for customer service; one per day.

    Mailed through the notice outbox: its notice says whether and when it went out.
    """

    date = models.DateField(unique=True)
    body = models.TextField()
    recipients = models.JSONField(default=list)
    notice = models.OneToOneField(
        "notices.Notice",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-date"]
        verbose_name_plural = "daily summaries"

    def __str__(self):
        return f"Summary {self.date}"

    @property
    def sent_at(self):
        return self.notice.sent_at if self.notice else None
