"""The spokespeople's review: settling a mention that triage left for a person."""

from __future__ import annotations

import dataclasses

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from sources.models import Mention, Outcome, TriageStatus

from ..classifier import classify
from ..rules import WATCH_LIST_FLAGS, Decision, decide
from .decisions import (
    TriageError,
    decision_as_dict,
    mention_facts,
    pattern_timeout,
    rule_specs,
)
from .triage import ACTOR_LABEL, _engage

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
    by_rules = decide(
        rule_specs(), facts, min_confidence=0.0, pattern_timeout=pattern_timeout()
    )
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
