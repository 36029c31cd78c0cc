"""A rule pattern that runs too long can neither be saved nor hang triage (issue 16)."""

import time

import pytest
from django.test import Client
from django.urls import reverse

import sources.admin_rules
from sources.models import EngagementRule, TriageStatus
from sources.triage.services import mention_triage
from tests.factories import MentionFactory, UserFactory

pytestmark = pytest.mark.django_db

OVERLAPPING = r"re:(.|\s)*zqxj"


def browser() -> Client:
    web = Client()
    web.force_login(UserFactory(username="staff-spokesperson", groups=["spokesperson"]))
    return web


def rule_form(**overrides) -> dict:
    data = {
        "name": "Odd words",
        "position": "1",
        "is_active": "on",
        "description": "",
        "patterns": "pinlimiet",
        "min_reach": "",
        "outcome": "ignore",
        "priority": "normal",
        "reason": "",
        "department": "",
        "also_escalate_to": "",
    }
    data.update(overrides)
    return data


def test_it_refuses_a_pattern_that_runs_too_long_on_hostile_text():
    response = browser().post(
        reverse("admin:sources_engagementrule_add"), rule_form(patterns=OVERLAPPING)
    )

    assert response.status_code == 200
    content = response.content.decode()
    assert "Line 1 (re:(.|\\s)*zqxj): regular expression refused" in content
    assert "took longer than 50 ms" in content
    assert not EngagementRule.objects.filter(name="Odd words").exists()


def test_a_pattern_that_slips_past_cannot_hang_triage(monkeypatch):
    # As if the check at save missed it (a slower text than the test corpus).
    monkeypatch.setattr(
        sources.admin_rules, "pattern_time_check", lambda pattern, timeout: None
    )
    saved = browser().post(
        reverse("admin:sources_engagementrule_add"), rule_form(patterns=OVERLAPPING)
    )
    assert saved.status_code == 302
    rule = EngagementRule.objects.get(name="Odd words")
    mention = MentionFactory(text="zqxj" + " " * 100_000 + "!")

    started = time.monotonic()
    decision = mention_triage(mention=mention)

    assert time.monotonic() - started < 10
    assert decision.outcome == "review"
    assert mention.triage_status == TriageStatus.REVIEW
    assert "ran out of time" in mention.triage_reason
    rule.refresh_from_db()
    assert rule.pattern_timeouts == 1
    assert rule.last_pattern_timeout_at is not None
    listing = browser().get(reverse("admin:sources_engagementrule_changelist"))
    assert "timed out 1" in listing.content.decode()
