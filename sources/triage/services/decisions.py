"""Rules from the database and deciding: what triage would do with a mention."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from sources.models import EngagementRule, Mention, Outcome

from ..classifier import Classification, classify
from ..rules import Decision, MentionFacts, RuleSpec, decide

logger = logging.getLogger(__name__)


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


def pattern_timeout() -> float:
    """Seconds one rule pattern may search one mention."""
    return settings.WEBCARE_RULE_PATTERN_TIMEOUT_MS / 1000


def rule_pattern_timeouts_record(
    *, rule_ids: Iterable[int | None], mention_id: int
) -> None:
    """Count a pattern time-out on its rule, where staff see it."""
    ids = [rule_id for rule_id in rule_ids if rule_id is not None]
    if not ids:
        return
    logger.warning(
        "rule pattern ran out of time on mention %s (rules %s): sent to review",
        mention_id,
        ids,
    )
    EngagementRule.objects.filter(pk__in=ids).update(
        pattern_timeouts=F("pattern_timeouts") + 1,
        last_pattern_timeout_at=timezone.now(),
    )


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
        pattern_timeout=pattern_timeout(),
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
