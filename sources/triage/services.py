"""Triage every stored mention: classify it, decide by the rules of engagement, route it.

The pure core lives in classifier.py (what a post is about) and rules.py (what
the team does about it); this module connects it to the database. Engaging (and
escalating) publishes MentionEngaged, which the case intake (cases.intake) turns
into a new case or the open case of the same dialogue, in the same transaction;
"review" puts the mention in the spokespeople's queue; "ignore" keeps it visible
with the reason. Every decision is stored on the mention with its explanation, so
staff can see why it was triaged that way.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from sources.models import (
    EngagementRule,
    Mention,
    Outcome,
    TriageRun,
    TriageRunStatus,
    TriageScope,
    TriageStatus,
)
from webcare import bus
from webcare.celery import enqueue_on_commit
from webcare.errors import ServiceError

from .classifier import Classification, classify
from .rules import (
    WATCH_LIST_FLAGS,
    Decision,
    MentionFacts,
    RuleSpec,
    decide,
)

logger = logging.getLogger(__name__)

ACTOR_LABEL = "system:triage"
DRY_RUN_EXAMPLES = 20
RUN_BATCH_SIZE_MAX = 5000
SCOPE_STATUSES: dict[str, tuple[str, ...]] = {
    TriageScope.PENDING: (TriageStatus.PENDING,),
    TriageScope.REVIEW: (TriageStatus.REVIEW,),
    TriageScope.PENDING_AND_REVIEW: (TriageStatus.PENDING, TriageStatus.REVIEW),
}
_STATUS_FOR_OUTCOME = {
    Outcome.ENGAGE: TriageStatus.ENGAGED,
    Outcome.ESCALATE: TriageStatus.ENGAGED,
    Outcome.REVIEW: TriageStatus.REVIEW,
    Outcome.IGNORE: TriageStatus.IGNORED,
}


class TriageError(Exception):
    """A clear, staff-facing message: a broken rule, a mention already settled."""


# --- Rules from the database -------------------------------------------------------


def rule_spec_from_rule(rule: EngagementRule) -> RuleSpec:
    """The engine's view of a stored (or unsaved) rule; ValueError if it is invalid."""
    return RuleSpec(
        id=rule.pk,
        name=rule.name,
        outcome=rule.outcome,
        categories=frozenset(rule.categories or ()),
        patterns=tuple(
            line.strip() for line in (rule.patterns or "").splitlines() if line.strip()
        ),
        source_kinds=frozenset(rule.source_kinds or ()),
        author_flags=frozenset(rule.author_flags or ()),
        min_reach=rule.min_reach,
        languages=frozenset(rule.languages or ()),
        priority=rule.priority,
        reason=rule.reason,
        department=rule.department,
        also_escalate_to=rule.also_escalate_to if rule.outcome == "engage" else "",
    )


def rule_specs() -> list[RuleSpec]:
    """The active rules in order. A broken rule stops triage rather than being
    skipped: skipping an "ignore" rule could make the team answer abuse."""
    specs = []
    for rule in EngagementRule.objects.filter(is_active=True).order_by(
        "position", "id"
    ):
        try:
            specs.append(rule_spec_from_rule(rule))
        except ValueError as error:
            raise TriageError(f"Rule {rule} cannot be used: {error}") from None
    return specs


def _min_confidence() -> float:
    return settings.WEBCARE_TRIAGE_MIN_CONFIDENCE


# --- Deciding ----------------------------------------------------------------------


def mention_facts(mention: Mention, classification: Classification) -> MentionFacts:
    author = mention.author
    return MentionFacts(
        text=mention.text,
        category=classification.category,
        confidence=classification.confidence,
        source_kind=mention.source.kind,
        author_flags=author.watch_flags if author is not None else frozenset(),
        reach=mention.reach,
        language=mention.language or classification.language,
    )


def _guarded(decision: Decision, mention: Mention) -> Decision:
    """Blocked authors are never engaged automatically: a person decides."""
    author = mention.author
    if author is None or not author.is_blocked:
        return decision
    if decision.outcome not in (Outcome.ENGAGE, Outcome.ESCALATE):
        return decision
    reason = "the author is blocked: never engaged automatically"
    return dataclasses.replace(
        decision,
        outcome=Outcome.REVIEW,
        reason=reason,
        also_escalate_to="",
        department="",
        explanation=(*decision.explanation, f"outcome review: {reason}"),
    )


def mention_decide(
    mention: Mention, *, rules: Sequence[RuleSpec] | None = None
) -> tuple[Classification, MentionFacts, Decision]:
    """What triage would do with this mention now; reads only."""
    classification = classify(mention.text)
    facts = mention_facts(mention, classification)
    decision = decide(
        rule_specs() if rules is None else rules,
        facts,
        min_confidence=_min_confidence(),
    )
    return classification, facts, _guarded(decision, mention)


def decision_as_dict(decision: Decision) -> dict:
    return {
        "outcome": decision.outcome,
        "rule_id": decision.rule_id,
        "rule_name": decision.rule_name,
        "priority": decision.priority,
        "reason": decision.reason,
        "department": decision.department,
        "also_escalate_to": decision.also_escalate_to,
        "explanation": list(decision.explanation),
    }


def _facts_as_dict(facts: MentionFacts) -> dict:
    return {
        "source_kind": facts.source_kind,
        "author_flags": sorted(facts.author_flags),
        "reach": facts.reach,
        "language": facts.language,
    }


# --- Routing -----------------------------------------------------------------------


def _engage(mention: Mention, decision: Decision, *, actor_label: str) -> None:
    """Hand an engaged (or escalated) mention to the case intake (cases.intake),
    inside this transaction: the mention is engaged only together with its case."""
    if decision.outcome not in (Outcome.ENGAGE, Outcome.ESCALATE):
        return
    department = (
        decision.department
        if decision.outcome == Outcome.ESCALATE
        else decision.also_escalate_to
    )
    bus.publish(
        bus.MentionEngaged(
            mention_id=mention.pk,
            priority=decision.priority,
            escalate_to=department or "",
            escalation_reason=_escalation_reason(mention, decision)
            if department
            else "",
            actor_label=actor_label,
        )
    )


def _escalation_reason(mention: Mention, decision: Decision) -> str:
    rule = f"rule {decision.rule_name!r}" if decision.rule_name else "triage review"
    why = decision.reason or "the rules of engagement say so"
    return f"{why} ({rule}, mention {mention.pk})"


def _store(
    mention: Mention,
    *,
    classification: Classification,
    facts: MentionFacts,
    decision: Decision,
    now: datetime,
) -> None:
    mention.category = classification.category
    mention.confidence = min(max(classification.confidence, 0.0), 1.0)
    mention.triage_signals = {
        "classification": classification.as_dict(),
        "facts": _facts_as_dict(facts),
        "decision": decision_as_dict(decision),
    }
    mention.outcome = decision.outcome
    mention.rule_id = decision.rule_id
    mention.triage_reason = (decision.reason or decision.explanation[-1])[:500]
    mention.triaged_at = now
    mention.triage_status = _STATUS_FOR_OUTCOME[decision.outcome]


_TRIAGE_FIELDS = [
    "category",
    "confidence",
    "triage_signals",
    "outcome",
    "rule",
    "triage_reason",
    "triaged_at",
    "triage_status",
    "updated_at",
]


def mention_triage(
    *,
    mention_id: int | None = None,
    mention: Mention | None = None,
    rules: Sequence[RuleSpec] | None = None,
    statuses: Iterable[str] = (TriageStatus.PENDING,),
    actor_label: str = ACTOR_LABEL,
) -> Decision | None:
    """Classify, decide and route one mention; store why.

    Only a mention whose triage status is in `statuses` is triaged (pending by
    default; a re-run also passes "review"), so a mention is routed once however
    often the task runs. Returns the decision, or None when it was skipped.
    Pass `rules` (from rule_specs()) to triage a batch with one rules query.
    """
    if (mention_id is None) == (mention is None):
        raise TypeError("pass mention_id or mention")
    pk = mention_id if mention_id is not None else mention.pk
    with transaction.atomic():
        # The state guard: the row lock and the status check happen together.
        locked = (
            Mention.objects.select_for_update(of=("self",))
            .select_related("source", "author")
            .filter(pk=pk, triage_status__in=list(statuses))
            .first()
        )
        if locked is None:
            return None
        classification, facts, decision = mention_decide(locked, rules=rules)
        _store(
            locked,
            classification=classification,
            facts=facts,
            decision=decision,
            now=timezone.now(),
        )
        locked.save(update_fields=_TRIAGE_FIELDS)
        _engage(locked, decision, actor_label=actor_label)
    if mention is not None:
        mention.refresh_from_db()
    return decision


@dataclass
class TriageBatchResult:
    triaged: int = 0
    skipped: int = 0
    failed: int = 0
    by_status: Counter = field(default_factory=Counter)


def mentions_triage(
    *,
    mention_ids: Iterable[int],
    statuses: Iterable[str] = (TriageStatus.PENDING,),
    actor_label: str = ACTOR_LABEL,
) -> TriageBatchResult:
    """Triage a batch with one rules query. A mention that cannot be routed keeps
    its status and shows the error as its triage reason; the rest go on."""
    statuses = tuple(statuses)
    rules = rule_specs()
    result = TriageBatchResult()
    for mention_id in mention_ids:
        try:
            decision = mention_triage(
                mention_id=mention_id,
                rules=rules,
                statuses=statuses,
                actor_label=actor_label,
            )
        except ServiceError as error:
            logger.warning("triage of mention %s failed: %s", mention_id, error)
            Mention.objects.filter(pk=mention_id).update(
                triage_reason=f"triage failed: {error}"[:500]
            )
            result.failed += 1
            continue
        if decision is None:
            result.skipped += 1
        else:
            result.triaged += 1
            result.by_status[_STATUS_FOR_OUTCOME[decision.outcome]] += 1
    return result


# --- The spokespeople's review ------------------------------------------------------


def mention_review(
    *,
    mention: Mention,
    outcome: str,
    reviewer: AbstractBaseUser,
    note: str = "",
) -> Mention:
    """Settle a review item: engage (route it as triage would) or ignore.

    The rules still say how to engage (priority, escalation) as if the
    classification were certain; the reviewer only removes the doubt.
    """
    if outcome not in (Outcome.ENGAGE, Outcome.IGNORE):
        raise TriageError("A review is settled with engage or ignore.")
    if not reviewer.is_active or not reviewer.has_perm("sources.change_reviewmention"):
        raise TriageError(f"{reviewer.get_username()} may not settle review items.")
    note = " ".join((note or "").split())[:300]
    with transaction.atomic():
        locked = (
            Mention.objects.select_for_update(of=("self",))
            .select_related("source", "author")
            .filter(pk=mention.pk)
            .first()
        )
        if locked is None:
            raise TriageError("This mention no longer exists.")
        if locked.triage_status != TriageStatus.REVIEW:
            raise TriageError(
                f"Mention {locked.pk} is not waiting for review "
                f"({locked.get_triage_status_display().lower()})."
            )
        now = timezone.now()
        name = reviewer.get_username()
        previous = locked.triage_signals or {}
        decision = _reviewed_decision(locked, outcome=outcome, reviewer_name=name)
        locked.outcome = outcome
        locked.rule_id = decision.rule_id
        locked.triage_reason = (
            f"reviewed by {name}: {outcome}" + (f" ({note})" if note else "")
        )[:500]
        locked.triage_status = TriageStatus.REVIEWED
        locked.reviewed_by = reviewer
        locked.reviewed_at = now
        locked.triage_signals = {
            **previous,
            "review": {
                "by": name,
                "at": now.isoformat(),
                "outcome": outcome,
                "note": note,
                "decision": decision_as_dict(decision),
            },
        }
        locked.save(
            update_fields=[
                "outcome",
                "rule",
                "triage_reason",
                "triage_status",
                "reviewed_by",
                "reviewed_at",
                "triage_signals",
                "updated_at",
            ]
        )
        # Spokespeople decide, the system opens the case on their behalf: they
        # need no case permissions for that, and the trail names them.
        _engage(locked, decision, actor_label=f"{ACTOR_LABEL} (reviewed by {name})")
    mention.refresh_from_db()
    return mention


def _reviewed_decision(
    mention: Mention, *, outcome: str, reviewer_name: str
) -> Decision:
    explanation = [f"review by {reviewer_name}: {outcome}"]
    if outcome == Outcome.IGNORE:
        return Decision(
            outcome=Outcome.IGNORE,
            rule_id=None,
            rule_name="",
            priority="normal",
            reason=f"reviewed by {reviewer_name}: ignore",
            department="",
            also_escalate_to="",
            explanation=tuple(explanation),
        )
    classification = classify(mention.text)
    facts = dataclasses.replace(mention_facts(mention, classification), confidence=1.0)
    by_rules = decide(rule_specs(), facts, min_confidence=0.0)
    if by_rules.outcome in (Outcome.ENGAGE, Outcome.ESCALATE):
        explanation.extend(by_rules.explanation)
        return dataclasses.replace(by_rules, explanation=tuple(explanation))
    priority = "normal"
    flags = sorted(facts.author_flags & WATCH_LIST_FLAGS)
    if flags:
        priority = "high"
        explanation.append(f"watch-list author ({', '.join(flags)}): priority high")
    return Decision(
        outcome=Outcome.ENGAGE,
        rule_id=None,
        rule_name="",
        priority=priority,
        reason=f"reviewed by {reviewer_name}: engage",
        department="",
        also_escalate_to="",
        explanation=tuple(explanation),
    )


# --- Dry run ("toetsen") -------------------------------------------------------------


@dataclass(frozen=True)
class DryRunExample:
    mention_id: int
    text: str
    source_kind: str
    first_seen_at: datetime
    category: str
    confidence: float
    old_outcome: str
    old_rule: str
    new_outcome: str
    new_rule: str
    new_reason: str


@dataclass(frozen=True)
class DryRunResult:
    examined: int
    changed: int
    candidate_decides: int
    transitions: dict[str, int]
    examples: tuple[DryRunExample, ...]
    candidate: RuleSpec


def _rules_with_candidate(
    candidate: RuleSpec, position: int | None, replace_rule_id: int | None
) -> tuple[list[RuleSpec], list[RuleSpec]]:
    stored = list(
        EngagementRule.objects.filter(is_active=True).order_by("position", "id")
    )
    current = []
    for rule in stored:
        try:
            current.append(rule_spec_from_rule(rule))
        except ValueError as error:
            # As in rule_specs(): staff see which stored rule to fix.
            raise TriageError(f"Rule {rule} cannot be used: {error}") from None
    replaced = {replace_rule_id, candidate.id} - {None}
    if position is None and replace_rule_id is not None:
        # The replaced rule may be inactive: that is the "switch it on" preview.
        position = (
            EngagementRule.objects.filter(pk=replace_rule_id)
            .values_list("position", flat=True)
            .first()
        )
    ordered = [
        (rule.position, rule.pk, spec)
        for rule, spec in zip(stored, current, strict=True)
        if rule.pk not in replaced
    ]
    # A new rule sorts after the rules of the same position, as when saved.
    key = candidate.id if candidate.id is not None else float("inf")
    ordered.append((position if position is not None else float("inf"), key, candidate))
    ordered.sort(key=lambda item: (item[0], item[1]))
    return current, [spec for _, _, spec in ordered]


def triage_dry_run(
    *,
    rule_candidate: RuleSpec | EngagementRule,
    replace_rule_id: int | None = None,
    position: int | None = None,
    last_n: int = 500,
    switch_off: bool = False,
) -> DryRunResult:
    """Which of the last `last_n` mentions would change outcome with this rule on.

    The candidate is inserted at its position (an EngagementRule's own, else
    `position`, else the replaced rule's, else last), replacing the rule
    `replace_rule_id` (and its own stored version); an inactive candidate
    counts as switched on. With `switch_off`, the stored rule is taken out
    instead: what it decides today. Both sides are decided now on the same
    classification, so only the rule change shows. Reads only.
    """
    if isinstance(rule_candidate, EngagementRule):
        if position is None:
            position = rule_candidate.position
        try:
            candidate = rule_spec_from_rule(rule_candidate)
        except ValueError as error:
            raise TriageError(f"The rule cannot be used: {error}") from None
    else:
        candidate = rule_candidate
    current, proposed = _rules_with_candidate(candidate, position, replace_rule_id)
    if switch_off:
        if candidate.id is None:
            raise TriageError("Only a stored rule can be switched off.")
        proposed = [spec for spec in current if spec.id != candidate.id]
    min_confidence = _min_confidence()
    mentions = Mention.objects.select_related("source", "author").order_by(
        "-first_seen_at", "-id"
    )[: max(last_n, 0)]
    transitions: Counter = Counter()
    examples: list[DryRunExample] = []
    examined = changed = candidate_decides = 0
    for mention in mentions:
        examined += 1
        classification = classify(mention.text)
        facts = mention_facts(mention, classification)
        old = _guarded(decide(current, facts, min_confidence=min_confidence), mention)
        new = _guarded(decide(proposed, facts, min_confidence=min_confidence), mention)
        by_candidate = old if switch_off else new
        if (by_candidate.rule_id, by_candidate.rule_name) == (
            candidate.id,
            candidate.name,
        ):
            candidate_decides += 1
        if old.outcome == new.outcome:
            continue
        changed += 1
        transitions[f"{old.outcome} -> {new.outcome}"] += 1
        if len(examples) < DRY_RUN_EXAMPLES:
            examples.append(
                DryRunExample(
                    mention_id=mention.pk,
                    text=mention.text[:280],
                    source_kind=mention.source.kind,
                    first_seen_at=mention.first_seen_at,
                    category=classification.category,
                    confidence=round(classification.confidence, 2),
                    old_outcome=old.outcome,
                    old_rule=old.rule_name,
                    new_outcome=new.outcome,
                    new_rule=new.rule_name,
                    new_reason=new.reason,
                )
            )
    return DryRunResult(
        examined=examined,
        changed=changed,
        candidate_decides=candidate_decides,
        transitions=dict(sorted(transitions.items())),
        examples=tuple(examples),
        candidate=candidate,
    )


# --- Re-running triage -------------------------------------------------------------


def triage_run_start(
    *,
    scope: str = TriageScope.REVIEW,
    started_by: AbstractBaseUser | None = None,
    batch_size: int = 200,
) -> TriageRun:
    """Queue a re-run of triage over the mentions in scope (e.g. after a rule change).

    The run covers the mentions stored now; later ones are triaged on arrival.
    """
    if scope not in SCOPE_STATUSES:
        raise TriageError(f"Unknown scope {scope!r}.")
    if not 1 <= batch_size <= RUN_BATCH_SIZE_MAX:
        raise TriageError(f"The batch size must be between 1 and {RUN_BATCH_SIZE_MAX}.")
    with transaction.atomic():
        in_scope = Mention.objects.filter(triage_status__in=SCOPE_STATUSES[scope])
        last_id = in_scope.aggregate(last=Max("id"))["last"] or 0
        run = TriageRun.objects.create(
            scope=scope,
            batch_size=batch_size,
            total=in_scope.filter(id__lte=last_id).count(),
            last_mention_id=last_id,
            started_by=started_by if started_by is not None and started_by.pk else None,
        )
        enqueue_on_commit("sources.triage.tasks.retriage", run.pk)
    return run


def triage_run_step(*, run_id: int) -> bool:
    """Triage one batch of a run; True while more remain.

    The cursor moves with a conditional UPDATE: if another worker moved it
    first (a redelivered task), this one stops instead of counting twice.
    """
    run = TriageRun.objects.filter(pk=run_id).first()
    if run is None or run.status in (TriageRunStatus.DONE, TriageRunStatus.FAILED):
        return False
    if run.status == TriageRunStatus.QUEUED:
        now = timezone.now()
        TriageRun.objects.filter(pk=run_id, status=TriageRunStatus.QUEUED).update(
            status=TriageRunStatus.RUNNING, started_at=now, progressed_at=now
        )
    statuses = SCOPE_STATUSES[run.scope]
    ids = list(
        Mention.objects.filter(
            triage_status__in=statuses,
            id__gt=run.cursor_mention_id,
            id__lte=run.last_mention_id,
        )
        .order_by("id")
        .values_list("id", flat=True)[: run.batch_size]
    )
    if not ids:
        TriageRun.objects.filter(pk=run_id, status=TriageRunStatus.RUNNING).update(
            status=TriageRunStatus.DONE, finished_at=timezone.now()
        )
        return False
    result = mentions_triage(
        mention_ids=ids, statuses=statuses, actor_label=f"{ACTOR_LABEL} (run {run_id})"
    )
    results = Counter(run.results)
    results.update(result.by_status)
    results["skipped"] += result.skipped
    results["failed"] += result.failed
    done = run.done + len(ids)
    moved = TriageRun.objects.filter(
        pk=run_id, cursor_mention_id=run.cursor_mention_id
    ).update(
        cursor_mention_id=ids[-1],
        progressed_at=timezone.now(),
        done=done,
        # A mention that entered the scope after the start is done too.
        total=max(run.total, done),
        results={key: value for key, value in sorted(results.items()) if value},
    )
    return bool(moved)


def triage_runs_stalled(*, older_than: datetime) -> list[int]:
    """Runs whose task was lost: queued or running, and no batch done since then."""
    return list(
        TriageRun.objects.filter(
            status__in=(TriageRunStatus.QUEUED, TriageRunStatus.RUNNING)
        )
        .filter(
            Q(progressed_at__lt=older_than)
            | Q(progressed_at__isnull=True, created_at__lt=older_than)
        )
        .values_list("id", flat=True)
    )


def triage_run_fail(*, run_id: int, error: str) -> None:
    TriageRun.objects.filter(pk=run_id).exclude(status=TriageRunStatus.DONE).update(
        status=TriageRunStatus.FAILED,
        finished_at=timezone.now(),
        last_error=error[:2000],
    )


def mentions_pending(*, older_than: datetime | None = None) -> list[int]:
    """Ids of mentions not triaged yet (oldest first), e.g. when a task was lost.

    Not a post first seen deleted: storing never queues it, as it needs none.
    """
    queryset = Mention.objects.filter(
        triage_status=TriageStatus.PENDING, is_deleted=False
    )
    if older_than is not None:
        queryset = queryset.filter(Q(first_seen_at__lte=older_than))
    return list(queryset.order_by("id").values_list("id", flat=True)[:1000])
