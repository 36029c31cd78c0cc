"""A notice to staff: written with the change it reports, sent after commit."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class NoticeKind(models.TextChoices):
    TARGET_DIGEST = "target_digest", _("Targets about to breach or breached")
    ESCALATION = "escalation", _("Escalation to a department")
    COMMITMENT_REMINDER = "commitment_reminder", _("Commitment reminder")
    COMMITMENT_OVERDUE = "commitment_overdue", _("Commitment overdue")
    SOURCE_HEALTH = "source_health", _("Source needs attention")
    REACH_ALERT = "reach_alert", _("Mention spreading fast")
    DAILY_SUMMARY = "daily_summary", _("Daily summary")


class NoticeStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class Notice(models.Model):
    kind = models.CharField(_("kind"), max_length=30, choices=NoticeKind.choices)
    # What it is about, as a short reference: "case:12", "commitment:3", "source:4".
    about = models.CharField(_("about"), max_length=100, blank=True, db_index=True)
    recipients = models.JSONField(_("recipients"), default=list)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("body"))
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=NoticeStatus.choices,
        default=NoticeStatus.PENDING,
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # When the next attempt is due; while an attempt runs, the end of its lease.
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.subject}"
