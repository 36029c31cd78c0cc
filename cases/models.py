import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sources.models import Category, Department, Priority, SourceKind
from webcare.sync import SyncPositionField


class Team(models.Model):
    """A group of agents with its own opening hours (the team is not 24x7)."""

    name = models.CharField(max_length=100, unique=True)
    email = models.EmailField(blank=True, help_text="Where breach notifications go.")
    opening_hours = models.JSONField(
        default=dict,
        blank=True,
        help_text='e.g. {"blocks": {"mon": ["08:00-12:30", "13:15-17:30"]}}. '
        "Empty: the default schedule.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Holiday(models.Model):
    """A day the team is closed, besides the Dutch public holidays."""

    date = models.DateField(unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["date"]

    def __str__(self):
        return f"{self.date} {self.name}"


class Agent(models.Model):
    """A member of the webcare team: signs replies with the first name."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent"
    )
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="agents")
    is_available = models.BooleanField(
        default=True, help_text="Away agents get no automatic assignments."
    )
    is_team_lead = models.BooleanField(
        default=False,
        verbose_name=_("team lead"),
        help_text=_("May take over and move the cases of the team's agents."),
    )

    class Meta:
        ordering = ["user__first_name"]

    def __str__(self):
        return self.user.get_full_name() or self.user.get_username()

    @property
    def signature(self) -> str:
        return self.user.first_name or self.user.get_username()


class DepartmentMembership(models.Model):
    """A staff member works for a department: sees its restricted escalations and
    acknowledges and resolves its escalations. Roles add default departments
    (settings.WEBCARE_ROLE_DEPARTMENTS); see cases/access.py."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="department_memberships",
        verbose_name=_("user"),
    )
    department = models.CharField(
        _("department"), max_length=30, choices=Department.choices
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["department", "user__username"]
        verbose_name = _("department membership")
        verbose_name_plural = _("department memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "department"], name="department_membership_unique"
            )
        ]

    def __str__(self):
        return f"{self.user} ({self.get_department_display()})"


class Topic(models.Model):
    name = models.CharField(max_length=100, unique=True)
    owner = models.CharField(
        max_length=200,
        blank=True,
        help_text="Who owns structural issues of this topic.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ServiceTarget(models.Model):
    """Response and resolution targets, counted in business hours."""

    priority = models.CharField(max_length=10, choices=Priority.choices)
    channel = models.CharField(
        max_length=20, choices=SourceKind.choices, blank=True, help_text="Empty: any."
    )
    first_response = models.DurationField()
    resolution = models.DurationField()
    escalation_acknowledgement = models.DurationField()

    class Meta:
        ordering = ["priority", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["priority", "channel"], name="service_target_unique"
            )
        ]

    def __str__(self):
        return f"{self.get_priority_display()} {self.channel or 'any channel'}"


class CaseStatus(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    WAITING = "waiting", "Waiting on customer"
    ESCALATED = "escalated", "Escalated"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


# The state machine: which status may follow which. One place, used by every service.
CASE_TRANSITIONS: dict[str, frozenset[str]] = {
    CaseStatus.NEW: frozenset(
        {CaseStatus.OPEN, CaseStatus.ESCALATED, CaseStatus.CLOSED}
    ),
    CaseStatus.OPEN: frozenset(
        {
            CaseStatus.WAITING,
            CaseStatus.ESCALATED,
            CaseStatus.RESOLVED,
            CaseStatus.CLOSED,
        }
    ),
    CaseStatus.WAITING: frozenset(
        {CaseStatus.OPEN, CaseStatus.ESCALATED, CaseStatus.RESOLVED, CaseStatus.CLOSED}
    ),
    CaseStatus.ESCALATED: frozenset(
        {CaseStatus.OPEN, CaseStatus.WAITING, CaseStatus.RESOLVED, CaseStatus.CLOSED}
    ),
    CaseStatus.RESOLVED: frozenset({CaseStatus.OPEN, CaseStatus.CLOSED}),
    CaseStatus.CLOSED: frozenset({CaseStatus.OPEN}),
}
ACTIVE_STATUSES = (
    CaseStatus.NEW,
    CaseStatus.OPEN,
    CaseStatus.WAITING,
    CaseStatus.ESCALATED,
)


class CloseReason(models.TextChoices):
    HELPED = "helped", "Customer helped"
    NO_ACTION = "no_action", "No action needed"
    SPAM = "spam", "Spam"
    ABUSE = "abuse", "Abuse"
    NOT_CUSTOMER = "not_customer", "Not a customer"
    DUPLICATE = "duplicate", "Duplicate (merged)"


class CaseQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status__in=ACTIVE_STATUSES)

    def for_queue(self):
        """Most urgent first: earliest due time, then priority, then reach."""
        priority_rank = models.Case(
            models.When(priority=Priority.URGENT, then=0),
            models.When(priority=Priority.HIGH, then=1),
            models.When(priority=Priority.NORMAL, then=2),
            default=3,
        )
        return (
            self.active()
            .annotate(priority_rank=priority_rank)
            .order_by(
                models.F("next_due_at").asc(nulls_last=True),
                "priority_rank",
                "-reach",
                "created_at",
            )
        )


class Case(models.Model):
    """The handling of one customer's question or problem, from mention to closure."""

    subject = models.CharField(max_length=300)
    status = models.CharField(
        max_length=10, choices=CaseStatus.choices, default=CaseStatus.NEW
    )
    priority = models.CharField(
        max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    category = models.CharField(max_length=20, choices=Category.choices, blank=True)
    channel = models.CharField(max_length=20, choices=SourceKind.choices, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_cases",
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="cases"
    )
    topics = models.ManyToManyField(Topic, blank=True, related_name="cases")
    is_structural = models.BooleanField(
        default=False, help_text="Shows a product, process or service problem."
    )
    structural_note = models.TextField(blank=True)
    customer = models.ForeignKey(
        "sources.Author",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="cases",
    )
    crm_customer_id = models.CharField(
        max_length=100, blank=True, db_index=True, verbose_name="CRM customer id"
    )
    conversation_key = models.CharField(max_length=300, blank=True, db_index=True)
    reach = models.PositiveIntegerField(default=0)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged"
    )
    close_reason = models.CharField(
        max_length=20, choices=CloseReason.choices, blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Targets, in business hours, and what has been notified about them.
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    next_due_at = models.DateTimeField(
        null=True, blank=True, help_text="The earliest open due time; sorts the queue."
    )
    first_response_warned_at = models.DateTimeField(null=True, blank=True)
    first_response_breached_at = models.DateTimeField(null=True, blank=True)
    resolution_warned_at = models.DateTimeField(null=True, blank=True)
    resolution_breached_at = models.DateTimeField(null=True, blank=True)
    sync_position = SyncPositionField()

    objects = CaseQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | ~Q(status="new"),
                name="case_new_is_not_resolved",
            ),
            models.CheckConstraint(
                condition=~Q(status="closed") | Q(closed_at__isnull=False),
                name="case_closed_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="resolved") | Q(resolved_at__isnull=False),
                name="case_resolved_has_time",
            ),
            models.CheckConstraint(
                condition=Q(merged_into__isnull=True) | Q(status="closed"),
                name="case_merged_is_closed",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_due_at"]),
            models.Index(fields=["assignee", "status"]),
            models.Index(fields=["updated_at", "id"]),
            models.Index(fields=["sync_position", "id"]),
            models.Index(fields=["customer", "status"]),
        ]
        permissions = [
            ("assign_case", "Can assign cases"),
            ("reply_case", "Can record replies"),
            ("escalate_case", "Can escalate cases"),
            ("resolve_case", "Can resolve, close and reopen cases"),
            ("merge_case", "Can merge duplicate cases"),
            (
                "reassign_case",
                _("Can take or move cases assigned to someone else"),
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.subject}"

    def get_absolute_url(self):
        return f"/admin/cases/case/{self.pk}/change/"

    def can_move_to(self, status: str) -> bool:
        return status in CASE_TRANSITIONS[self.status]

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class PublishStatus(models.TextChoices):
    RECORDED = "recorded", _("recorded (sent elsewhere)")
    QUEUED = "queued", _("waiting to publish")
    PUBLISHING = "publishing", _("publishing")
    PUBLISHED = "published", _("published")
    UNCONFIRMED = "unconfirmed", _("unconfirmed: looking for it on the platform")
    FAILED = "failed", _("failed")
    BY_HAND = "by_hand", _("posted by hand")


class Reply(models.Model):
    """An outbound answer of the team: published on the platform by webcare
    (cases/services/publishing.py), posted by hand with its link, or recorded as
    sent elsewhere."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="replies")
    in_reply_to = models.ForeignKey(
        "sources.Mention",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="team_replies",
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="replies"
    )
    channel = models.CharField(max_length=20, choices=SourceKind.choices)
    is_private = models.BooleanField(
        default=False, help_text="A private/direct message rather than a public reply."
    )
    text = models.TextField()
    signature = models.CharField(max_length=100, help_text="The agent's first name.")
    sent_at = models.DateTimeField(default=timezone.now)
    external_id = models.CharField(max_length=200, blank=True)
    external_url = models.URLField(
        _("link on the platform"), max_length=500, blank=True
    )
    publish_status = models.CharField(
        _("publish status"),
        max_length=12,
        choices=PublishStatus.choices,
        default=PublishStatus.RECORDED,
    )
    publish_error = models.CharField(
        _("publishing problem"), max_length=500, blank=True
    )
    publish_attempts = models.PositiveSmallIntegerField(default=0)
    publish_checks = models.PositiveSmallIntegerField(default=0)
    # When the next attempt or check may start (backoff, Retry-After); while
    # publishing, when the claim lapses (the worker died mid-request).
    publish_due_at = models.DateTimeField(null=True, blank=True)
    # When the last request went out: its post is looked for from this moment on.
    publish_sent_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["sent_at"]
        verbose_name_plural = "replies"
        indexes = [
            models.Index(fields=["case", "sent_at"]),
            models.Index(
                fields=["publish_status", "publish_due_at"],
                name="reply_publishing_due",
                condition=Q(publish_status__in=["queued", "publishing", "unconfirmed"]),
            ),
        ]

    def __str__(self):
        return f"Reply by {self.signature} on case {self.case_id}"


class Answering(models.Model):
    """An agent writing a reply on a case right now, so that colleagues see it and
    do not answer the same post too. Kept alive by the composer while she types;
    gone when her reply is recorded, stale after WEBCARE_ANSWERING_TIMEOUT."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="answering")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(
        default=timezone.now, help_text=_("The composer's last sign of life.")
    )

    class Meta:
        verbose_name = _("agent answering")
        verbose_name_plural = _("agents answering")
        constraints = [
            models.UniqueConstraint(fields=["case", "agent"], name="answering_once")
        ]
        indexes = [models.Index(fields=["case", "seen_at"])]

    def __str__(self):
        return f"{self.agent} answering case {self.case_id}"


class Note(models.Model):
    """An internal note; never shown to the customer."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"Note on case {self.case_id}"


class ReplyLanguage(models.TextChoices):
    DUTCH = "nl", _("Dutch")
    ENGLISH = "en", _("English")


# The variables a reply template may use; anything else in braces is refused at save.
TEMPLATE_VARIABLE = re.compile(r"\{([^{}\s]{1,40})\}")
TEMPLATE_VARIABLES = {
    "customer": _("the customer's first name, or their handle"),
    "agent": _("your first name"),
    "case": _("the case number"),
}


class ReplyTemplate(models.Model):
    """A reply the team gives often, filled in for the case before it is edited."""

    name = models.CharField(_("name"), max_length=100)
    language = models.CharField(
        _("language"),
        max_length=2,
        choices=ReplyLanguage.choices,
        default=ReplyLanguage.DUTCH,
    )
    category = models.CharField(
        _("category"),
        max_length=20,
        choices=Category.choices,
        blank=True,
        help_text=_("Suggested for cases of this category; empty: for every case."),
    )
    text = models.TextField(
        _("text"),
        help_text=_(
            "Variables: {customer} (first name or handle), {agent} (your first "
            "name), {case} (case number)."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["language", "category", "name"]
        verbose_name = _("reply template")
        verbose_name_plural = _("reply templates")
        constraints = [
            models.UniqueConstraint(
                fields=["name", "language"], name="reply_template_name_language"
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.language})"

    def clean(self):
        unknown = self.variables() - TEMPLATE_VARIABLES.keys()
        if unknown:
            known = ", ".join(f"{{{name}}}" for name in TEMPLATE_VARIABLES)
            raise ValidationError(
                {
                    "text": _("Unknown variables: %(names)s. Use %(known)s.")
                    % {
                        "names": ", ".join(f"{{{name}}}" for name in sorted(unknown)),
                        "known": known,
                    }
                }
            )

    def variables(self) -> set[str]:
        return set(TEMPLATE_VARIABLE.findall(self.text))

    def render(self, values: dict[str, str]) -> str:
        """The text with its variables filled in; plain substitution, so a value
        (a customer's handle) can never reach into anything (unlike str.format)."""
        return TEMPLATE_VARIABLE.sub(
            lambda match: values.get(match[1], match[0]), self.text
        )


class ApprovedFact(models.Model):
    """A statement the company stands behind, offered to correct a factual
    inaccuracy. Past its review date it is not offered until someone reviews it."""

    statement = models.TextField(_("statement"))
    language = models.CharField(
        _("language"),
        max_length=2,
        choices=ReplyLanguage.choices,
        default=ReplyLanguage.DUTCH,
    )
    owner_department = models.CharField(
        _("owning department"), max_length=30, choices=Department.choices
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Who answers for the statement and reviews it."),
    )
    sources = models.TextField(
        _("sources"),
        help_text=_("Where it is confirmed: one link or reference per line."),
    )
    review_by = models.DateField(
        _("review by"),
        help_text=_("Not offered after this date until it is reviewed again."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["review_by", "pk"]
        verbose_name = _("approved fact")
        verbose_name_plural = _("approved facts")
        indexes = [models.Index(fields=["language", "review_by"])]

    def __str__(self):
        return self.statement[:80]

    def is_current(self, today) -> bool:
        return self.review_by >= today


class EscalationStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class Escalation(models.Model):
    """Handing (part of) a case to another department."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="escalations")
    department = models.CharField(max_length=30, choices=Department.choices)
    reason = models.TextField()
    status = models.CharField(
        max_length=15, choices=EscalationStatus.choices, default=EscalationStatus.OPEN
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requested_at = models.DateTimeField(default=timezone.now)
    acknowledgement_due_at = models.DateTimeField(null=True, blank=True)
    acknowledgement_breached_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)
    sync_position = SyncPositionField()

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="acknowledged") | Q(acknowledged_at__isnull=False),
                name="escalation_acknowledged_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="resolved") | Q(resolved_at__isnull=False),
                name="escalation_resolved_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["department", "status"]),
            models.Index(fields=["sync_position", "id"]),
        ]
        permissions = [
            (
                "handle_any_department",
                _("Can see and handle the escalations of every department"),
            )
        ]

    def __str__(self):
        return f"{self.get_department_display()} for case {self.case_id}"


class CommitmentStatus(models.TextChoices):
    OPEN = "open", "Open"
    KEPT = "kept", "Kept"
    CANCELLED = "cancelled", "Cancelled"


class CommitmentQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status=CommitmentStatus.OPEN)

    def overdue(self, now=None):
        return self.open().filter(due_at__lt=now or timezone.now())


class Commitment(models.Model):
    """A promise made to a customer ("afspraak = afspraak"), tracked until kept."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="commitments")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="commitments"
    )
    description = models.CharField(max_length=500)
    due_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=CommitmentStatus.choices, default=CommitmentStatus.OPEN
    )
    reminder_sent_at = models.DateTimeField(null=True, blank=True)
    overdue_notified_at = models.DateTimeField(null=True, blank=True)
    kept_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    sync_position = SyncPositionField()

    objects = CommitmentQuerySet.as_manager()

    class Meta:
        ordering = ["due_at"]
        indexes = [
            models.Index(fields=["status", "due_at"]),
            models.Index(fields=["sync_position", "id"]),
        ]

    def __str__(self):
        return f"{self.description} (due {self.due_at:%Y-%m-%d %H:%M})"

    @property
    def is_overdue(self) -> bool:
        return self.status == CommitmentStatus.OPEN and self.due_at < timezone.now()


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    STATUS_CHANGED = "status_changed", "Status changed"
    ASSIGNED = "assigned", "Assigned"
    MENTION_ADDED = "mention_added", "Mention added"
    REPLIED = "replied", "Replied"
    NOTE_ADDED = "note_added", "Note added"
    ESCALATED = "escalated", "Escalated"
    ESCALATION_ACKNOWLEDGED = "escalation_acknowledged", "Escalation acknowledged"
    ESCALATION_RESOLVED = "escalation_resolved", "Escalation resolved"
    COMMITMENT_MADE = "commitment_made", "Commitment made"
    COMMITMENT_KEPT = "commitment_kept", "Commitment kept"
    COMMITMENT_CANCELLED = "commitment_cancelled", "Commitment cancelled"
    PRIORITY_CHANGED = "priority_changed", "Priority changed"
    UPDATED = "updated", "Updated"
    MERGED = "merged", "Merged"
    TARGET_WARNING = "target_warning", "Target about to breach"
    TARGET_BREACHED = "target_breached", "Target breached"
    SURVEY_SCHEDULED = "survey_scheduled", "Survey scheduled"
    SURVEY_SENT = "survey_sent", "Survey sent"
    SURVEY_ANSWERED = "survey_answered", "Survey answered"
    SURVEY_CORRECTED = "survey_corrected", "Survey answer corrected"
    SURVEY_CANCELLED = "survey_cancelled", "Survey cancelled"
    FOLLOW_UP = "follow_up", "Follow-up needed"
    MENTION_REATTRIBUTED = "mention_reattributed", _("Mention re-attributed")
    SURVEY_LINK_COPIED = "survey_link_copied", _("Survey link copied")
    PERSON_ERASED = "person_erased", _("Personal data erased")
    REPLY_PUBLISHED = "reply_published", _("Reply published")
    REPLY_UNCONFIRMED = "reply_unconfirmed", _("Reply unconfirmed")
    REPLY_PUBLISH_FAILED = "reply_publish_failed", _("Reply failed to publish")


class CaseEvent(models.Model):
    """The append-only audit trail: what happened to a case, by whom, when."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30, choices=EventKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField(
        max_length=200,
        blank=True,
        help_text="Who, when not a user: an API client, a task.",
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    sync_position = SyncPositionField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["case", "created_at"]),
            models.Index(fields=["sync_position", "id"]),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} on case {self.case_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("Case events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Case events are append-only.")
