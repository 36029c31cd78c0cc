"""Net Promoter Score figures that say how much they can be trusted.

Pure functions (no Django) so that scores from Python and counts from SQL
aggregates give the same result.

The NPS is % promoters (9-10) minus % detractors (0-6): 100 times the mean of a
per-answer score of +1 for a promoter, 0 for a passive and -1 for a detractor.
With shares p and d of promoters and detractors from one multinomial sample of n
answers, that per-answer score has variance

    var = p + d - (p - d)^2

so the standard error of the NPS is sqrt(var / n) * 100 NPS points and the 95%
margin of error is 1.96 times that. This is the variance of a difference of two
proportions from one multinomial sample, Var(p - d) = (p(1-p) + d(1-d) + 2pd) / n,
which simplifies to var / n. Sources: the derivation at
http://www.cybaea.net/Journal/2016/01/14/NPS-confidence-intervals-stats/ and the
Cross Validated question "How can I calculate margin of error in a NPS (Net
Promoter Score) result?". It is a normal
approximation: below `MIN_ANSWERS` answers neither it nor the NPS itself is
reliable, so such results are flagged `indicative`.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import asdict, dataclass

PROMOTER = "promoter"
PASSIVE = "passive"
DETRACTOR = "detractor"

# Fewer answers than this and a report must show the NPS as indicative only.
MIN_ANSWERS = 30
Z_95 = 1.96


def _is_int(value: object) -> bool:
    # bool is an int subclass, but True is not a score or a count.
    return isinstance(value, int) and not isinstance(value, bool)


def band(score: int) -> str:
    """The band of a 0-10 score: promoter 9-10, passive 7-8, detractor 0-6."""
    if not _is_int(score) or not 0 <= score <= 10:
        raise ValueError(f"an NPS score is a whole number from 0 to 10, not {score!r}")
    if score >= 9:
        return PROMOTER
    if score >= 7:
        return PASSIVE
    return DETRACTOR


@dataclass(frozen=True)
class NpsResult:
    answered: int
    promoters: int
    passives: int
    detractors: int
    sent: int | None  # surveys sent for the same answers; None when unknown
    nps: float | None  # -100..100; None without answers
    margin_of_error: float | None  # 95% margin in NPS points; None without answers
    response_rate: float | None  # answered / sent (0..1); None without sent
    indicative: bool  # fewer than MIN_ANSWERS answers

    def as_dict(self) -> dict:
        return asdict(self)


def compute_nps_from_counts(
    *, promoters: int, passives: int, detractors: int, sent: int | None = None
) -> NpsResult:
    """NPS from counts per band, e.g. from a SQL aggregate.

    `sent` must count the surveys of the same cohort as the answers (e.g. sent in
    the period, answered whenever); fewer sent than answered raises ValueError
    rather than report a response rate above 100%.
    """
    counts = {"promoters": promoters, "passives": passives, "detractors": detractors}
    for name, count in counts.items():
        if not _is_int(count) or count < 0:
            raise ValueError(
                f"{name} must be a non-negative whole number, not {count!r}"
            )
    if sent is not None and (not _is_int(sent) or sent < 0):
        raise ValueError(f"sent must be a non-negative whole number, not {sent!r}")
    answered = promoters + passives + detractors
    if sent is not None and answered > sent:
        raise ValueError(f"{answered} answers but only {sent} surveys sent")

    nps = margin = None
    if answered:
        nps = 100 * (promoters - detractors) / answered
        # var * n^2 as exact integers, so that rounding can never make it negative.
        scaled_variance = (promoters + detractors) * answered - (
            promoters - detractors
        ) ** 2
        margin = Z_95 * 100 * math.sqrt(scaled_variance / answered**3)
    return NpsResult(
        answered=answered,
        promoters=promoters,
        passives=passives,
        detractors=detractors,
        sent=sent,
        nps=nps,
        margin_of_error=margin,
        response_rate=answered / sent if sent else None,
        indicative=answered < MIN_ANSWERS,
    )


def _count_bands(scores: Iterable[int]) -> dict[str, int]:
    counts = {PROMOTER: 0, PASSIVE: 0, DETRACTOR: 0}
    for score in scores:
        counts[band(score)] += 1
    return counts


def compute_nps(scores: Iterable[int], *, sent: int | None = None) -> NpsResult:
    """NPS of individual 0-10 scores; any invalid score raises ValueError."""
    counts = _count_bands(scores)
    return compute_nps_from_counts(
        promoters=counts[PROMOTER],
        passives=counts[PASSIVE],
        detractors=counts[DETRACTOR],
        sent=sent,
    )


def group_nps(
    rows: Iterable[tuple[Hashable, int]], *, sent_by_key: Mapping | None = None
) -> dict[Hashable, NpsResult]:
    """NPS per key (period, agent, team, topic...) from (key, score) rows.

    Keys come in order of first appearance in `rows`, then the keys that only
    appear in `sent_by_key` (surveys sent, none answered: nps None). A key
    answered but missing from `sent_by_key` gets sent None.
    """
    sent_by_key = sent_by_key or {}
    counts: dict[Hashable, dict[str, int]] = {}
    for key, score in rows:
        bands = counts.setdefault(key, {PROMOTER: 0, PASSIVE: 0, DETRACTOR: 0})
        bands[band(score)] += 1
    for key in sent_by_key:
        counts.setdefault(key, {PROMOTER: 0, PASSIVE: 0, DETRACTOR: 0})
    return {
        key: compute_nps_from_counts(
            promoters=bands[PROMOTER],
            passives=bands[PASSIVE],
            detractors=bands[DETRACTOR],
            sent=sent_by_key.get(key),
        )
        for key, bands in counts.items()
    }
