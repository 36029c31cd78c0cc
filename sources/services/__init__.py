"""Storing mentions and polling sources: every write of the sources app with a rule.

Exactly once: a mention is unique per (source, external_id), and every write here
is an idempotent upsert, so a retried task, a re-delivered page or two overlapping
polls store each mention once. Posts are hostile text: they are cleaned of what
the database refuses (NUL bytes, lone surrogates), capped, and never trusted.
"""

from .authors import mention_reattribute
from .health import HealthReport, source_check_health
from .mentions import StoreResult, mentions_store
from .polling import PollResult, source_poll, source_poll_request, source_reserve_due
from .retention import PurgeResult, mentions_purge_raw

__all__ = [
    "HealthReport",
    "PollResult",
    "PurgeResult",
    "StoreResult",
    "mention_reattribute",
    "mentions_purge_raw",
    "mentions_store",
    "source_check_health",
    "source_poll",
    "source_poll_request",
    "source_reserve_due",
]
