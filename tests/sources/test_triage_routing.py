"""Every stored mention is triaged, routed by the rules of engagement, and explained."""

import pytest
from django.test.utils import override_settings

from cases.models import Case, CaseEvent, Escalation
from sources.models import EngagementRule, Mention, TriageStatus
from sources.triage.services import (
    TriageError,
    mention_review,
    mention_triage,
    rule_specs,
)
from tests.factories import AuthorFactory, MentionFactory, SourceFactory, UserFactory

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
OPINION = "Die nieuwe kleur van de app vind ik niks, oranje was mooier 🤷"
PHISHING = "@oranjebank er is een nep account @oranjebank_help dat mensen DM't om hun inlogcodes"
OTHER = "Oranjebank sponsort dit jaar het schaatstoernooi in Heerenveen"
VAGUE = "@oranjebank mijn pinpas werkt niet meer, wat nu?"


def triaged(mention: Mention) -> Mention:
    mention_triage(mention=mention)
    mention.refresh_from_db()
    return mention


def test_the_default_rules_ship_in_order():
    rules = list(EngagementRule.objects.order_by("position"))
    assert [rule.position for rule in rules] == [10, 20, 30, 40, 50, 60, 70, 80]
    assert rules[0].name == "Phishing report"
    assert rules[0].also_escalate_to == "security"
    assert [spec.name for spec in rule_specs()] == [rule.name for rule in rules]


def test_engage_opens_a_case_with_the_decisions_priority_and_explanation():
    mention = triaged(MentionFactory(text=COMPLAINT))

    assert mention.triage_status == TriageStatus.ENGAGED
    assert mention.outcome == "engage"
    assert mention.category == "complaint"
    assert mention.confidence > 0.6
    assert mention.rule.name == "Complaint"
    assert mention.triage_reason == "a customer has a problem: help before it grows"
    assert mention.triaged_at is not None
    signals = mention.triage_signals
    assert signals["classification"]["category"] == "complaint"
    assert signals["decision"]["rule_name"] == "Complaint"
    assert any("matched" in line for line in signals["decision"]["explanation"])
    case = mention.case
    assert case is not None
    assert case.priority == "high"
    assert case.category == "complaint"
    assert case.channel == mention.source.kind
    assert case.customer == mention.author
    assert case.conversation_key == mention.conversation_key
    kinds = list(case.events.values_list("kind", "actor_label"))
    assert ("created", "system:triage") in kinds
    assert ("mention_added", "system:triage") in kinds


def test_a_second_mention_of_the_same_conversation_joins_the_case():
    first = triaged(MentionFactory(text=QUESTION, conversation_key="x:1"))
    other_author = AuthorFactory()
    second = triaged(
        MentionFactory(text=COMPLAINT, conversation_key="x:1", author=other_author)
    )

    assert second.case_id == first.case_id
    assert Case.objects.count() == 1
    case = Case.objects.get()
    # The complaint is more urgent than the question: the case is raised, not lowered.
    assert case.priority == "high"
    assert set(case.mentions.values_list("pk", flat=True)) == {first.pk, second.pk}
    assert case.events.filter(kind="mention_added").count() == 2


def test_the_same_authors_next_mention_joins_the_open_case():
    author = AuthorFactory()
    first = triaged(MentionFactory(text=COMPLAINT, author=author))
    second = triaged(MentionFactory(text=QUESTION_2, author=author))

    assert first.conversation_key != second.conversation_key
    assert second.case_id == first.case_id
    assert Case.objects.count() == 1
    # Joining with a lower priority leaves the case as it was.
    assert Case.objects.get().priority == "high"


def test_a_resolved_dialogue_gets_a_new_case():
    author = AuthorFactory()
    first = triaged(MentionFactory(text=COMPLAINT, author=author))
    Case.objects.filter(pk=first.case_id).update(
        status="closed", closed_at=first.triaged_at
    )
    second = triaged(MentionFactory(text=QUESTION, author=author))

    assert second.case_id not in (None, first.case_id)


def test_review_goes_to_the_spokespeoples_queue():
    mention = triaged(MentionFactory(text=OTHER))

    assert mention.triage_status == TriageStatus.REVIEW
    assert mention.outcome == "review"
    assert mention.rule is None
    assert mention.triage_reason == "no rule matched"
    assert mention.case is None
    assert list(Mention.objects.review_queue()) == [mention]
    assert not Case.objects.exists()


def test_low_confidence_is_never_acted_on():
    mention = triaged(MentionFactory(text=VAGUE))

    assert mention.confidence < 0.6
    assert mention.triage_status == TriageStatus.REVIEW
    assert "when in doubt, do not act" in mention.triage_reason
    assert not Case.objects.exists()


@override_settings(WEBCARE_TRIAGE_MIN_CONFIDENCE=0.95)
def test_the_confidence_floor_comes_from_settings():
    mention = triaged(MentionFactory(text=COMPLAINT))

    assert mention.triage_status == TriageStatus.REVIEW
    assert "below 0.95" in mention.triage_reason


def test_ignore_stays_visible_with_its_reason():
    abuse = triaged(MentionFactory(text=ABUSE))
    opinion = triaged(MentionFactory(text=OPINION))

    assert abuse.triage_status == TriageStatus.IGNORED
    assert abuse.triage_reason == "abuse is never answered"
    assert opinion.triage_status == TriageStatus.IGNORED
    assert opinion.triage_reason == "sentiment/preference: nothing to win"
    assert not Case.objects.exists()
    # Still stored and searchable.
    assert Mention.objects.filter(text__icontains="klootzakken").get() == abuse


def test_phishing_opens_a_case_and_a_security_escalation():
    mention = triaged(MentionFactory(text=PHISHING))

    assert mention.triage_status == TriageStatus.ENGAGED
    case = mention.case
    assert case.priority == "urgent"
    assert case.status == "escalated"
    escalation = Escalation.objects.get(case=case)
    assert escalation.department == "security"
    assert "phishing" in escalation.reason
    assert case.events.filter(kind="escalated", data__department="security").exists()


def test_a_second_phishing_report_in_the_dialogue_does_not_escalate_twice():
    author = AuthorFactory()
    triaged(MentionFactory(text=PHISHING, author=author))
    triaged(
        MentionFactory(
            text="Pas op! Nep-mail van Oranjebank in omloop over een "
            "'beveiligingsupdate'. Niet klikken!",
            author=author,
        )
    )

    assert Case.objects.count() == 1
    assert Escalation.objects.count() == 1


def test_an_escalate_rule_opens_a_case_and_escalates_to_its_department():
    EngagementRule.objects.create(
        name="Press about offices",
        position=5,
        categories=["factual_inaccuracy"],
        patterns="kantoren",
        outcome="escalate",
        department="pr",
        priority="high",
        reason="a wrong story about offices goes to the spokespeople",
    )
    mention = triaged(
        MentionFactory(
            text="Oranjebank gaat volgende maand al zijn kantoren sluiten, las ik net"
        )
    )

    assert mention.outcome == "escalate"
    assert mention.rule.name == "Press about offices"
    assert mention.triage_status == TriageStatus.ENGAGED
    assert mention.case.escalations.get().department == "pr"


def test_rules_are_tried_in_position_order_from_the_database():
    EngagementRule.objects.create(
        name="Limit questions are doubtful",
        position=45,
        categories=["question"],
        patterns="pinlimiet",
        outcome="review",
        reason="limits changed last week: spokespeople check first",
    )
    mention = triaged(MentionFactory(text=QUESTION))
    assert mention.triage_status == TriageStatus.REVIEW
    assert mention.rule.name == "Limit questions are doubtful"

    EngagementRule.objects.filter(name="Limit questions are doubtful").update(
        position=55
    )
    later = triaged(MentionFactory(text=QUESTION))
    assert later.triage_status == TriageStatus.ENGAGED
    assert later.rule.name == "Question"


def test_an_inactive_rule_is_not_used():
    EngagementRule.objects.filter(name="Abuse").update(is_active=False)
    mention = triaged(MentionFactory(text=ABUSE))

    assert mention.triage_status == TriageStatus.REVIEW
    assert mention.triage_reason == "no rule matched"


def test_a_blocked_author_is_never_engaged_automatically():
    mention = triaged(
        MentionFactory(text=COMPLAINT, author=AuthorFactory(is_blocked=True))
    )

    assert mention.triage_status == TriageStatus.REVIEW
    assert mention.outcome == "review"
    assert "blocked" in mention.triage_reason
    assert not Case.objects.exists()


def test_a_watch_list_author_raises_the_priority_and_reach_is_counted():
    EngagementRule.objects.create(
        name="Viral questions",
        position=1,
        categories=["question"],
        min_reach=100,
        outcome="engage",
        priority="high",
        reason="many people see this",
    )
    journalist = AuthorFactory(is_journalist=True)
    quiet = triaged(MentionFactory(text=QUESTION, likes=40, reposts=30, replies=29))
    assert quiet.rule.name == "Question"
    assert quiet.case.priority == "normal"

    loud = triaged(
        MentionFactory(
            text=QUESTION_2, author=journalist, likes=50, reposts=40, replies=10
        )
    )
    assert loud.rule.name == "Viral questions"
    assert loud.triage_signals["facts"]["reach"] == 100
    assert loud.triage_signals["facts"]["author_flags"] == ["journalist"]
    assert loud.case.priority == "urgent"


def test_triage_is_idempotent():
    mention = MentionFactory(text=COMPLAINT)
    first = mention_triage(mention_id=mention.pk)
    events = CaseEvent.objects.count()
    second = mention_triage(mention_id=mention.pk)

    assert first is not None and first.outcome == "engage"
    assert second is None
    assert Case.objects.count() == 1
    assert CaseEvent.objects.count() == events


def test_a_broken_rule_stops_triage_instead_of_being_skipped():
    EngagementRule.objects.create(
        name="Broken", position=1, patterns="re:(a+)+$", outcome="ignore"
    )
    mention = MentionFactory(text=COMPLAINT)

    with pytest.raises(TriageError, match="Broken"):
        mention_triage(mention=mention)
    mention.refresh_from_db()
    assert mention.triage_status == TriageStatus.PENDING


def test_hostile_text_is_stored_as_plain_text_in_the_subject():
    text = "<script>alert(1)</script> @oranjebank mijn overboeking is nog steeds niet aangekomen, en niemand helpt me\x00"
    mention = triaged(MentionFactory(text=text.replace("\x00", "")))

    assert mention.case.subject.startswith("<script>")
    assert len(mention.case.subject) <= 120


# --- Review -------------------------------------------------------------------------


def spokesperson():
    return UserFactory(username="woordvoerder", groups=["spokesperson"])


def test_a_spokesperson_engages_a_review_item():
    mention = triaged(MentionFactory(text=VAGUE))
    reviewer = spokesperson()

    mention_review(mention=mention, outcome="engage", reviewer=reviewer, note="klant")

    mention.refresh_from_db()
    assert mention.triage_status == TriageStatus.REVIEWED
    assert mention.outcome == "engage"
    assert mention.reviewed_by == reviewer
    assert mention.reviewed_at is not None
    assert mention.triage_reason == "reviewed by woordvoerder: engage (klant)"
    assert mention.triage_signals["review"]["note"] == "klant"
    # The earlier explanation is kept next to the review.
    assert mention.triage_signals["classification"]["category"] == mention.category
    case = mention.case
    assert case is not None
    assert case.events.filter(
        kind="created", actor_label="system:triage (reviewed by woordvoerder)"
    ).exists()


def test_engaging_a_doubtful_phishing_report_still_tells_security():
    mention = MentionFactory(text=PHISHING)
    with override_settings(WEBCARE_TRIAGE_MIN_CONFIDENCE=1.0):
        mention = triaged(mention)
    assert mention.triage_status == TriageStatus.REVIEW

    mention_review(mention=mention, outcome="engage", reviewer=spokesperson())

    mention.refresh_from_db()
    assert mention.case.priority == "urgent"
    assert mention.case.escalations.get().department == "security"


def test_a_spokesperson_ignores_a_review_item():
    mention = triaged(MentionFactory(text=OTHER))

    mention_review(mention=mention, outcome="ignore", reviewer=spokesperson())

    mention.refresh_from_db()
    assert mention.triage_status == TriageStatus.REVIEWED
    assert mention.outcome == "ignore"
    assert mention.case is None
    assert not Mention.objects.review_queue().exists()


def test_a_review_item_is_settled_once():
    mention = triaged(MentionFactory(text=OTHER))
    reviewer = spokesperson()
    mention_review(mention=mention, outcome="engage", reviewer=reviewer)

    with pytest.raises(TriageError, match="not waiting for review"):
        mention_review(mention=mention, outcome="ignore", reviewer=reviewer)
    assert Case.objects.count() == 1


def test_an_agent_may_not_settle_review_items():
    mention = triaged(MentionFactory(text=OTHER))
    agent = UserFactory(username="agent1", groups=["agent"])

    with pytest.raises(TriageError, match="may not"):
        mention_review(mention=mention, outcome="engage", reviewer=agent)
    mention.refresh_from_db()
    assert mention.triage_status == TriageStatus.REVIEW


def test_source_kind_is_the_cases_channel():
    source = SourceFactory(kind="mastodon")
    mention = triaged(MentionFactory(text=COMPLAINT, source=source))
    assert mention.case.channel == "mastodon"
