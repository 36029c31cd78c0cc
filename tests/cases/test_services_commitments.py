"""Promises to customers ("afspraak = afspraak"): made, kept, cancelled, in the queue."""

from datetime import timedelta

import pytest

from cases import services
from cases.models import Case, CommitmentStatus, EventKind
from cases.selectors import overdue_cases
from cases.services import CaseError, InvalidTransition

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(team, agent):
    case = services.case_open(subject="Terugbelverzoek", team=team, channel="x_search")
    services.case_reply(case=case, agent=agent, text="We bellen je morgen.")
    case.refresh_from_db()
    return case


def test_a_promise_is_tracked_and_sorts_the_queue(case, agent, clock):
    due = clock.now + timedelta(minutes=45)
    commitment = services.commitment_make(
        case=case, owner=agent, description="Bel klant terug", due_at=due, actor=agent
    )
    case.refresh_from_db()
    assert commitment.status == CommitmentStatus.OPEN
    assert commitment.created_by == agent
    # Earlier than the resolution target, so it is what the queue sorts on.
    assert case.next_due_at == due
    event = case.events.get(kind=EventKind.COMMITMENT_MADE)
    assert event.data["description"] == "Bel klant terug"
    assert event.data["owner_id"] == agent.pk


def test_keeping_the_promise_takes_it_off_the_queue(case, agent, clock):
    commitment = services.commitment_make(
        case=case,
        owner=agent,
        description="Bel terug",
        due_at=clock.now + timedelta(minutes=45),
        actor=agent,
    )
    services.commitment_keep(commitment=commitment, actor=agent)
    commitment.refresh_from_db()
    case.refresh_from_db()
    assert commitment.status == CommitmentStatus.KEPT
    assert commitment.kept_at == clock.now
    assert case.next_due_at == case.resolution_due_at
    with pytest.raises(InvalidTransition, match="already kept"):
        services.commitment_cancel(commitment=commitment, actor=agent)


def test_a_cancelled_promise_is_recorded(case, agent, clock):
    commitment = services.commitment_make(
        case=case,
        owner=agent,
        description="Mail sturen",
        due_at=clock.now + timedelta(days=1),
        actor=agent,
    )
    services.commitment_cancel(commitment=commitment, actor=agent)
    assert case.events.filter(kind=EventKind.COMMITMENT_CANCELLED).count() == 1


def test_a_promise_needs_a_future_due_time_and_an_active_case(case, agent, clock):
    with pytest.raises(CaseError, match="in the future"):
        services.commitment_make(
            case=case,
            owner=agent,
            description="Bel terug",
            due_at=clock.now - timedelta(minutes=1),
            actor=agent,
        )
    with pytest.raises(CaseError, match="Say what was promised"):
        services.commitment_make(
            case=case,
            owner=agent,
            description="",
            due_at=clock.now + timedelta(hours=1),
            actor=agent,
        )
    services.case_close(case=case, reason="no_action", actor=agent)
    with pytest.raises(InvalidTransition, match="cannot take a commitment"):
        services.commitment_make(
            case=case,
            owner=agent,
            description="Bel terug",
            due_at=clock.now + timedelta(hours=1),
            actor=agent,
        )


def test_an_open_promise_blocks_resolving(case, agent, clock):
    services.commitment_make(
        case=case,
        owner=agent,
        description="Bel terug",
        due_at=clock.now + timedelta(hours=1),
        actor=agent,
    )
    with pytest.raises(CaseError, match=r"open commitment \(Bel terug\)"):
        services.case_resolve(case=case, actor=agent)
    assert Case.objects.get(pk=case.pk).status == "open"


def test_an_overdue_promise_puts_the_case_in_the_overdue_queue(case, agent, clock):
    services.commitment_make(
        case=case,
        owner=agent,
        description="Bel terug",
        due_at=clock.now + timedelta(minutes=10),
        actor=agent,
    )
    assert case not in overdue_cases(clock.now)
    clock.advance(timedelta(minutes=11))
    assert list(overdue_cases(clock.now)) == [case]
    assert case.commitments.get().is_overdue
