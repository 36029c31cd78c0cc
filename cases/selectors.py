"""Reads with a rule: a team's opening hours, the target for a case, the queues,
the replies to suggest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db.models import Count, Exists, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from cases.business_hours import DEFAULT_CONFIG, Schedule
from cases.models import (
    ACTIVE_STATUSES,
    Answering,
    ApprovedFact,
    Case,
    Commitment,
    CommitmentStatus,
    Holiday,
    Reply,
    ReplyLanguage,
    ReplyTemplate,
    ServiceTarget,
    Team,
    Topic,
)
from sources.models import Category, Mention


def team_schedule(team: Team | None) -> Schedule:
    """The team's opening hours with the Dutch public holidays and every Holiday.

    `Team.opening_hours` overrides keys of the default config (usually just
    "blocks"); the Holiday rows close the day for every team.
    """
    config = {**DEFAULT_CONFIG, **((team.opening_hours if team else None) or {})}
    holidays = [*config.get("holidays", ())]
    holidays.extend(Holiday.objects.values_list("date", flat=True))
    config["holidays"] = holidays
    return Schedule.from_config(config)


def service_target_for(*, priority: str, channel: str) -> ServiceTarget | None:
    """The target for this priority on this channel, else for any channel."""
    targets = {
        target.channel: target
        for target in ServiceTarget.objects.filter(
            priority=priority, channel__in={channel, ""}
        )
    }
    return targets.get(channel) or targets.get("")


def service_targets_by_key() -> dict[tuple[str, str], ServiceTarget]:
    """Every target by (priority, channel), for tasks that look up many cases."""
    return {(t.priority, t.channel): t for t in ServiceTarget.objects.all()}


def target_from(
    targets: dict[tuple[str, str], ServiceTarget], *, priority: str, channel: str
) -> ServiceTarget | None:
    return targets.get((priority, channel)) or targets.get((priority, ""))


def overdue_commitments_exist():
    return Exists(
        Commitment.objects.filter(
            case=OuterRef("pk"),
            status=CommitmentStatus.OPEN,
            due_at__lt=timezone.now(),
        )
    )


def queue_for_user(user) -> QuerySet[Case]:
    """The user's own active cases, most urgent first."""
    return Case.objects.for_queue().filter(assignee=user)


def team_queue(team: Team | None) -> QuerySet[Case]:
    """A team's active cases, most urgent first; every team's without a team."""
    queue = Case.objects.for_queue()
    return queue.filter(team=team) if team is not None else queue


def overdue_cases(now: datetime | None = None) -> QuerySet[Case]:
    """Active cases past a due time, or with a promise past its due time."""
    now = now or timezone.now()
    return (
        Case.objects.active()
        .annotate(has_overdue_commitment=overdue_commitments_exist())
        .filter(Q(next_due_at__lt=now) | Q(has_overdue_commitment=True))
    )


def structural_cases(start: datetime, end: datetime) -> QuerySet[Case]:
    """Cases opened in [start, end) that show a product, process or service problem."""
    return Case.objects.filter(
        is_structural=True, created_at__gte=start, created_at__lt=end
    )


def structural_issues_by_topic(start: datetime, end: datetime) -> QuerySet[Topic]:
    """Topics with structural cases opened in [start, end), most cases first.

    Each topic is annotated with `case_count`, `active_count`, `first_case_at` and
    `last_case_at`. A case with several topics counts once for each of them; cases
    without a topic are in `structural_cases(start, end).filter(topics=None)`.
    """
    in_period = Q(
        cases__is_structural=True,
        cases__created_at__gte=start,
        cases__created_at__lt=end,
    )
    return (
        Topic.objects.annotate(
            case_count=Count("cases", filter=in_period, distinct=True),
            active_count=Count(
                "cases",
                filter=in_period & Q(cases__status__in=ACTIVE_STATUSES),
                distinct=True,
            ),
            first_case_at=Min("cases__created_at", filter=in_period),
            last_case_at=Max("cases__created_at", filter=in_period),
        )
        .filter(case_count__gt=0)
        .order_by("-case_count", "name")
    )


# --- Reply suggestions -----------------------------------------------------------------


@dataclass(frozen=True)
class SuggestedReply:
    template: ReplyTemplate
    text: str


def case_language(case: Case) -> str:
    """The language to answer in: the customer's, else their latest post's, else
    the team's (WEBCARE_REPLY_LANGUAGE)."""
    candidates = [case.customer.language if case.customer_id else ""]
    candidates.append(
        Mention.objects.filter(case=case)
        .exclude(language="")
        .order_by("-published_at", "-pk")
        .values_list("language", flat=True)
        .first()
        or ""
    )
    for language in candidates:
        language = language[:2].lower()
        if language in ReplyLanguage.values:
            return language
    return settings.WEBCARE_REPLY_LANGUAGE


def template_values(case: Case, agent) -> dict[str, str]:
    customer = case.customer if case.customer_id else None
    first_name = ""
    if customer is not None and customer.display_name.strip():
        first_name = customer.display_name.split()[0]
    elif customer is not None and customer.handle:
        first_name = "@" + customer.handle.lstrip("@")
    return {
        "customer": first_name,
        "agent": getattr(agent, "first_name", "") or "",
        "case": str(case.pk),
    }


def suggested_replies(case: Case, agent) -> list[SuggestedReply]:
    """Active templates in the case's language: its category's first, then the
    general ones, each filled in for this case and agent."""
    templates = ReplyTemplate.objects.filter(
        Q(category=case.category) | Q(category=""),
        is_active=True,
        language=case_language(case),
    ).order_by("-category", "name")
    values = template_values(case, agent)
    return [SuggestedReply(template, template.render(values)) for template in templates]


def offered_facts(case: Case, today: date | None = None) -> QuerySet[ApprovedFact]:
    """Approved facts to correct a factual inaccuracy, in the case's language; a
    fact past its review date is never offered."""
    if case.category != Category.FACTUAL_INACCURACY:
        return ApprovedFact.objects.none()
    today = today or timezone.localdate()
    return ApprovedFact.objects.filter(
        language=case_language(case), review_by__gte=today
    ).select_related("owner")


# --- The conversation and who is answering it ----------------------------------------


def conversation_position(case: Case) -> str:
    """Where the conversation stands: changes with every post that joins the case
    and every reply. A reply written at an older position is refused."""

    def per_case(model, function):
        return Subquery(
            model.objects.filter(case=OuterRef("pk"))
            .order_by()
            .values("case")
            .annotate(value=function("pk"))
            .values("value")
        )

    row = (
        Case.objects.filter(pk=case.pk)
        .annotate(
            mention_count=per_case(Mention, Count),
            last_mention=per_case(Mention, Max),
            reply_count=per_case(Reply, Count),
            last_reply=per_case(Reply, Max),
        )
        .values("mention_count", "last_mention", "reply_count", "last_reply")
        .get()
    )
    return "{}.{}.{}.{}".format(*(row[name] or 0 for name in row))


def conversation_since(case: Case, position: str) -> tuple[list[Mention], list[Reply]]:
    """The posts and replies newer than `position` (a value from a form: anything)."""
    try:
        _mentions, last_mention, _replies, last_reply = (
            int(part) for part in position.split(".")
        )
    except (AttributeError, ValueError):
        last_mention = last_reply = 0
    return (
        list(
            Mention.objects.filter(case=case, pk__gt=last_mention)
            .select_related("author")
            .order_by("published_at", "pk")
        ),
        list(
            Reply.objects.filter(case=case, pk__gt=last_reply)
            .select_related("agent")
            .order_by("sent_at", "pk")
        ),
    )


def conversation_change_message(case: Case, seen: str) -> str:
    """Why a reply written at position `seen` is not sent, with what is new."""
    mentions, replies = conversation_since(case, seen)
    lines = [
        _("%(who)s wrote (%(when)s): “%(text)s”")
        % {
            "who": f"@{mention.author.handle}" if mention.author_id else _("someone"),
            "when": timezone.localtime(mention.published_at).strftime("%H:%M"),
            "text": Truncator(mention.text).chars(140),
        }
        for mention in mentions
    ] + [
        _("%(who)s replied (%(when)s): “%(text)s”")
        % {
            "who": reply.signature,
            "when": timezone.localtime(reply.sent_at).strftime("%H:%M"),
            "text": Truncator(reply.text).chars(140),
        }
        for reply in replies
    ]
    news = "; ".join(lines) or _("posts were added to or merged into the case")
    return _(
        "Not sent: the conversation changed after you started your reply. "
        "New: %(news)s. Read it, then send your reply again if it still fits."
    ) % {"news": news}


def answering_now(case: Case, *, besides=None) -> QuerySet[Answering]:
    """Who is writing a reply on the case now (a recent sign of life), oldest first."""
    fresh = timezone.now() - settings.WEBCARE_ANSWERING_TIMEOUT
    rows = Answering.objects.filter(case=case, seen_at__gte=fresh)
    if besides is not None:
        rows = rows.exclude(agent=besides)
    return rows.select_related("agent").order_by("started_at")
