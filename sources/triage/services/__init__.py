"""Triage every stored mention: classify it, decide by the rules of engagement, route it.

The pure core lives in classifier.py (what a post is about) and rules.py (what
the team does about it); this module connects it to the database. Engaging (and
escalating) publishes MentionEngaged, which the case intake (cases.intake) turns
into a new case or the open case of the same dialogue, in the same transaction;
"review" puts the mention in the spokespeople's queue; "ignore" keeps it visible
with the reason. Every decision is stored on the mention with its explanation, so
staff can see why it was triaged that way.
"""

from .decisions import (
    TriageError,
    decision_as_dict,
    mention_decide,
    mention_facts,
    pattern_timeout,
    rule_pattern_timeouts_record,
    rule_spec_from_rule,
    rule_specs,
)
from .dry_run import (
    DRY_RUN_EXAMPLES,
    DRY_RUN_TIME_BUDGET,
    DryRunExample,
    DryRunResult,
    dry_run_result_as_dict,
    rule_dry_run_execute,
    rule_dry_run_fail,
    rule_dry_run_start,
    triage_dry_run,
)
from .review import mention_review
from .runs import (
    RUN_BATCH_SIZE_MAX,
    SCOPE_STATUSES,
    triage_run_fail,
    triage_run_start,
    triage_run_step,
    triage_runs_stalled,
)
from .triage import (
    ACTOR_LABEL,
    TriageBatchResult,
    mention_triage,
    mentions_pending,
    mentions_triage,
)

__all__ = [
    "ACTOR_LABEL",
    "DRY_RUN_EXAMPLES",
    "DRY_RUN_TIME_BUDGET",
    "RUN_BATCH_SIZE_MAX",
    "SCOPE_STATUSES",
    "DryRunExample",
    "DryRunResult",
    "TriageBatchResult",
    "TriageError",
    "decision_as_dict",
    "dry_run_result_as_dict",
    "mention_decide",
    "mention_facts",
    "mention_review",
    "mention_triage",
    "mentions_pending",
    "mentions_triage",
    "pattern_timeout",
    "rule_dry_run_execute",
    "rule_dry_run_fail",
    "rule_dry_run_start",
    "rule_pattern_timeouts_record",
    "rule_spec_from_rule",
    "rule_specs",
    "triage_dry_run",
    "triage_run_fail",
    "triage_run_start",
    "triage_run_step",
    "triage_runs_stalled",
]
