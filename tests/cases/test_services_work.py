"""Opening, the dialogue, replies, notes, changes, structural issues and merging."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases import services
from cases.models import Case, CaseEvent, CaseStatus, Commitment, EventKind, Reply
from cases.selectors import structural_cases, structural_issues_by_topic
from cases.services import CaseError, InvalidTransition
from tests.factories import MentionFactory, TopicFactory

pytestmark = pytest.mark.django_db


def test_opening_from_a_mention_takes_its_author_channel_and_dialogue(team):
    mention = MentionFactory(likes=10, reposts=5, replies=1)
    case = services.case_open(
        subject="  Pinpas\nkwijt  ",
        mention=mention,
        team=team,
        actor_label="system:triage",
    )
    case.refresh_from_db()
    mention.refresh_from_db()
    assert case.subject == "Pinpas kwijt"
    assert case.customer == mention.author
    assert case.channel == mention.source.kind
    assert case.conversation_key == mention.conversation_key
    assert case.reach == 16
    assert mention.case == case
    assert case.status == CaseStatus.NEW
    kinds = list(case.events.values_list("kind", flat=True))
    assert kinds == [EventKind.CREATED, EventKind.MENTION_ADDED]
    assert case.first_response_due_at is not None
    assert case.next_due_at == case.first_response_due_at


def test_a_mention_of_another_case_cannot_open_a_new_one(team):
    mention = MentionFactory()
    first = services.case_open(subject="Eerste", mention=mention, team=team)
    with pytest.raises(CaseError, match=f"already belongs to case #{first.pk}"):
        services.case_open(subject="Tweede", mention=mention, team=team)
    assert Case.objects.count() == 1


def test_without_a_team_a_case_goes_to_the_default_team(settings, db):
    settings.WEBCARE_TEAM_NAME = "Webcare NL"
    case = services.case_open(subject="Vraag")
    assert case.team.name == "Webcare NL"


def test_a_follow_up_on_a_resolved_case_is_flagged_not_reopened(team, agent):
    case = services.case_open(subject="Vraag", team=team, channel="x_search")
    services.case_reply(case=case, agent=agent, text="Gedaan!")
    services.case_resolve(case=case, actor=agent)
    services.case_add_mention(case=case, mention=MentionFactory(), actor_label="t")
    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED
    assert case.events.filter(kind=EventKind.FOLLOW_UP).count() == 1


def test_a_mention_for_a_merged_case_joins_the_case_it_was_merged_into(team, manager):
    into = services.case_open(subject="Origineel", team=team)
    duplicate = services.case_open(subject="Dubbel", team=team)
    services.case_merge(duplicate=duplicate, into=into, actor=manager)
    mention = MentionFactory()
    result = services.case_add_mention(case=duplicate, mention=mention, actor_label="t")
    mention.refresh_from_db()
    assert result == into
    assert mention.case == into


def test_a_closed_case_takes_no_new_mentions(team, agent):
    case = services.case_close(
        case=services.case_open(subject="Spam", team=team), reason="spam", actor=agent
    )
    mention = MentionFactory()
    with pytest.raises(InvalidTransition, match="is closed; open a new case"):
        services.case_add_mention(case=case, mention=mention, actor=agent)
    mention.refresh_from_db()
    assert mention.case is None


def test_a_reply_is_signed_with_the_first_name_and_sets_the_first_response(
    team, agent, clock
):
    mention = MentionFactory()
    case = services.case_open(subject="Vraag", mention=mention, team=team)
    clock.advance(timedelta(minutes=12))
    reply = services.case_reply(
        case=case,
        agent=agent,
        text="Vervelend! Stuur je ons een DM?",
        in_reply_to=mention,
        is_private=False,
    )
    case.refresh_from_db()
    assert reply.signature == "Anna"
    assert reply.channel == mention.source.kind
    assert reply.sent_at == clock.now
    assert case.first_response_at == clock.now
    assert case.assignee == agent
    assert case.status == CaseStatus.OPEN
    event = case.events.get(kind=EventKind.REPLIED)
    assert event.data["first_response"] is True
    assert event.data["signature"] == "Anna"
    assert event.actor == agent
    # A second reply does not move the first response.
    clock.advance(timedelta(minutes=30))
    services.case_reply(
        case=case, agent=agent, text="Gelukt?", is_private=True, channel="x_search"
    )
    case.refresh_from_db()
    assert case.first_response_at == clock.now - timedelta(minutes=30)
    assert Reply.objects.filter(case=case).count() == 2
    assert (
        case.events.filter(kind=EventKind.REPLIED).last().data["first_response"]
        is False
    )


def test_a_reply_must_answer_a_mention_of_its_own_case(team, agent):
    case = services.case_open(subject="Vraag", team=team, channel="x_search")
    stranger = MentionFactory()
    with pytest.raises(CaseError, match="must answer a mention of this case"):
        services.case_reply(case=case, agent=agent, text="Hoi", in_reply_to=stranger)
    with pytest.raises(CaseError, match="needs a text"):
        services.case_reply(case=case, agent=agent, text="   ")
    assert not Reply.objects.exists()


def test_a_reply_on_a_closed_case_asks_to_reopen(team, agent):
    case = services.case_close(
        case=services.case_open(subject="Vraag", team=team, channel="x_search"),
        reason="no_action",
        actor=agent,
    )
    with pytest.raises(InvalidTransition, match="reopen it first"):
        services.case_reply(case=case, agent=agent, text="Hoi")


def test_notes_are_allowed_in_any_status_and_audited(team, spokesperson, agent):
    case = services.case_close(
        case=services.case_open(subject="Vraag", team=team), reason="spam", actor=agent
    )
    note = services.case_add_note(
        case=case, author=spokesperson, text="Woordvoering: niet reageren."
    )
    event = case.events.get(kind=EventKind.NOTE_ADDED)
    assert event.data == {"note_id": note.pk}
    assert event.actor == spokesperson


def test_update_changes_topics_and_the_structural_flag_with_a_trail(team, agent):
    topic = TopicFactory(name="Mobile app")
    case = services.case_open(subject="App crasht", team=team)
    services.case_update(
        case=case,
        topics=[topic],
        is_structural=True,
        structural_note="Crash after update 8.1",
        actor=agent,
    )
    case.refresh_from_db()
    assert list(case.topics.all()) == [topic]
    assert case.is_structural
    event = case.events.get(kind=EventKind.UPDATED)
    assert event.data["changes"]["topics"] == [[], [topic.pk]]
    assert event.data["changes"]["is_structural"] == [False, True]


def test_update_refuses_fields_that_have_their_own_service(team, agent):
    case = services.case_open(subject="Vraag", team=team)
    with pytest.raises(CaseError, match="status"):
        services.case_update(case=case, status="resolved", actor=agent)
    with pytest.raises(CaseError, match="Unknown priority"):
        services.case_update(case=case, priority="whenever", actor=agent)


def test_raising_the_priority_brings_the_due_times_forward(team, agent, clock):
    case = services.case_open(subject="Vraag", team=team, channel="x_search")
    normal_due = case.first_response_due_at
    services.case_update(case=case, priority="urgent", actor=agent)
    case.refresh_from_db()
    assert case.first_response_due_at == clock.now + timedelta(minutes=30)
    assert case.first_response_due_at < normal_due
    assert case.next_due_at == case.first_response_due_at
    assert case.events.get(kind=EventKind.PRIORITY_CHANGED).data == {
        "from": "normal",
        "to": "urgent",
    }


def test_merging_moves_mentions_topics_and_promises_and_closes_the_duplicate(
    team, agent, manager
):
    topic = TopicFactory(name="Fees")
    into = services.case_open(
        subject="Kosten", mention=MentionFactory(likes=3), team=team
    )
    duplicate = services.case_open(
        subject="Kosten (2)", mention=MentionFactory(likes=4), team=team
    )
    services.case_update(case=duplicate, topics=[topic], actor=agent)
    promise = services.commitment_make(
        case=duplicate,
        owner=agent,
        description="Bel terug",
        due_at=timezone.now() + timedelta(hours=3),
        actor=agent,
    )
    result = services.case_merge(duplicate=duplicate, into=into, actor=manager)
    duplicate.refresh_from_db()
    into.refresh_from_db()
    assert result == into
    assert duplicate.status == CaseStatus.CLOSED
    assert duplicate.close_reason == "duplicate"
    assert duplicate.merged_into == into
    assert into.mentions.count() == 2
    assert into.reach == 7
    assert list(into.topics.all()) == [topic]
    assert Commitment.objects.get(pk=promise.pk).case == into
    assert CaseEvent.objects.filter(kind=EventKind.MERGED).count() == 2
    with pytest.raises(InvalidTransition, match="already closed .merged into"):
        services.case_merge(duplicate=duplicate, into=into, actor=manager)
    with pytest.raises(InvalidTransition, match="merged into case"):
        services.case_reopen(case=duplicate, actor=manager)


def test_a_case_cannot_be_merged_into_itself_or_a_closed_case(team, manager):
    case = services.case_open(subject="Een", team=team)
    with pytest.raises(CaseError, match="into itself"):
        services.case_merge(duplicate=case, into=case, actor=manager)
    closed = services.case_close(
        case=services.case_open(subject="Twee", team=team), reason="spam", actor=manager
    )
    with pytest.raises(InvalidTransition, match="reopen it before merging"):
        services.case_merge(duplicate=case, into=closed, actor=manager)


def test_structural_issues_are_listed_by_topic(team, agent, clock):
    app, fees = TopicFactory(name="Mobile app"), TopicFactory(name="Fees")
    start = clock.now
    for subject, topics, structural in [
        ("Crash 1", [app], True),
        ("Crash 2", [app], True),
        ("Kosten", [fees], True),
        ("Vraag", [app], False),
        ("Geen topic", [], True),
    ]:
        case = services.case_open(subject=subject, team=team)
        services.case_update(
            case=case, topics=topics, is_structural=structural, actor=agent
        )
        clock.advance(timedelta(minutes=1))
    clock.advance(timedelta(days=40))
    later = services.case_open(subject="Crash later", team=team)
    services.case_update(case=later, topics=[fees], is_structural=True, actor=agent)
    rows = list(structural_issues_by_topic(start, start + timedelta(days=1)))
    assert [(topic.name, topic.case_count) for topic in rows] == [
        ("Mobile app", 2),
        ("Fees", 1),
    ]
    assert rows[0].active_count == 2
    assert rows[0].first_case_at == start
    period = structural_cases(start, start + timedelta(days=1))
    assert period.count() == 4
    assert period.filter(topics=None).count() == 1


def test_the_crm_hears_of_opened_assigned_escalated_and_resolved_cases(team, agent):
    from webcare.api.models import ApiClient, Webhook, WebhookDelivery

    client = ApiClient.objects.create(
        name="crm", token_prefix="abc", token_hash="1" * 64, scopes=["read"]
    )
    Webhook.objects.create(
        client=client,
        url="http://127.0.0.1:9/hook",
        events=["case.opened", "case.assigned", "case.escalated", "case.resolved"],
        secret="s3cret",
    )
    case = services.case_open(subject="Vraag", team=team, channel="x_search")
    services.case_assign(case=case, assignee=agent, actor=agent)
    escalation = services.case_escalate(
        case=case, department="offices", reason="Kantoor", actor=agent
    )
    services.escalation_resolve(escalation=escalation, note="Gebeld", actor_label="t")
    services.case_resolve(case=case, actor=agent)
    assert list(
        WebhookDelivery.objects.order_by("id").values_list("event", flat=True)
    ) == ["case.opened", "case.assigned", "case.escalated", "case.resolved"]
