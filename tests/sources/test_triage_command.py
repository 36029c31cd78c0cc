"""`manage.py triage` explains how a text would be triaged today and stores nothing."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sources.models import EngagementRule

pytestmark = pytest.mark.django_db

PHISHING = "@oranjebank er is een nep account @oranjebank_help dat mensen DM't om hun inlogcodes"


def run(*args) -> tuple[str, list[str]]:
    out = StringIO()
    with CaptureQueriesContext(connection) as queries:
        call_command("triage", *args, stdout=out)
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    return out.getvalue(), writes


def test_it_explains_a_text_in_words_and_writes_nothing():
    output, writes = run("--text", PHISHING)

    assert writes == []
    assert "category:   phishing" in output
    assert "rule:       Phishing report" in output
    assert "outcome:    engage (priority urgent)" in output
    assert "escalate:   security" in output
    assert "ph:" in output  # the classifier's signals are listed


def test_it_prints_json_with_the_watch_list_and_reach():
    EngagementRule.objects.create(
        name="Viral questions",
        position=1,
        categories=["question"],
        min_reach=500,
        outcome="engage",
        priority="high",
    )
    text = "@oranjebank hoe kan ik mijn dagelijkse pinlimiet verhogen in de app?"

    output, writes = run(
        "--text", text, "--author-flags", "journalist,vip", "--reach", "600", "--json"
    )

    assert writes == []
    data = json.loads(output)
    assert data["classification"]["category"] == "question"
    assert data["decision"]["rule_name"] == "Viral questions"
    assert data["decision"]["priority"] == "urgent"
    assert data["decision"]["outcome"] == "engage"
    assert data["decision"]["explanation"][-1] == "outcome engage, priority urgent"


def test_it_shows_the_review_fallback():
    output, _ = run("--text", "Oranjebank sponsort dit jaar het schaatstoernooi")

    assert "rule:       (none: review fallback)" in output
    assert "outcome:    review" in output


def test_it_rejects_unknown_author_flags():
    with pytest.raises(CommandError, match="Unknown author flags: famous"):
        call_command("triage", "--text", "x", "--author-flags", "famous")
