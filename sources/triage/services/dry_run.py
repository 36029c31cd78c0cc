"""The dry run ("toetsen"): what a rule change would do to the recent mentions."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from sources.models import (
    EngagementRule,
    Mention,
    RuleDryRun,
    RuleDryRunMode,
    TriageRunStatus,
)
from webcare.celery import enqueue_on_commit

from ..classifier import classify
from ..rules import RuleSpec, decide
from .decisions import (
    TriageError,
    _guarded,
    _min_confidence,
    mention_facts,
    pattern_timeout,
    rule_spec_from_rule,
)

DRY_RUN_EXAMPLES = 20
# A dry run in the background stops after this many seconds (the task's time
# limits sit above it). Each pattern search is bounded too, so 500 mentions fit.
DRY_RUN_TIME_BUDGET = 120
# A running dry run with no progress for this long lost its worker: run it again.
DRY_RUN_STALLED_AFTER = timedelta(minutes=5)


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
    # Mentions on which a pattern ran out of time (decided "review" then).
    timed_out: int = 0


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
    progress: Callable[[int, int], None] | None = None,
    progress_every: int = 50,
    time_budget: float | None = None,
) -> DryRunResult:
    """Which of the last `last_n` mentions would change outcome with this rule on.

    The candidate is inserted at its position (an EngagementRule's own, else
    `position`, else the replaced rule's, else last), replacing the rule
    `replace_rule_id` (and its own stored version); an inactive candidate
    counts as switched on. With `switch_off`, the stored rule is taken out
    instead: what it decides today. Both sides are decided now on the same
    classification, so only the rule change shows. Reads only. `progress` is
    called with (done, total) every `progress_every` mentions and at the end;
    past `time_budget` seconds it stops with a TriageError.
    """
    started = time.monotonic()
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
    options = {
        "min_confidence": _min_confidence(),
        "pattern_timeout": pattern_timeout(),
    }
    mentions = list(
        Mention.objects.select_related("source", "author").order_by(
            "-first_seen_at", "-id"
        )[: max(last_n, 0)]
    )
    transitions: Counter = Counter()
    examples: list[DryRunExample] = []
    examined = changed = candidate_decides = timed_out = 0
    for mention in mentions:
        if time_budget is not None and time.monotonic() - started > time_budget:
            raise TriageError(
                _(
                    "The dry run took longer than %(seconds)s seconds and was "
                    "stopped after %(done)d of %(total)d mentions."
                )
                % {"seconds": time_budget, "done": examined, "total": len(mentions)}
            )
        examined += 1
        if progress is not None and (
            examined % progress_every == 0 or examined == len(mentions)
        ):
            progress(examined, len(mentions))
        classification = classify(mention.text)
        facts = mention_facts(mention, classification)
        old = _guarded(decide(current, facts, **options), mention)
        new = _guarded(decide(proposed, facts, **options), mention)
        if old.timed_out_rule_ids or new.timed_out_rule_ids:
            timed_out += 1
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
        timed_out=timed_out,
    )


# --- In the background -----------------------------------------------------------


def dry_run_result_as_dict(result: DryRunResult) -> dict:
    """The result as stored on a RuleDryRun (JSON)."""
    return {
        "examined": result.examined,
        "changed": result.changed,
        "candidate_decides": result.candidate_decides,
        "timed_out": result.timed_out,
        "transitions": result.transitions,
        "candidate_name": result.candidate.name,
        "examples": [
            {**dataclasses.asdict(example), "first_seen_at": str(example.first_seen_at)}
            for example in result.examples
        ],
    }


def rule_dry_run_start(
    *,
    mode: str,
    rule: EngagementRule | None = None,
    candidate: dict | None = None,
    form_data: list | None = None,
    started_by: AbstractBaseUser | None = None,
    last_n: int = 500,
) -> RuleDryRun:
    """Queue a dry run: of `candidate` (the rule's fields as edited, replacing
    `rule` if given), or of switching the stored `rule` on or off."""
    if mode == RuleDryRunMode.EDITED and candidate is None:
        raise TriageError(_("A dry run of an edited rule needs the edited rule."))
    if mode != RuleDryRunMode.EDITED and rule is None:
        raise TriageError(_("Only a stored rule can be switched on or off."))
    with transaction.atomic():
        dry_run = RuleDryRun.objects.create(
            mode=mode,
            rule=rule,
            candidate=candidate or {},
            form_data=form_data or [],
            last_n=last_n,
            started_by=started_by if started_by is not None and started_by.pk else None,
        )
        enqueue_on_commit("sources.triage.tasks.rule_dry_run", dry_run.pk)
    return dry_run


def rule_dry_run_execute(*, dry_run_id: int) -> None:
    """Run a queued dry run, writing its progress and then its result.

    Claimed with a conditional UPDATE, so a redelivered task does not run it
    twice; one whose worker died (no progress for a while) is run again.
    """
    now = timezone.now()
    claimed = (
        RuleDryRun.objects.filter(pk=dry_run_id)
        .filter(
            Q(status=TriageRunStatus.QUEUED)
            | Q(
                status=TriageRunStatus.RUNNING,
                progressed_at__lt=now - DRY_RUN_STALLED_AFTER,
            )
        )
        .update(status=TriageRunStatus.RUNNING, started_at=now, progressed_at=now)
    )
    if not claimed:
        return
    dry_run = RuleDryRun.objects.select_related("rule").get(pk=dry_run_id)
    running = RuleDryRun.objects.filter(pk=dry_run_id, status=TriageRunStatus.RUNNING)
    running.update(total=min(Mention.objects.count(), dry_run.last_n), done=0)

    def progress(done: int, total: int) -> None:
        running.update(done=done, total=total, progressed_at=timezone.now())

    if dry_run.mode == RuleDryRunMode.EDITED:
        arguments = {
            "rule_candidate": EngagementRule(pk=dry_run.rule_id, **dry_run.candidate),
            "replace_rule_id": dry_run.rule_id,
        }
    else:
        arguments = {
            "rule_candidate": dry_run.rule,
            "replace_rule_id": dry_run.rule_id,
            "switch_off": dry_run.mode == RuleDryRunMode.SWITCH_OFF,
        }
    try:
        result = triage_dry_run(
            **arguments,
            last_n=dry_run.last_n,
            progress=progress,
            time_budget=DRY_RUN_TIME_BUDGET,
        )
    except TriageError as error:
        rule_dry_run_fail(dry_run_id=dry_run_id, error=str(error))
        return
    running.update(
        status=TriageRunStatus.DONE,
        done=result.examined,
        total=result.examined,
        result=dry_run_result_as_dict(result),
        finished_at=timezone.now(),
    )


def rule_dry_run_fail(*, dry_run_id: int, error: str) -> None:
    RuleDryRun.objects.filter(pk=dry_run_id).exclude(
        status=TriageRunStatus.DONE
    ).update(
        status=TriageRunStatus.FAILED,
        finished_at=timezone.now(),
        last_error=error[:2000],
    )
