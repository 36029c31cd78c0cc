"""Rules of engagement: decide whether and how the team reacts to a mention.

Pure functions over plain dataclasses, so the same engine serves the live
pipeline, a dry run of a new rule over past mentions and the admin form that
validates a pattern. Rules are tried in order and the first whose conditions
all hold decides. "Bij twijfel niet acteren": a classification below the
confidence floor, or a mention no rule covers, goes to review; nothing of low
confidence is engaged, ignored or escalated automatically.

A pattern is either a keyword or phrase, matched case- and accent-insensitively
on word boundaries ("pinpas" does not match "pinpassen"; "nep mail" matches
"Nep  Mail"), or "re:<regex>", matched case-insensitively on the same folded
text (lowercase, accents removed). Regexes run on the `regex` module, whose
searches take a timeout: the structural check below refuses the classic
catastrophic shape (a quantified group inside a quantified group), the time
check (pattern_time_check) refuses at save what overruns its budget on hostile
near-miss texts, and at triage a search that still runs out of time sends the
mention to review instead of hanging the worker.
"""

import dataclasses
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

import regex
from django.utils.translation import gettext as _

from .classifier import CATEGORIES, fold

OUTCOMES = ("engage", "ignore", "review", "escalate")
PRIORITIES = ("low", "normal", "high", "urgent")
DEPARTMENTS = ("pr", "customer_service", "offices", "business_banking", "security")
LANGUAGES = ("nl", "en")
# Authors the team follows closely: a slow answer to them is a headline.
WATCH_LIST_FLAGS = frozenset({"journalist", "columnist", "influential", "vip"})
REGEX_PREFIX = "re:"
MAX_PATTERN_CHARS = 300
# Lengths of the hostile texts of the time check: long enough that exponential
# or quadratic backtracking shows, short enough that a sound pattern takes µs.
HOSTILE_TEXT_LENGTHS = (30, 5_000, 20_000)

try:  # the parser behind re; public as sre_parse before Python 3.11
    from re import _parser as _regex_parser
except ImportError:  # pragma: no cover
    import sre_parse as _regex_parser

_REPEATS = {
    _regex_parser.MAX_REPEAT,
    _regex_parser.MIN_REPEAT,
    getattr(_regex_parser, "POSSESSIVE_REPEAT", _regex_parser.MAX_REPEAT),
}


@dataclass(frozen=True)
class RuleSpec:
    id: int | None
    name: str
    outcome: str
    categories: frozenset[str] = frozenset()
    patterns: tuple[str, ...] = ()
    source_kinds: frozenset[str] = frozenset()
    author_flags: frozenset[str] = frozenset()
    min_reach: int | None = None
    languages: frozenset[str] = frozenset()
    priority: str = "normal"
    reason: str = ""
    department: str = ""
    also_escalate_to: str = ""

    def __post_init__(self) -> None:
        # Validate here so a bad rule fails when it is saved, not mid-triage.
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {self.outcome!r}")
        if self.priority not in PRIORITIES:
            raise ValueError(
                f"priority must be one of {PRIORITIES}, not {self.priority!r}"
            )
        unknown = set(self.categories) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"unknown categories: {', '.join(sorted(unknown))}")
        unknown = set(self.languages) - set(LANGUAGES)
        if unknown:
            raise ValueError(f"unknown languages: {', '.join(sorted(unknown))}")
        for field_name in ("department", "also_escalate_to"):
            value = getattr(self, field_name)
            if value and value not in DEPARTMENTS:
                raise ValueError(
                    f"{field_name} must be one of {DEPARTMENTS}, not {value!r}"
                )
        if self.outcome == "escalate" and not self.department:
            raise ValueError("an escalate rule needs a department")
        if self.also_escalate_to and self.outcome != "engage":
            raise ValueError("also_escalate_to only goes with the engage outcome")
        if self.min_reach is not None and self.min_reach < 0:
            raise ValueError("min_reach cannot be negative")
        for pattern in self.patterns:
            compile_pattern(pattern)


@dataclass(frozen=True)
class MentionFacts:
    text: str
    category: str
    confidence: float
    source_kind: str
    author_flags: frozenset[str]
    reach: int
    language: str


@dataclass(frozen=True)
class Decision:
    outcome: str
    rule_id: int | None
    rule_name: str
    priority: str
    reason: str
    department: str
    also_escalate_to: str
    explanation: tuple[str, ...]
    # Rules whose pattern ran out of time on this mention (triage counts them).
    timed_out_rule_ids: tuple[int | None, ...] = ()


class PatternTimeout(Exception):
    def __init__(self, pattern: str):
        super().__init__(pattern)
        self.pattern = pattern


@functools.lru_cache(maxsize=2048)
def compile_pattern(pattern: str) -> regex.Pattern:
    """Compile one rule pattern; raise ValueError with a message staff can act on."""
    if not isinstance(pattern, str) or not pattern.strip():
        raise ValueError("a pattern cannot be empty")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ValueError(f"a pattern can be at most {MAX_PATTERN_CHARS} characters")
    if pattern.startswith(REGEX_PREFIX):
        source = pattern[len(REGEX_PREFIX) :]
        if not source.strip():
            raise ValueError("the regular expression after 're:' is empty")
        try:
            # re checks the syntax staff know (and feeds _has_nested_repeat);
            # V0 makes regex read it the same way.
            re.compile(source)
            compiled = regex.compile(source, regex.IGNORECASE | regex.V0)
        except (re.error, regex.error) as error:
            raise ValueError(f"invalid regular expression: {error}") from None
        if _has_nested_repeat(_regex_parser.parse(source)):
            raise ValueError(
                "regular expression refused: a repeated group that itself "
                "contains a repetition, like (a+)+, can hang on hostile text"
            )
        return compiled
    words = fold(pattern).split()
    if not words:
        raise ValueError("a pattern cannot be empty")
    phrase = r"\s+".join(re.escape(word) for word in words)
    return regex.compile(rf"(?<!\w){phrase}(?!\w)", regex.V0)


def _hostile_texts(pattern: str) -> list[tuple[str, str]]:
    """Near-miss texts (with a description) on which backtracking blows up: long
    runs of whitespace, letters and repeated fragments, after and before the
    literal characters of the pattern itself, never followed by what it wants."""
    # Escapes like \s are syntax, not text the pattern looks for.
    source = re.sub(r"\\.", "", pattern[len(REGEX_PREFIX) :])
    literal = "".join(char for char in fold(source) if char.isalnum())[:20]
    texts = []
    for length in HOSTILE_TEXT_LENGTHS:
        runs = {
            _("whitespace"): " " * length,
            _("letters"): "a" * length,
            _("words"): "ab " * (length // 3),
            _("lines"): "a\n" * (length // 2),
            _("digits"): "1" * length,
        }
        if literal:
            runs[_("repeats of %(literal)r") % {"literal": literal}] = (
                literal[:-1] + " "
            ) * (length // len(literal))
        for name, run in runs.items():
            texts.append((name, run + "!"))
            if literal:
                texts.append(
                    (
                        _("%(literal)r and %(run)s")
                        % {"literal": literal, "run": name},
                        literal + run + "!",
                    )
                )
    return texts


def pattern_time_check(pattern: str, *, timeout: float) -> None:
    """Refuse a pattern that runs longer than `timeout` seconds on a hostile text.

    For saving a rule, after compile_pattern: a pattern that passes is not proven
    safe, but one that fails would hang triage on such a post.
    """
    compiled = compile_pattern(pattern)
    if not pattern.startswith(REGEX_PREFIX):
        return  # keywords are escaped literals: linear
    for description, text in _hostile_texts(pattern):
        try:
            compiled.search(text, timeout=timeout)
        except TimeoutError:
            raise ValueError(
                _(
                    "regular expression refused: it took longer than %(ms)d ms on "
                    "a test text of %(chars)d characters (%(description)s); it "
                    "would hold up triage. Bound what repeats, like .{0,100} instead "
                    "of .*, and avoid alternatives that match the same text, like "
                    "(.|\\s)*."
                )
                % {
                    "ms": round(timeout * 1000),
                    "chars": len(text),
                    "description": description,
                }
            ) from None


def _search(pattern: str, folded: str, timeout: float | None) -> bool:
    try:
        return compile_pattern(pattern).search(folded, timeout=timeout) is not None
    except TimeoutError:
        raise PatternTimeout(pattern) from None


def _has_nested_repeat(items, inside_repeat: bool = False) -> bool:
    """True if a repetition (max > 1) sits inside another one: "(a+)+", "(\\w+ ?)*".

    Those are the shapes that backtrack exponentially on a near-miss.
    """
    for op, argument in items:
        if op in _REPEATS:
            _, maximum, sub = argument
            repeats = maximum > 1
            if (repeats and inside_repeat) or _has_nested_repeat(
                sub, inside_repeat or repeats
            ):
                return True
            continue
        if op is _regex_parser.SUBPATTERN:
            children = [argument[-1]]
        elif op is _regex_parser.BRANCH:
            children = argument[1]
        elif op in (_regex_parser.ASSERT, _regex_parser.ASSERT_NOT):
            children = [argument[1]]
        else:
            continue
        if any(_has_nested_repeat(child, inside_repeat) for child in children):
            return True
    return False


def _raise_priority(priority: str) -> str:
    index = PRIORITIES.index(priority)
    return PRIORITIES[min(index + 1, len(PRIORITIES) - 1)]


def _failed_condition(
    rule: RuleSpec, facts: MentionFacts, folded: str, timeout: float | None
) -> str:
    """Return which condition does not hold, or "" if the rule matches.

    Patterns come last, as the costliest; PatternTimeout if one ran out of time.
    """
    if rule.categories and facts.category not in rule.categories:
        return f"category {facts.category}"
    if rule.source_kinds and facts.source_kind not in rule.source_kinds:
        return f"source kind {facts.source_kind or '(none)'}"
    if rule.author_flags and not (rule.author_flags & facts.author_flags):
        return "author flags"
    if rule.min_reach is not None and facts.reach < rule.min_reach:
        return f"reach {facts.reach} < {rule.min_reach}"
    if rule.languages and facts.language not in rule.languages:
        return f"language {facts.language or '(unknown)'}"
    if rule.patterns and not any(_search(p, folded, timeout) for p in rule.patterns):
        return "no pattern matched"
    return ""


def _matched_pattern(rule: RuleSpec, folded: str, timeout: float | None) -> str:
    return next(p for p in rule.patterns if _search(p, folded, timeout))


def _review(reason: str, explanation: list[str]) -> Decision:
    explanation.append(f"outcome review: {reason}")
    return Decision(
        outcome="review",
        rule_id=None,
        rule_name="",
        priority="normal",
        reason=reason,
        department="",
        also_escalate_to="",
        explanation=tuple(explanation),
    )


def decide(
    rules: Sequence[RuleSpec],
    facts: MentionFacts,
    *,
    min_confidence: float = 0.6,
    pattern_timeout: float | None = None,
) -> Decision:
    """Apply the first matching rule, or send the mention to review.

    Each pattern search may take `pattern_timeout` seconds. One that runs out
    sends the mention to review: whether its rule holds is unknown, and skipping
    it could let a later rule engage what it would have ignored.
    """
    folded = fold(facts.text)
    explanation = [f"classified {facts.category} (confidence {facts.confidence:.2f})"]
    matched: RuleSpec | None = None
    for rule in rules:
        try:
            failed = _failed_condition(rule, facts, folded, pattern_timeout)
            pattern = (
                _matched_pattern(rule, folded, pattern_timeout)
                if not failed and rule.patterns
                else ""
            )
        except PatternTimeout as timeout:
            decision = _review(
                f"when in doubt, do not act: pattern {timeout.pattern!r} of rule "
                f"{rule.name!r} ran out of time",
                explanation,
            )
            return dataclasses.replace(decision, timed_out_rule_ids=(rule.id,))
        if failed:
            explanation.append(f"rule {rule.name!r} skipped: {failed}")
            continue
        matched = rule
        detail = f"rule {rule.name!r} matched"
        if pattern:
            detail += f" on pattern {pattern!r}"
        explanation.append(detail)
        break

    if facts.confidence < min_confidence:
        if matched is not None:
            explanation.append(f"rule {matched.name!r} not applied")
        return _review(
            f"when in doubt, do not act: confidence "
            f"{_below(facts.confidence)} is below {min_confidence:.2f}",
            explanation,
        )
    if matched is None:
        return _review("no rule matched", explanation)

    priority = matched.priority
    if matched.outcome == "engage":
        flags = sorted(facts.author_flags & WATCH_LIST_FLAGS)
        if flags:
            raised = _raise_priority(priority)
            change = (
                f"priority {priority} -> {raised}"
                if raised != priority
                else f"priority already {priority}"
            )
            explanation.append(f"watch-list author ({', '.join(flags)}): {change}")
            priority = raised
    explanation.append(f"outcome {matched.outcome}, priority {priority}")
    if matched.also_escalate_to:
        explanation.append(f"also escalate to {matched.also_escalate_to}")
    return Decision(
        outcome=matched.outcome,
        rule_id=matched.id,
        rule_name=matched.name,
        priority=priority,
        reason=matched.reason,
        department=matched.department,
        also_escalate_to=matched.also_escalate_to,
        explanation=tuple(explanation),
    )


# The shipped rules of engagement, in order. Phishing comes first: a warning is
# answered at once and security is told, whatever else the post contains.
DEFAULT_RULES: tuple[RuleSpec, ...] = (
    RuleSpec(
        id=None,
        name="Phishing report",
        outcome="engage",
        categories=frozenset({"phishing"}),
        priority="urgent",
        reason="phishing: warn and help the customer now, tell security",
        also_escalate_to="security",
    ),
    RuleSpec(
        id=None,
        name="Abuse",
        outcome="ignore",
        categories=frozenset({"abuse"}),
        reason="abuse is never answered",
    ),
    RuleSpec(
        id=None,
        name="Factual inaccuracy",
        outcome="engage",
        categories=frozenset({"factual_inaccuracy"}),
        priority="high",
        reason="a wrong statement of fact is always answered with the right facts",
    ),
    RuleSpec(
        id=None,
        name="Opinion",
        outcome="ignore",
        categories=frozenset({"opinion"}),
        reason="sentiment/preference: nothing to win",
    ),
    RuleSpec(
        id=None,
        name="Question",
        outcome="engage",
        categories=frozenset({"question"}),
        priority="normal",
        reason="a customer asks: answer",
    ),
    RuleSpec(
        id=None,
        name="Complaint",
        outcome="engage",
        categories=frozenset({"complaint"}),
        priority="high",
        reason="a customer has a problem: help before it grows",
    ),
    # The team thanks people back: it costs little, and a reply to praise is
    # public proof of a team that listens. Optional, hence the lowest priority.
    RuleSpec(
        id=None,
        name="Praise",
        outcome="engage",
        categories=frozenset({"praise"}),
        priority="low",
        reason="praise: thank the customer back",
    ),
    RuleSpec(
        id=None,
        name="Spam",
        outcome="ignore",
        categories=frozenset({"spam"}),
        reason="commercial/spam",
    ),
)


def _below(confidence: float) -> str:
    """The confidence in two decimals, rounded down: 0.5995 must not read "0.60"
    beside a floor of 0.60."""
    return str(Decimal(str(confidence)).quantize(Decimal("0.01"), rounding=ROUND_DOWN))
