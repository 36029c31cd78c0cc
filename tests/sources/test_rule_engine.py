"""The rules of engagement: first match wins, and when in doubt, do not act."""

import dataclasses
import time

import pytest

from sources.triage.classifier import classify
from sources.triage.rules import (
    DEFAULT_RULES,
    OUTCOMES,
    PRIORITIES,
    Decision,
    MentionFacts,
    RuleSpec,
    compile_pattern,
    decide,
    pattern_time_check,
)


def make_facts(**overrides) -> MentionFacts:
    values = {
        "text": "@oranjebank hoe open ik een rekening?",
        "category": "question",
        "confidence": 0.9,
        "source_kind": "x_search",
        "author_flags": frozenset(),
        "reach": 10,
        "language": "nl",
    }
    values.update(overrides)
    return MentionFacts(**values)


def rule(rule_id: int, outcome: str = "engage", **conditions) -> RuleSpec:
    return RuleSpec(id=rule_id, name=f"rule {rule_id}", outcome=outcome, **conditions)


def facts_from_text(text: str, **overrides) -> MentionFacts:
    result = classify(text)
    values = {
        "text": text,
        "category": result.category,
        "confidence": result.confidence,
        "language": result.language,
    }
    values.update(overrides)
    return make_facts(**values)


def test_it_applies_the_first_matching_rule_in_order():
    rules = [
        rule(1, "ignore", categories=frozenset({"spam"})),
        rule(2, "engage", categories=frozenset({"question"}), priority="high"),
        rule(3, "escalate", categories=frozenset({"question"}), department="pr"),
    ]

    decision = decide(rules, make_facts())

    assert decision.rule_id == 2
    assert decision.outcome == "engage"
    assert decision.priority == "high"
    assert "rule 'rule 1' skipped: category question" in decision.explanation
    assert "rule 'rule 2' matched" in decision.explanation
    assert not any("rule 3" in line for line in decision.explanation)


def test_reordering_the_rules_changes_the_decision():
    engage = rule(1, "engage", categories=frozenset({"question"}))
    escalate = rule(2, "escalate", categories=frozenset({"question"}), department="pr")

    assert decide([engage, escalate], make_facts()).rule_id == 1
    assert decide([escalate, engage], make_facts()).rule_id == 2


def test_an_empty_condition_matches_any_mention():
    catch_all = rule(9, "escalate", department="customer_service")

    decision = decide([catch_all], make_facts(category="complaint"))

    assert decision.outcome == "escalate"
    assert decision.department == "customer_service"


@pytest.mark.parametrize(
    ("conditions", "matching", "not_matching"),
    [
        (
            {"categories": frozenset({"complaint", "question"})},
            {"category": "complaint"},
            {"category": "praise"},
        ),
        (
            {"source_kinds": frozenset({"reddit", "discourse"})},
            {"source_kind": "discourse"},
            {"source_kind": "x_search"},
        ),
        (
            {"author_flags": frozenset({"journalist", "repeat_complainer"})},
            {"author_flags": frozenset({"repeat_complainer", "customer"})},
            {"author_flags": frozenset({"customer"})},
        ),
        ({"min_reach": 1000}, {"reach": 1000}, {"reach": 999}),
        ({"languages": frozenset({"en"})}, {"language": "en"}, {"language": "nl"}),
        (
            {"patterns": ("hypotheek",)},
            {"text": "Vraag over mijn HYPOTHÉÉK"},
            {"text": "vraag over mijn hypotheekrente"},
        ),
        (
            {"patterns": ("nep mail", "valse sms")},
            {"text": "Weer een Nep   Mail gehad"},
            {"text": "een nepmail gehad"},
        ),
        (
            {"patterns": (r"re:oranjebank-\w+\.(nl|com)",)},
            {"text": "ga naar Oranjebank-Login.com"},
            {"text": "ga naar oranjebank.nl"},
        ),
    ],
)
def test_each_condition_kind_decides_whether_a_rule_matches(
    conditions, matching, not_matching
):
    rules = [rule(7, "escalate", department="pr", **conditions)]

    hit = decide(rules, make_facts(**matching))
    miss = decide(rules, make_facts(**not_matching))

    assert (hit.outcome, hit.rule_id) == ("escalate", 7)
    assert (miss.outcome, miss.rule_id) == ("review", None)


def test_all_conditions_of_a_rule_must_hold():
    strict = rule(
        4,
        "escalate",
        department="pr",
        categories=frozenset({"complaint"}),
        author_flags=frozenset({"journalist"}),
        min_reach=5000,
    )
    facts = make_facts(
        category="complaint", author_flags=frozenset({"journalist"}), reach=100
    )

    decision = decide([strict], facts)

    assert decision.outcome == "review"
    assert "rule 'rule 4' skipped: reach 100 < 5000" in decision.explanation


def test_the_explanation_names_the_pattern_that_matched():
    decision = decide(
        [rule(5, "engage", patterns=("storing", "outage"))],
        make_facts(text="Weer een STÖRING bij het pinnen"),
    )

    assert decision.rule_id == 5
    assert "rule 'rule 5' matched on pattern 'storing'" in decision.explanation


def test_low_confidence_goes_to_review_even_when_a_rule_matches():
    rules = [rule(1, "engage", categories=frozenset({"question"}))]

    decision = decide(rules, make_facts(confidence=0.59))

    assert decision.outcome == "review"
    assert decision.rule_id is None
    assert "0.59" in decision.reason and "0.60" in decision.reason
    assert "rule 'rule 1' not applied" in decision.explanation


def test_low_confidence_never_auto_ignores_or_escalates_either():
    for outcome in ("ignore", "escalate"):
        rules = [rule(1, outcome, department="pr")]
        decision = decide(rules, make_facts(confidence=0.2))
        assert decision.outcome == "review"


def test_the_confidence_floor_is_configurable_and_inclusive():
    rules = [rule(1, "engage", categories=frozenset({"question"}))]

    assert decide(rules, make_facts(confidence=0.8), min_confidence=0.8).outcome == (
        "engage"
    )
    assert decide(rules, make_facts(confidence=0.8), min_confidence=0.81).outcome == (
        "review"
    )


def test_no_matching_rule_goes_to_review():
    decision = decide([rule(1, "ignore", categories=frozenset({"spam"}))], make_facts())

    assert decision.outcome == "review"
    assert decision.rule_id is None
    assert decision.reason == "no rule matched"


def test_no_rules_at_all_goes_to_review():
    assert decide([], make_facts()).outcome == "review"


@pytest.mark.parametrize(
    ("flags", "start", "expected"),
    [
        ({"journalist"}, "normal", "high"),
        ({"columnist"}, "low", "normal"),
        ({"influential", "vip"}, "high", "urgent"),
        ({"vip"}, "urgent", "urgent"),
        ({"customer"}, "normal", "normal"),
        (set(), "high", "high"),
    ],
)
def test_a_watch_list_author_raises_engage_priority_by_one_step(flags, start, expected):
    rules = [rule(1, "engage", priority=start)]

    decision = decide(rules, make_facts(author_flags=frozenset(flags)))

    assert decision.priority == expected
    noted = [line for line in decision.explanation if "watch-list author" in line]
    assert bool(noted) == bool(
        flags & {"journalist", "columnist", "influential", "vip"}
    )


def test_a_watch_list_author_does_not_change_other_outcomes():
    decision = decide(
        [rule(1, "ignore", priority="normal")],
        make_facts(author_flags=frozenset({"journalist"})),
    )

    assert decision.outcome == "ignore"
    assert decision.priority == "normal"


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("re:(unclosed", "invalid regular expression"),
        ("re:[z-a]", "invalid regular expression"),
        ("re:", "empty"),
        ("   ", "empty"),
        ("re:(a+)+$", "refused"),
        (r"re:(\w+\s?)*@", "refused"),
        ("re:" + "x" * 400, "at most"),
    ],
)
def test_a_bad_pattern_raises_value_error_with_a_clear_message(pattern, message):
    with pytest.raises(ValueError, match=message):
        compile_pattern(pattern)


def test_a_rule_with_a_bad_pattern_cannot_be_built():
    with pytest.raises(ValueError, match="invalid regular expression"):
        rule(1, patterns=("ok", "re:*oops"))


@pytest.mark.parametrize(
    "overrides",
    [
        {"outcome": "reply"},
        {"priority": "critical"},
        {"categories": frozenset({"phising"})},
        {"languages": frozenset({"de"})},
        {"outcome": "escalate"},
        {"outcome": "escalate", "department": "legal"},
        {"outcome": "ignore", "also_escalate_to": "security"},
        {"min_reach": -1},
    ],
)
def test_an_invalid_rule_is_refused(overrides):
    values = {"id": 1, "name": "bad", "outcome": "engage"}
    values.update(overrides)

    with pytest.raises(ValueError):
        RuleSpec(**values)


def test_plain_keywords_match_words_not_fragments():
    pattern = compile_pattern("pinpas")

    assert pattern.search("mijn pinpas is weg")
    assert pattern.search("mijn #pinpas!")
    assert not pattern.search("pinpassen")
    assert not pattern.search("nieuwepinpas")


def test_a_regex_rule_cannot_hang_on_hostile_text():
    rules = [rule(1, "ignore", patterns=(r"re:(?:ab|cd)+x",))]
    text = "ab" * 500_000

    decision = decide(rules, make_facts(text=text))

    assert decision.outcome == "review"


def test_the_default_rules_are_valid_and_ordered_as_shipped():
    assert [r.name for r in DEFAULT_RULES] == [
        "Phishing report",
        "Abuse",
        "Factual inaccuracy",
        "Opinion",
        "Question",
        "Complaint",
        "Praise",
        "Spam",
    ]
    assert all(
        r.outcome in OUTCOMES and r.priority in PRIORITIES for r in DEFAULT_RULES
    )
    covered = {c for r in DEFAULT_RULES for c in r.categories}
    assert "other" not in covered


@pytest.mark.parametrize(
    ("text", "outcome", "priority", "escalate_to"),
    [
        (
            "@oranjebank ik kreeg een sms met een link om mijn pas te vervangen, "
            "is dit echt?",
            "engage",
            "urgent",
            "security",
        ),
        ("@oranjebank kankerbank, rot op met je kutapp", "ignore", "normal", ""),
        (
            "Let op: Oranjebank rekent vanaf volgende maand 5 euro per pinbetaling",
            "engage",
            "high",
            "",
        ),
        (
            "Ik vond het oude logo van oranjebank eigenlijk mooier",
            "ignore",
            "normal",
            "",
        ),
        ("@oranjebank how do I change my daily payment limit?", "engage", "normal", ""),
        (
            "@oranjebank al 2 weken wacht ik op mijn nieuwe pas, echt belachelijk 😡",
            "engage",
            "high",
            "",
        ),
        (
            "@oranjebank thank you so much, problem solved in minutes!",
            "engage",
            "low",
            "",
        ),
        (
            "💰 Verdien €500 per dag met crypto, link in bio #oranjebank",
            "ignore",
            "normal",
            "",
        ),
        ("Op weg naar een vergadering bij oranjebank", "review", "normal", ""),
    ],
)
def test_the_default_rules_on_representative_posts(
    text, outcome, priority, escalate_to
):
    decision = decide(DEFAULT_RULES, facts_from_text(text))

    assert decision.outcome == outcome, decision.explanation
    assert decision.priority == priority
    assert decision.also_escalate_to == escalate_to


@pytest.mark.parametrize(
    "text",
    [
        "@oranjebank stelletje klootzakken en debielen",
        "@oranjebank you're a bunch of useless idiots",
        "@oranjebank jullie zijn oplichters, tering bende",
        "fuck you @oranjebank 🖕",
        "@oranjebank jullie zijn dieven. Hoe kan ik mijn rekening opzeggen?",
        "Bedankt voor niks @oranjebank, stelletje idioten",
    ],
)
def test_abuse_is_never_engaged_even_for_a_journalist(text):
    facts = facts_from_text(text, author_flags=frozenset({"journalist"}), reach=90_000)

    decision = decide(DEFAULT_RULES, facts)

    assert decision.outcome in ("ignore", "review")
    assert decision.also_escalate_to == ""


def test_a_decision_is_frozen():
    decision = decide(DEFAULT_RULES, make_facts())

    assert isinstance(decision, Decision)
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.outcome = "engage"


def test_the_review_reason_never_shows_the_confidence_rounded_up_to_the_floor():
    facts = MentionFacts(
        text="x",
        category="factual_inaccuracy",
        confidence=0.5995,
        source_kind="x_search",
        author_flags=frozenset(),
        reach=0,
        language="nl",
    )
    decision = decide(DEFAULT_RULES, facts, min_confidence=0.6)
    assert decision.outcome == "review"
    assert "confidence 0.59 is below 0.60" in decision.reason


# --- Regular-expression denial of service (issue 16) ----------------------------------

# Overlapping alternatives under a star: no nested repeat, yet exponential on a
# run of whitespace after the literal.
OVERLAPPING = r"re:(.|\s)*zqxj"


def test_a_pattern_that_overruns_its_time_budget_on_hostile_text_is_refused():
    with pytest.raises(ValueError, match="took longer than 50 ms"):
        pattern_time_check(OVERLAPPING, timeout=0.05)


@pytest.mark.parametrize(
    "pattern",
    ["pinlimiet", r"re:limiet\s+verhog", r"re:\bpin(pas|code)\b", "re:a.{0,100}b"],
)
def test_ordinary_patterns_pass_the_time_check(pattern):
    pattern_time_check(pattern, timeout=0.05)


def test_an_unbounded_gap_is_refused_as_it_is_quadratic_on_a_long_post():
    with pytest.raises(ValueError, match=r"like \.\{0,100\} instead of \.\*"):
        pattern_time_check("re:a.*b", timeout=0.05)


def test_a_pattern_that_times_out_on_a_mention_sends_it_to_review():
    rules = [rule(7, "ignore", patterns=(OVERLAPPING,)), rule(8, "engage")]
    text = "zqxj" + " " * 100_000 + "!"

    started = time.monotonic()
    decision = decide(rules, make_facts(text=text), pattern_timeout=0.05)

    assert time.monotonic() - started < 5
    assert decision.outcome == "review"
    assert decision.timed_out_rule_ids == (7,)
    assert "ran out of time" in decision.reason
