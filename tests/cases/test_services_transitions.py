"""Every move of the case state machine through the services, legal and illegal."""

import pytest

from cases import services
from cases.models import (
    CASE_TRANSITIONS,
    Case,
    CaseEvent,
    CaseStatus,
    CloseReason,
    EscalationStatus,
    EventKind,
)
from cases.services import CaseError, InvalidTransition
from tests.factories import AuthorFactory, MentionFactory

pytestmark = pytest.mark.django_db


def case_in(status, *, agent, team):
    """A case brought into `status` through the services only."""
    case = services.case_open(
        subject="Pinpas werkt niet",
        customer=AuthorFactory(),
        team=team,
        channel="x_search",
    )
    if status == CaseStatus.NEW:
        return case
    case = services.case_assign(case=case, assignee=agent, actor=agent)
    if status == CaseStatus.WAITING:
        services.case_reply(case=case, agent=agent, text="Stuur je ons een DM?")
        case = services.case_wait_for_customer(case=case, actor=agent)
    elif status == CaseStatus.ESCALATED:
        services.case_escalate(
            case=case,
            department="customer_service",
            reason="Needs account",
            actor=agent,
        )
    elif status == CaseStatus.RESOLVED:
        case = services.case_resolve(case=case, actor=agent)
    elif status == CaseStatus.CLOSED:
        case = services.case_close(case=case, reason=CloseReason.NO_ACTION, actor=agent)
    case.refresh_from_db()
    assert case.status == status
    return case


ACTIONS = {
    "wait": lambda case, user: services.case_wait_for_customer(case=case, actor=user),
    "escalate": lambda case, user: services.case_escalate(
        case=case, department="security", reason="Phishing link", actor=user
    ),
    "resolve": lambda case, user: services.case_resolve(case=case, actor=user),
    "close": lambda case, user: services.case_close(
        case=case, reason=CloseReason.SPAM, actor=user
    ),
    "reopen": lambda case, user: services.case_reopen(
        case=case, reason="customer came back", actor=user
    ),
}
S = CaseStatus
# status -> action -> the status afterwards, or the error raised.
EXPECTED = {
    S.NEW: {
        "wait": InvalidTransition,
        "escalate": S.ESCALATED,
        "resolve": InvalidTransition,
        "close": S.CLOSED,
        "reopen": InvalidTransition,
    },
    S.OPEN: {
        "wait": S.WAITING,
        "escalate": S.ESCALATED,
        "resolve": S.RESOLVED,
        "close": S.CLOSED,
        "reopen": InvalidTransition,
    },
    S.WAITING: {
        "wait": InvalidTransition,
        "escalate": S.ESCALATED,
        "resolve": S.RESOLVED,
        "close": S.CLOSED,
        "reopen": InvalidTransition,
    },
    S.ESCALATED: {
        "wait": S.WAITING,
        "escalate": S.ESCALATED,
        # The state machine allows it, but not while a department still works on it.
        "resolve": CaseError,
        "close": CaseError,
        "reopen": InvalidTransition,
    },
    S.RESOLVED: {
        "wait": InvalidTransition,
        "escalate": InvalidTransition,
        "resolve": InvalidTransition,
        "close": S.CLOSED,
        "reopen": S.OPEN,
    },
    S.CLOSED: {
        "wait": InvalidTransition,
        "escalate": InvalidTransition,
        "resolve": InvalidTransition,
        "close": InvalidTransition,
        "reopen": S.OPEN,
    },
}


@pytest.mark.parametrize(
    ("status", "action"),
    [(status, action) for status in EXPECTED for action in ACTIONS],
)
def test_it_follows_the_state_machine(status, action, agent, team):
    case = case_in(status, agent=agent, team=team)
    events_before = CaseEvent.objects.filter(case=case).count()
    expected = EXPECTED[status][action]
    if isinstance(expected, type):
        with pytest.raises(expected) as error:
            ACTIONS[action](case, agent)
        assert str(error.value).endswith(".")
        case.refresh_from_db()
        assert case.status == status
        assert CaseEvent.objects.filter(case=case).count() == events_before
        return
    ACTIONS[action](case, agent)
    case.refresh_from_db()
    assert case.status == expected
    if expected != status:
        event = CaseEvent.objects.filter(
            case=case, kind=EventKind.STATUS_CHANGED
        ).last()
        assert event.data["from"] == status
        assert event.data["to"] == expected
        assert event.actor == agent


def test_the_expected_moves_agree_with_the_model_map():
    targets = {
        "wait": S.WAITING,
        "escalate": S.ESCALATED,
        "resolve": S.RESOLVED,
        "close": S.CLOSED,
        "reopen": S.OPEN,
    }
    for status, outcomes in EXPECTED.items():
        for action, outcome in outcomes.items():
            if not isinstance(outcome, type) and outcome != status:
                assert targets[action] in CASE_TRANSITIONS[status], (status, action)


@pytest.mark.parametrize(
    ("status", "action", "message"),
    [
        (S.CLOSED, "resolve", "A closed case cannot be resolved; reopen it first."),
        (S.RESOLVED, "resolve", "is already resolved."),
        (S.NEW, "resolve", "A new case cannot be resolved; assign it or reply first."),
        (S.NEW, "wait", "cannot be set to wait for the customer; assign it or reply"),
        (S.OPEN, "reopen", "Only a resolved or closed case can be reopened"),
        (S.CLOSED, "escalate", "A closed case cannot be escalated; reopen it first."),
        (S.ESCALATED, "resolve", "has open escalations (Customer service)"),
    ],
)
def test_it_explains_an_illegal_move(status, action, message, agent, team):
    case = case_in(status, agent=agent, team=team)
    with pytest.raises(
        CaseError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        ACTIONS[action](case, agent)


def test_assigning_a_new_case_opens_it(agent, team):
    case = case_in(S.NEW, agent=agent, team=team)
    case = services.case_assign(case=case, assignee=agent, actor=agent)
    assert case.status == S.OPEN
    kinds = list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True))
    assert kinds == [EventKind.CREATED, EventKind.STATUS_CHANGED, EventKind.ASSIGNED]


def test_a_customer_answer_puts_a_waiting_case_back_in_the_queue(agent, team):
    case = case_in(S.WAITING, agent=agent, team=team)
    mention = MentionFactory(author=case.customer)
    case = services.case_add_mention(
        case=case, mention=mention, actor_label="system:triage"
    )
    assert case.status == S.OPEN
    event = CaseEvent.objects.filter(case=case, kind=EventKind.STATUS_CHANGED).last()
    assert event.data == {
        "from": "waiting",
        "to": "open",
        "reason": "customer answered",
    }
    assert event.actor_label == "system:triage"


def test_resolving_the_last_escalation_returns_the_case_to_the_team(
    agent, team, customer_service
):
    case = case_in(S.ESCALATED, agent=agent, team=team)
    escalation = case.escalations.get()
    services.escalation_resolve(
        escalation=escalation, note="Card blocked and replaced.", actor=customer_service
    )
    case.refresh_from_db()
    escalation.refresh_from_db()
    assert case.status == S.OPEN
    assert escalation.status == EscalationStatus.RESOLVED
    # Then the team can resolve it.
    services.case_resolve(case=case, actor=agent)
    case.refresh_from_db()
    assert case.status == S.RESOLVED
    assert case.resolved_at is not None


def test_reopening_clears_the_closing_and_survey(agent, team):
    case = case_in(S.CLOSED, agent=agent, team=team)
    case = services.case_reopen(case=case, reason="Came back", actor=agent)
    case.refresh_from_db()
    assert (case.status, case.closed_at, case.resolved_at, case.close_reason) == (
        S.OPEN,
        None,
        None,
        "",
    )


def test_close_refuses_the_duplicate_reason_and_unknown_reasons(agent, team):
    case = case_in(S.OPEN, agent=agent, team=team)
    with pytest.raises(CaseError, match="merging"):
        services.case_close(case=case, reason=CloseReason.DUPLICATE, actor=agent)
    with pytest.raises(CaseError, match="Unknown close reason"):
        services.case_close(case=case, reason="bored", actor=agent)
    assert Case.objects.get(pk=case.pk).status == S.OPEN


def test_it_closes_spam_straight_from_new_and_records_the_reason(agent, team):
    case = case_in(S.NEW, agent=agent, team=team)
    services.case_close(case=case, reason=CloseReason.SPAM, actor_label="api:crm")
    case.refresh_from_db()
    assert case.status == S.CLOSED
    assert case.close_reason == CloseReason.SPAM
    assert case.next_due_at is None
    event = CaseEvent.objects.filter(case=case, kind=EventKind.STATUS_CHANGED).get()
    assert event.actor is None
    assert event.actor_label == "api:crm"
    assert event.data["reason"] == "spam"
