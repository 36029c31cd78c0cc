from datetime import timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from webcare.sync import SyncPositionField


class SourceKind(models.TextChoices):
    FEED = "feed", "RSS/Atom feed"
    X_SEARCH = "x_search", "X recent search"
    MASTODON = "mastodon", "Mastodon"
    REDDIT = "reddit", "Reddit search"
    YOUTUBE = "youtube", "YouTube comments"
    FACEBOOK = "facebook", "Facebook page"
    DISCOURSE = "discourse", "Discourse forum"
    MANUAL = "manual", "Manual / pushed"


class Category(models.TextChoices):
    """What a mention is about; decides, through the engagement rules, what to do."""

    QUESTION = "question", "Question"
    COMPLAINT = "complaint", "Complaint / problem"
    FACTUAL_INACCURACY = "factual_inaccuracy", "Factual inaccuracy"
    OPINION = "opinion", "Opinion / preference"
    ABUSE = "abuse", "Abuse / insult"
    PRAISE = "praise", "Praise / thanks"
    PHISHING = "phishing", "Phishing / fraud report"
    SPAM = "spam", "Spam / commercial"
    OTHER = "other", "Other"


class Outcome(models.TextChoices):
    ENGAGE = "engage", "Engage"
    IGNORE = "ignore", "Ignore"
    REVIEW = "review", "Review by spokespeople"
    ESCALATE = "escalate", "Escalate"


class Priority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class Department(models.TextChoices):
    PR = "pr", "PR & spokespeople"
    CUSTOMER_SERVICE = "customer_service", "Customer service"
    OFFICES = "offices", "Offices"
    BUSINESS_BANKING = "business_banking", "Business banking"
    SECURITY = "security", "Security"


# Beyond these a duration overflows the database or the failure backoff.
POLL_INTERVAL_BOUNDS = (timedelta(seconds=30), timedelta(days=7))
EXPECTED_SILENCE_BOUNDS = (timedelta(minutes=1), timedelta(days=365))


class SourceQuerySet(models.QuerySet):
    def due(self, now=None):
        now = now or timezone.now()
        return (
            self.filter(is_active=True)
            .exclude(kind=SourceKind.MANUAL)
            .filter(Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=now))
        )

    def unhealthy(self):
        return self.filter(is_active=True).filter(
            Q(consecutive_failures__gt=0) | Q(silence_alerted_at__isnull=False)
        )


class Source(models.Model):
    """A place the team monitors: a search, a feed, a tag, a forum."""

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=SourceKind.choices)
    query = models.CharField(
        max_length=500, blank=True, help_text="Search query, tag, page or channel id."
    )
    url = models.URLField(
        max_length=1000, blank=True, help_text="Feed URL or API base URL."
    )
    keywords = models.TextField(
        blank=True,
        help_text="One per line. Feeds carry posts that do not mention the company: "
        "only items with one of these words are kept.",
    )
    is_active = models.BooleanField(default=True)
    is_primary = models.BooleanField(
        default=False, help_text="Where the team is primarily active (published list)."
    )
    poll_interval = models.DurationField(
        default=timedelta(minutes=5),
        validators=[
            MinValueValidator(POLL_INTERVAL_BOUNDS[0]),
            MaxValueValidator(POLL_INTERVAL_BOUNDS[1]),
        ],
    )
    expected_silence = models.DurationField(
        default=timedelta(days=2),
        validators=[
            MinValueValidator(EXPECTED_SILENCE_BOUNDS[0]),
            MaxValueValidator(EXPECTED_SILENCE_BOUNDS[1]),
        ],
        help_text="Alert when no new item arrived for longer than this.",
    )
    cursor = models.JSONField(
        default=dict,
        blank=True,
        help_text="Connector state: where the last poll ended.",
    )
    # Health
    next_poll_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(
        null=True, blank=True, help_text="Poll lease: no second worker polls before it."
    )
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_item_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    parse_failures = models.PositiveIntegerField(
        default=0, help_text="Items that could not be parsed, in all polls."
    )
    silence_alerted_at = models.DateTimeField(null=True, blank=True)
    # Poll progress for the source page: asked for by staff, claimed by a worker,
    # and the counts of the last poll (sources.services.polling).
    poll_requested_at = models.DateTimeField(null=True, blank=True)
    poll_started_at = models.DateTimeField(null=True, blank=True)
    last_poll_result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sync_position = SyncPositionField()

    objects = SourceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(poll_interval__gte=timedelta(seconds=30)),
                name="source_poll_interval_at_least_30s",
            ),
        ]
        indexes = [
            models.Index(fields=["is_active", "next_poll_at"]),
            models.Index(fields=["sync_position", "id"]),
        ]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def keyword_list(self) -> list[str]:
        return [line.strip() for line in self.keywords.splitlines() if line.strip()]

    @property
    def is_healthy(self) -> bool:
        return self.consecutive_failures == 0 and self.silence_alerted_at is None


class Author(models.Model):
    """Who wrote a mention; some authors are followed more closely (watch list)."""

    WATCH_FLAGS = ("journalist", "columnist", "influential", "vip", "repeat_complainer")

    platform = models.CharField(max_length=20, choices=SourceKind.choices)
    platform_id = models.CharField(
        max_length=200, help_text="The platform's id for the account, or its handle."
    )
    handle = models.CharField(max_length=200, blank=True, db_index=True)
    display_name = models.CharField(max_length=300, blank=True)
    follower_count = models.PositiveIntegerField(null=True, blank=True)
    is_journalist = models.BooleanField(default=False)
    is_columnist = models.BooleanField(default=False)
    is_influential = models.BooleanField(default=False)
    is_vip = models.BooleanField(default=False)
    is_repeat_complainer = models.BooleanField(default=False)
    is_blocked = models.BooleanField(
        default=False, help_text="Never surveyed, never engaged automatically."
    )
    crm_customer_id = models.CharField(
        max_length=100, blank=True, db_index=True, verbose_name="CRM customer id"
    )
    email = models.EmailField(
        blank=True, help_text="For surveys, if the customer gave it."
    )
    language = models.CharField(max_length=8, blank=True)
    survey_opt_out_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sync_position = SyncPositionField()

    class Meta:
        ordering = ["handle"]
        permissions = [
            ("change_author_contact", "Can change a customer's contact e-mail"),
            ("export_author_data", _("Can export a person's data")),
            ("erase_author_data", _("Can erase a person's data")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "platform_id"], name="author_unique_per_platform"
            ),
            models.CheckConstraint(
                condition=~Q(platform_id=""), name="author_platform_id_not_empty"
            ),
        ]
        indexes = [models.Index(fields=["sync_position", "id"])]

    def __str__(self):
        return (
            f"@{self.handle}" if self.handle else self.display_name or self.platform_id
        )

    @property
    def watch_flags(self) -> frozenset[str]:
        return frozenset(
            flag for flag in self.WATCH_FLAGS if getattr(self, f"is_{flag}")
        )


class EngagementRule(models.Model):
    """One of the team's rules of engagement: conditions and what to do when they hold.

    Rules are tried in `position` order; the first whose conditions all hold decides.
    """

    name = models.CharField(max_length=200)
    position = models.PositiveIntegerField(default=100, db_index=True)
    is_active = models.BooleanField(default=True)
    description = models.TextField(
        blank=True,
        help_text="Why this rule exists, e.g. the doubtful case that taught it.",
    )
    categories = models.JSONField(
        default=list, blank=True, help_text="Any of; empty: any."
    )
    patterns = models.TextField(
        blank=True,
        help_text="One per line, any of: a keyword, or re:<regular expression>.",
    )
    source_kinds = models.JSONField(default=list, blank=True)
    author_flags = models.JSONField(default=list, blank=True)
    min_reach = models.PositiveIntegerField(null=True, blank=True)
    languages = models.JSONField(default=list, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    priority = models.CharField(
        max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    reason = models.CharField(max_length=300, blank=True)
    department = models.CharField(max_length=30, choices=Department.choices, blank=True)
    also_escalate_to = models.CharField(
        max_length=30,
        choices=Department.choices,
        blank=True,
        help_text="Engage and also escalate to this department (e.g. phishing: security).",
    )
    # A pattern that ran out of time on a mention sent it to review: staff see how
    # often and when last, and make the pattern cheaper.
    pattern_timeouts = models.PositiveIntegerField(
        _("pattern time-outs"), default=0, editable=False
    )
    last_pattern_timeout_at = models.DateTimeField(
        _("last pattern time-out"), null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(outcome="escalate") | ~Q(department=""),
                name="rule_escalate_needs_department",
            ),
        ]

    def __str__(self):
        return f"{self.position}. {self.name}"


class TriageStatus(models.TextChoices):
    PENDING = "pending", "Not triaged yet"
    ENGAGED = "engaged", "Engaged"
    IGNORED = "ignored", "Ignored"
    REVIEW = "review", "Waiting for review"
    REVIEWED = "reviewed", "Reviewed"


class MentionQuerySet(models.QuerySet):
    def review_queue(self):
        return self.filter(triage_status=TriageStatus.REVIEW).order_by("first_seen_at")

    def in_conversation(self, key: str):
        return self.filter(conversation_key=key).order_by("published_at", "id")


class Mention(models.Model):
    """One post, comment or reply that mentions the company, stored once per source."""

    source = models.ForeignKey(
        Source, on_delete=models.PROTECT, related_name="mentions"
    )
    external_id = models.CharField(max_length=200)
    url = models.URLField(max_length=1000, blank=True)
    author = models.ForeignKey(
        Author,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="mentions",
    )
    text = models.TextField(help_text="Plain text as posted; always shown escaped.")
    language = models.CharField(max_length=8, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    is_deleted = models.BooleanField(default=False)
    deleted_at = models.DateTimeField(null=True, blank=True)
    in_reply_to = models.CharField(max_length=200, blank=True)
    conversation_key = models.CharField(max_length=300, blank=True, db_index=True)
    likes = models.PositiveIntegerField(default=0)
    reposts = models.PositiveIntegerField(default=0)
    replies = models.PositiveIntegerField(default=0)
    reach_alerted_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict, blank=True)
    # Triage: what the classifier and the rules decided, and why.
    triage_status = models.CharField(
        max_length=10, choices=TriageStatus.choices, default=TriageStatus.PENDING
    )
    category = models.CharField(max_length=20, choices=Category.choices, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    triage_signals = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    rule = models.ForeignKey(
        EngagementRule,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    triage_reason = models.CharField(max_length=500, blank=True)
    triaged_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    case = models.ForeignKey(
        "cases.Case",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="mentions",
    )
    sync_position = SyncPositionField()

    objects = MentionQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="mention_unique_per_source"
            ),
            models.CheckConstraint(
                condition=Q(confidence__isnull=True)
                | Q(confidence__gte=0, confidence__lte=1),
                name="mention_confidence_in_unit_range",
            ),
            models.CheckConstraint(
                condition=Q(is_deleted=False) | Q(deleted_at__isnull=False),
                name="mention_deleted_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["triage_status", "first_seen_at"]),
            models.Index(fields=["-published_at"]),
            models.Index(fields=["author", "-published_at"]),
            models.Index(fields=["case", "published_at"]),
            models.Index(fields=["sync_position", "id"]),
            # The retention purge's next batch: only payloads still kept, so its
            # scan does not grow with the mentions already purged.
            models.Index(
                fields=["first_seen_at", "id"],
                condition=~Q(raw={}),
                name="mention_raw_kept_first_seen",
            ),
        ]

    def __str__(self):
        return f"{self.source.kind}:{self.external_id}"

    @property
    def reach(self) -> int:
        return self.likes + self.reposts + self.replies


class ReachSample(models.Model):
    """Reach counters of a mention over time, to see a post being shared fast."""

    mention = models.ForeignKey(
        Mention, on_delete=models.CASCADE, related_name="reach_samples"
    )
    sampled_at = models.DateTimeField(default=timezone.now)
    reach = models.PositiveIntegerField()

    class Meta:
        ordering = ["sampled_at"]
        indexes = [models.Index(fields=["mention", "sampled_at"])]

    def __str__(self):
        return f"{self.reach} at {self.sampled_at:%Y-%m-%d %H:%M}"


# Used by admin and services to compare counters without a query per row.
REACH_EXPRESSION = F("likes") + F("reposts") + F("replies")


# --- Triage runs and the review queue (owner: triage-integration helper) -----------


class TriageScope(models.TextChoices):
    PENDING = "pending", "Not triaged yet"
    REVIEW = "review", "Waiting for review"
    PENDING_AND_REVIEW = "pending+review", "Not triaged yet and waiting for review"


class TriageRunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class TriageRun(models.Model):
    """A re-run of triage over stored mentions (e.g. after a rule change), in batches."""

    scope = models.CharField(
        max_length=20, choices=TriageScope.choices, default=TriageScope.REVIEW
    )
    status = models.CharField(
        max_length=10, choices=TriageRunStatus.choices, default=TriageRunStatus.QUEUED
    )
    batch_size = models.PositiveIntegerField(default=200)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    results = models.JSONField(
        default=dict, blank=True, help_text="Mentions per result (engaged, ...)."
    )
    # The run covers mentions up to this id; later ones are triaged on arrival.
    last_mention_id = models.PositiveBigIntegerField(default=0)
    cursor_mention_id = models.PositiveBigIntegerField(default=0)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    progressed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the last batch was done."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Triage run {self.pk} ({self.get_scope_display()})"

    @property
    def progress(self) -> float:
        return min(self.done / self.total, 1.0) if self.total else 1.0


class RuleDryRunMode(models.TextChoices):
    EDITED = "edited", _("Rule as edited")
    SWITCH_ON = "switch_on", _("Switching the rule on")
    SWITCH_OFF = "switch_off", _("Switching the rule off")


class RuleDryRun(models.Model):
    """A preview of a rule over the last mentions, run in the background.

    Patterns over hundreds of mentions do not belong in a web request; the page
    of the dry run follows its progress and shows the result when done.
    """

    mode = models.CharField(max_length=10, choices=RuleDryRunMode.choices)
    # The stored rule edited or switched; empty for a new rule.
    rule = models.ForeignKey(
        EngagementRule,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="dry_runs",
    )
    # The rule's fields as edited in the form (mode "edited"), not saved anywhere.
    candidate = models.JSONField(default=dict, blank=True)
    # The form as posted, so the result page can save exactly what was previewed.
    form_data = models.JSONField(default=list, blank=True)
    last_n = models.PositiveIntegerField(default=500)
    status = models.CharField(
        max_length=10, choices=TriageRunStatus.choices, default=TriageRunStatus.QUEUED
    )
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    progressed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return _("Dry run %(id)s of %(name)s") % {
            "id": self.pk,
            "name": self.candidate.get("name") or self.rule or "?",
        }

    @property
    def progress(self) -> float:
        return min(self.done / self.total, 1.0) if self.total else 0.0


class ReviewQueueManager(models.Manager.from_queryset(MentionQuerySet)):
    def get_queryset(self):
        return super().get_queryset().filter(triage_status=TriageStatus.REVIEW)


class ReviewMention(Mention):
    """The spokespeople's review queue: mentions triage was in doubt about."""

    objects = ReviewQueueManager()

    class Meta:
        proxy = True
        verbose_name = "review item"
        verbose_name_plural = "review queue"
