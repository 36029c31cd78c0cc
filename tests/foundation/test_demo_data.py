import pytest
from django.core.management import call_command
from django.utils import timezone

from cases.models import (
    ApprovedFact,
    Case,
    CaseEvent,
    CaseStatus,
    Escalation,
    ReplyTemplate,
)
from reporting.models import Survey
from sources.models import Mention, TriageStatus

pytestmark = pytest.mark.django_db


def test_the_demo_shows_a_living_system(capsys):
    call_command("load_demo_data")
    assert "Demo data loaded" in capsys.readouterr().out
    # Cases in every state, each with its audit trail.
    assert set(Case.objects.values_list("status", flat=True)) == set(CaseStatus.values)
    assert not Case.objects.exclude(events__kind="created").exists()
    assert CaseEvent.objects.filter(kind="status_changed").exists()
    assert Escalation.objects.exists()
    # Mentions in both languages, triaged by the real rules: engaged, ignored, review.
    assert {"nl", "en"} <= set(Mention.objects.values_list("language", flat=True))
    statuses = set(Mention.objects.values_list("triage_status", flat=True))
    assert {TriageStatus.ENGAGED, TriageStatus.IGNORED, TriageStatus.REVIEW} <= statuses
    # Enough answered surveys for an NPS that is more than indicative.
    assert Survey.objects.answered().count() >= 30
    # Templates in both languages; a fact on offer and one past its review date.
    assert set(ReplyTemplate.objects.values_list("language", flat=True)) == {"nl", "en"}
    today = timezone.localdate()
    assert [fact.is_current(today) for fact in ApprovedFact.objects.all()] == [
        False,
        True,
    ]


def test_loading_the_demo_twice_adds_nothing(capsys):
    call_command("load_demo_data")
    counts = (Case.objects.count(), Mention.objects.count(), Survey.objects.count())
    call_command("load_demo_data")
    assert "already present" in capsys.readouterr().out
    assert counts == (
        Case.objects.count(),
        Mention.objects.count(),
        Survey.objects.count(),
    )
