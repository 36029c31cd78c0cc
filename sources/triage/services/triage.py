"""Triaging mentions: classify, decide, store why and route to the case intake."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from sources.models import Mention, Outcome, TriageStatus
from webcare import bus
from webcare.errors import ServiceError

from ..classifier import Classification
from ..rules import Decision, MentionFacts, RuleSpec
from .decisions import (
    _facts_as_dict,
    decision_as_dict,
    mention_decide,
    rule_pattern_timeouts_record,
    rule_specs,
)

logger = logging.getLogger(__name__)

ACTOR_LABEL = "system:triage"
_STATUS_FOR_OUTCOME = {
    Outcome.ENGAGE: TriageStatus.ENGAGED,
    Outcome.ESCALATE: TriageStatus.ENGAGED,
    Outcome.REVIEW: TriageStatus.REVIEW,
    Outcome.IGNORE: TriageStatus.IGNORED,
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
    # Outside the mention's transaction: the counter is no reason to hold its lock.
    rule_pattern_timeouts_record(rule_ids=decision.timed_out_rule_ids, mention_id=pk)
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
