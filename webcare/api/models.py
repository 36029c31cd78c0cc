"""The CRM's access to the REST API: API clients, webhooks, idempotent requests and
the audit log of what clients wrote.

These models were born in the cases app; their tables keep the names they had there
(`db_table`), so moving them to this package moved no data.
"""

import hashlib

from django.db import models
from django.utils import timezone

from webcare.sync import SyncPositionField


class ApiScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Write"
    INGEST = "ingest", "Ingest mentions"
    ADMIN = "admin", "Admin (sources)"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiClient(models.Model):
    """A system (the CRM) that uses the REST API with its own secret token."""

    name = models.CharField(max_length=100, unique=True)
    token_prefix = models.CharField(max_length=12, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "cases_apiclient"
        ordering = ["name"]
        verbose_name = "API client"

    def __str__(self):
        return self.name

    def has_scope(self, scope: str) -> bool:
        return self.is_active and self.revoked_at is None and scope in self.scopes


class WebhookEvent(models.TextChoices):
    CASE_OPENED = "case.opened", "Case opened"
    CASE_ASSIGNED = "case.assigned", "Case assigned"
    CASE_ESCALATED = "case.escalated", "Case escalated"
    CASE_RESOLVED = "case.resolved", "Case resolved"
    SURVEY_ANSWERED = "survey.answered", "Survey answered"
    REPLY_PUBLISHED = "reply.published", "Reply published"
    REPLY_FAILED = "reply.failed", "Reply failed to publish"


class Webhook(models.Model):
    client = models.ForeignKey(
        ApiClient, on_delete=models.CASCADE, related_name="webhooks"
    )
    url = models.URLField(max_length=1000)
    events = models.JSONField(default=list)
    secret = models.CharField(
        max_length=100, help_text="Shared secret for the HMAC-SHA256 signature."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "cases_webhook"
        ordering = ["client", "url"]

    def __str__(self):
        return f"{self.client}: {self.url}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    webhook = models.ForeignKey(
        Webhook, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=30, choices=WebhookEvent.choices)
    payload = models.JSONField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sync_position = SyncPositionField()

    class Meta:
        db_table = "cases_webhookdelivery"
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["sync_position", "id"]),
        ]

    def __str__(self):
        return f"{self.event} -> {self.webhook.url}"


class IdempotencyKey(models.Model):
    """A POST the API has answered, so a retried POST with the same key is not done twice."""

    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    request_fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "cases_idempotencykey"
        constraints = [
            models.UniqueConstraint(
                fields=["client", "key"], name="idempotency_key_unique"
            )
        ]

    def __str__(self):
        return f"{self.client_id}:{self.key}"


class ApiAuditEntry(models.Model):
    """One write by an API client: who (by name, kept after the client is gone), what
    and with which outcome. Case changes also land in the case's own events."""

    client = models.ForeignKey(
        ApiClient, null=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    client_name = models.CharField(max_length=100)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    operation = models.CharField(max_length=100, help_text="View and action.")
    object_type = models.CharField(max_length=50, blank=True)
    object_id = models.CharField(max_length=50, blank=True)
    status_code = models.PositiveIntegerField()
    idempotency_key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        db_table = "cases_apiauditentry"
        ordering = ["-created_at", "-id"]
        verbose_name = "API audit entry"
        verbose_name_plural = "API audit entries"
        indexes = [models.Index(fields=["client", "created_at"])]

    def __str__(self):
        return f"{self.client_name} {self.method} {self.path} -> {self.status_code}"
