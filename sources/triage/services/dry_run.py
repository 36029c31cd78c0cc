"""The dry run ("toetsen"): what a rule change would do to the recent mentions."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sources.models import EngagementRule, Mention

from ..classifier import classify
from ..rules import RuleSpec, decide
from .decisions import (
    TriageError,
    _guarded,
    _min_confidence,
    mention_facts,
    rule_spec_from_rule,
)

DRY_RUN_EXAMPLES = 20


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
