"""Trying a rule on past mentions before it goes live ("toetsen") writes nothing."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import sources.triage.services.dry_run
from sources.models import EngagementRule, Mention
from sources.triage.rules import RuleSpec
from sources.triage.services import (
    TriageError,
    dry_run_result_as_dict,
    rule_dry_run_start,
    triage_dry_run,
)
from sources.triage.tasks import rule_dry_run as rule_dry_run_task
from tests.factories import MentionFactory

pytestmark = pytest.mark.django_db

QUESTION = "@oranjebank hoe kan ik mijn dagelijkse pinlimiet verhogen in de app?"
QUESTION_2 = (
    "@oranjebank wanneer wordt mijn salaris bijgeschreven als de 25e op zaterdag valt?"
)
COMPLAINT = (
    "@oranjebank mijn overboeking van vorige week is nog steeds niet aangekomen, "
    "en niemand helpt me"
)
ABUSE = "Stelletje klootzakken bij @oranjebank, ik haat jullie"


def writes_during(function):
    with CaptureQueriesContext(connection) as queries:
        result = function()
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    return result, writes


def test_a_new_rule_shows_which_mentions_change_and_writes_nothing():
    limit_questions = [MentionFactory(text=QUESTION) for _ in range(3)]
    MentionFactory(text=QUESTION_2)
    MentionFactory(text=COMPLAINT)
    candidate = EngagementRule(
        name="Limits: check first",
        position=45,
        categories=["question"],
        patterns="pinlimiet\nre:limiet\\s+verhog",
        outcome="review",
        reason="limits changed last week",
    )
    rules_before = EngagementRule.objects.count()

    result, writes = writes_during(
        lambda: triage_dry_run(rule_candidate=candidate, last_n=500)
    )

    assert writes == []
    assert EngagementRule.objects.count() == rules_before
    assert candidate.pk is None
    assert result.examined == 5
    assert result.changed == 3
    assert result.candidate_decides == 3
    assert result.transitions == {"engage -> review": 3}
    assert {example.mention_id for example in result.examples} == {
        m.pk for m in limit_questions
    }
    example = result.examples[0]
    assert (example.old_outcome, example.old_rule) == ("engage", "Question")
    assert (example.new_outcome, example.new_rule) == ("review", "Limits: check first")
    assert example.new_reason == "limits changed last week"


def test_a_rule_placed_after_the_deciding_rule_changes_nothing():
    MentionFactory(text=QUESTION)
    candidate = RuleSpec(
        id=None, name="Late", outcome="ignore", categories=frozenset({"question"})
    )

    result = triage_dry_run(rule_candidate=candidate, position=999)

    assert result.changed == 0
    assert result.candidate_decides == 0
    assert result.examples == ()


def test_replacing_a_rule_compares_with_the_stored_version():
    MentionFactory(text=ABUSE)
    MentionFactory(text=COMPLAINT)
    abuse = EngagementRule.objects.get(name="Abuse")
    abuse.outcome = "review"  # edited in the form, not saved

    result = triage_dry_run(rule_candidate=abuse, replace_rule_id=abuse.pk)

    assert result.transitions == {"ignore -> review": 1}
    assert EngagementRule.objects.get(pk=abuse.pk).outcome == "ignore"


def test_switching_an_inactive_rule_on_and_an_active_one_off():
    MentionFactory(text=COMPLAINT)
    MentionFactory(text=ABUSE)
    inactive = EngagementRule.objects.create(
        name="Complaints need a look",
        position=1,
        categories=["complaint"],
        outcome="review",
        is_active=False,
    )

    switch_on = triage_dry_run(rule_candidate=inactive, replace_rule_id=inactive.pk)
    abuse = EngagementRule.objects.get(name="Abuse")
    switch_off = triage_dry_run(
        rule_candidate=abuse, replace_rule_id=abuse.pk, switch_off=True
    )

    assert switch_on.transitions == {"engage -> review": 1}
    assert switch_off.transitions == {"ignore -> review": 1}
    assert switch_off.candidate_decides == 1


def test_only_the_last_n_mentions_are_tried_and_examples_are_capped():
    for _ in range(30):
        MentionFactory(text=QUESTION)
    candidate = RuleSpec(
        id=None,
        name="All questions",
        outcome="ignore",
        categories=frozenset({"question"}),
    )

    result = triage_dry_run(rule_candidate=candidate, position=1, last_n=25)

    assert result.examined == 25
    assert result.changed == 25
    assert len(result.examples) == 20
    newest = set(
        Mention.objects.order_by("-first_seen_at", "-id").values_list("pk", flat=True)[
            :25
        ]
    )
    assert {example.mention_id for example in result.examples} <= newest


def test_an_invalid_candidate_is_refused():
    with pytest.raises(TriageError, match="cannot be used"):
        triage_dry_run(
            rule_candidate=EngagementRule(name="x", outcome="escalate", position=1)
        )


# --- In the background (issue 16) ----------------------------------------------------


def limits_candidate() -> dict:
    return {
        "name": "Limits: check first",
        "position": 45,
        "is_active": True,
        "categories": ["question"],
        "patterns": "pinlimiet",
        "outcome": "review",
        "reason": "limits changed last week",
    }


def test_the_dry_run_reports_progress_as_it_goes():
    for _ in range(3):
        MentionFactory(text=QUESTION)
    MentionFactory(text=COMPLAINT)
    seen = []

    triage_dry_run(
        rule_candidate=EngagementRule(**limits_candidate()),
        progress=lambda done, total: seen.append((done, total)),
        progress_every=2,
    )

    assert seen == [(2, 4), (4, 4)]


def test_a_dry_run_in_the_background_gives_the_same_result(
    django_capture_on_commit_callbacks,
):
    for _ in range(3):
        MentionFactory(text=QUESTION)
    MentionFactory(text=COMPLAINT)
    expected = triage_dry_run(rule_candidate=EngagementRule(**limits_candidate()))

    with django_capture_on_commit_callbacks() as callbacks:
        dry_run = rule_dry_run_start(mode="edited", candidate=limits_candidate())
    assert (dry_run.status, dry_run.done) == ("queued", 0)
    assert len(callbacks) == 1
    rule_dry_run_task(dry_run.pk)

    dry_run.refresh_from_db()
    assert (dry_run.status, dry_run.done, dry_run.total) == ("done", 4, 4)
    assert dry_run.result == dry_run_result_as_dict(expected)
    assert dry_run.result["changed"] == 3
    # Run twice (a redelivered task): nothing changes.
    rule_dry_run_task(dry_run.pk)
    dry_run.refresh_from_db()
    assert dry_run.result == dry_run_result_as_dict(expected)


def test_a_dry_run_with_a_broken_stored_rule_fails_with_the_reason():
    MentionFactory(text=QUESTION)
    EngagementRule.objects.create(
        name="Broken", position=1, patterns="re:(x+)+y", outcome="ignore"
    )
    dry_run = rule_dry_run_start(mode="edited", candidate=limits_candidate())

    rule_dry_run_task(dry_run.pk)

    dry_run.refresh_from_db()
    assert dry_run.status == "failed"
    assert "Rule 1. Broken cannot be used" in dry_run.last_error


def test_a_dry_run_stops_at_its_time_budget(monkeypatch):
    for _ in range(3):
        MentionFactory(text=QUESTION)
    monkeypatch.setattr(sources.triage.services.dry_run, "DRY_RUN_TIME_BUDGET", 0)
    dry_run = rule_dry_run_start(mode="edited", candidate=limits_candidate())

    rule_dry_run_task(dry_run.pk)

    dry_run.refresh_from_db()
    assert dry_run.status == "failed"
    assert "took longer than" in dry_run.last_error
