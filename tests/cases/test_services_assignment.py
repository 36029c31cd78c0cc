"""Manual assignment, "assign to me" and automatic assignment to the least loaded."""

import threading
from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from cases import services
from cases.models import Agent, Case, CaseEvent, CaseStatus, EventKind
from cases.services import CaseError, InvalidTransition
from tests.cases.conftest import make_agent
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


def new_case(team, subject="Vraag"):
    return services.case_open(subject=subject, team=team, channel="x_search")


def test_assign_to_me_records_who_and_opens_the_case(team, agent):
    case = new_case(team)
    case = services.case_assign(case=case, assignee=agent, actor=agent)
    case.refresh_from_db()
    assert case.assignee == agent
    assert case.status == CaseStatus.OPEN
    event = CaseEvent.objects.get(case=case, kind=EventKind.ASSIGNED)
    assert event.data == {"from": None, "to": agent.pk, "automatic": False}
    assert event.actor == agent


def test_reassigning_and_unassigning_are_recorded(team, agent, other_agent, manager):
    case = services.case_assign(case=new_case(team), assignee=agent, actor=manager)
    services.case_assign(case=case, assignee=other_agent, actor=manager)
    services.case_assign(case=case, assignee=None, actor=manager)
    moves = [
        (event.data["from"], event.data["to"])
        for event in CaseEvent.objects.filter(case=case, kind=EventKind.ASSIGNED)
    ]
    assert moves == [
        (None, agent.pk),
        (agent.pk, other_agent.pk),
        (other_agent.pk, None),
    ]
    assert Case.objects.get(pk=case.pk).assignee is None


def test_assigning_the_same_person_again_changes_nothing(team, agent):
    case = services.case_assign(case=new_case(team), assignee=agent, actor=agent)
    services.case_assign(case=case, assignee=agent, actor=agent)
    assert CaseEvent.objects.filter(case=case, kind=EventKind.ASSIGNED).count() == 1


def test_it_refuses_an_assignee_who_may_not_reply(team, agent, spokesperson):
    case = new_case(team)
    with pytest.raises(CaseError, match="cannot be assigned cases"):
        services.case_assign(case=case, assignee=spokesperson, actor=agent)
    assert Case.objects.get(pk=case.pk).assignee is None


def test_a_closed_case_cannot_be_assigned(team, agent):
    case = services.case_close(case=new_case(team), reason="spam", actor=agent)
    with pytest.raises(InvalidTransition, match="A closed case cannot be assigned"):
        services.case_assign(case=case, assignee=agent, actor=agent)


def test_automatic_assignment_picks_the_least_loaded_available_agent(team):
    anna = make_agent(team, "anna", "Anna")
    bram = make_agent(team, "bram", "Bram")
    away = make_agent(team, "cees", "Cees", available=False)
    for _ in range(2):
        services.case_assign(case=new_case(team), assignee=anna, actor_label="test")
    services.case_assign(case=new_case(team), assignee=bram, actor_label="test")
    case = services.case_assign_automatically(
        case=new_case(team), actor_label="system:triage"
    )
    assert case.assignee == bram
    event = CaseEvent.objects.filter(case=case, kind=EventKind.ASSIGNED).get()
    assert event.data["automatic"] is True
    assert event.actor_label == "system:triage"
    assert not Case.objects.filter(assignee=away).exists()


def test_resolved_cases_do_not_count_as_load(team):
    anna = make_agent(team, "anna", "Anna")
    bram = make_agent(team, "bram", "Bram")
    for _ in range(3):
        case = services.case_assign(case=new_case(team), assignee=anna, actor_label="t")
        services.case_resolve(case=case, actor_label="t")
    services.case_assign(case=new_case(team), assignee=bram, actor_label="t")
    case = services.case_assign_automatically(case=new_case(team), actor_label="t")
    assert case.assignee == anna


def test_automatic_assignment_is_fair_when_agents_resolve_fast(team):
    agents = [make_agent(team, name, name.title()) for name in ("anna", "bram", "cees")]
    given = Counter()
    for number in range(12):
        case = services.case_assign_automatically(
            case=new_case(team, f"Vraag {number}"), actor_label="t"
        )
        given[case.assignee_id] += 1
        # Each case is resolved at once, so every agent's load is zero again.
        services.case_resolve(case=case, actor_label="t")
    assert given == {agent.pk: 4 for agent in agents}


def test_automatic_assignment_stays_within_the_case_team(team):
    make_agent(team, "anna", "Anna", available=False)
    other_team = TeamFactory(name="Zakelijk")
    make_agent(other_team, "zoe", "Zoë")
    case = new_case(team)
    with pytest.raises(CaseError, match="No available agent in team Webcare"):
        services.case_assign_automatically(case=case, actor_label="t")
    assert Case.objects.get(pk=case.pk).assignee is None


def test_an_agent_marked_away_gets_nothing_and_back_again_does(team):
    anna = make_agent(team, "anna", "Anna")
    profile = Agent.objects.get(user=anna)
    services.agent_set_availability(agent=profile, is_available=False, actor=anna)
    with pytest.raises(CaseError):
        services.case_assign_automatically(case=new_case(team), actor_label="t")
    services.agent_set_availability(agent=profile, is_available=True, actor=anna)
    case = services.case_assign_automatically(case=new_case(team), actor_label="t")
    assert case.assignee == anna


def test_only_a_manager_changes_another_agents_availability(team, manager):
    anna = make_agent(team, "anna", "Anna")
    bram = make_agent(team, "bram", "Bram")
    profile = Agent.objects.get(user=anna)
    with pytest.raises(services.CasePermissionDenied):
        services.agent_set_availability(agent=profile, is_available=False, actor=bram)
    assert Agent.objects.get(user=anna).is_available
    services.agent_set_availability(agent=profile, is_available=False, actor=manager)
    assert not Agent.objects.get(user=anna).is_available


def test_an_inactive_user_is_never_assigned_automatically(team):
    anna = make_agent(team, "anna", "Anna")
    anna.is_active = False
    anna.save()
    bram = make_agent(team, "bram", "Bram")
    for _ in range(3):
        services.case_assign(case=new_case(team), assignee=bram, actor_label="t")
    case = services.case_assign_automatically(case=new_case(team), actor_label="t")
    assert case.assignee == bram


def test_a_case_assigned_meanwhile_is_not_moved_on_automatically(team):
    anna = make_agent(team, "anna", "Anna")
    make_agent(team, "bram", "Bram")
    case = new_case(team)
    seen = Case.objects.get(pk=case.pk)  # what the second click saw: unassigned
    services.case_assign_automatically(case=case, actor_label="t")
    again = services.case_assign_automatically(case=seen, actor_label="t")
    assert again.assignee == anna
    assert Case.objects.get(pk=case.pk).assignee == anna
    assert CaseEvent.objects.filter(case=case, kind=EventKind.ASSIGNED).count() == 1


# --- At the same time, on PostgreSQL with real threads ------------------------------


@pytest.fixture
def roles(on_postgres):
    # The staff groups are migration data, which an earlier transactional test's
    # flush removes; agents need the agent group to be assigned cases.
    call_command("setup_roles", stdout=StringIO())


def at_once(calls) -> list:
    """Run each call in its own thread, all released together; their results (or
    the exceptions they raised), in the order of `calls`."""
    start = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            start.wait(timeout=10)
            results[index] = call()
        except BaseException as error:  # surfaced by the caller's assertions
            results[index] = error
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(index, call))
        for index, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_automatic_assignments_at_once_spread_the_cases_evenly(roles, team):
    agents = [make_agent(team, name, name.title()) for name in ("anna", "bram", "cees")]
    cases = [new_case(team, f"Vraag {number}") for number in range(6)]

    results = at_once(
        [
            lambda case=case: services.case_assign_automatically(
                case=case, actor_label="t"
            )
            for case in cases
        ]
    )

    assert not [result for result in results if isinstance(result, BaseException)]
    # Each saw the others' assignments: two each, not all six to the first agent.
    load = Counter(
        Case.objects.filter(pk__in=[case.pk for case in cases]).values_list(
            "assignee", flat=True
        )
    )
    assert load == {agent.pk: 2 for agent in agents}
    events = CaseEvent.objects.filter(kind=EventKind.ASSIGNED, data__automatic=True)
    assert events.count() == 6
    assert sorted(events.values_list("case_id", flat=True)) == sorted(
        case.pk for case in cases
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_case_assigned_automatically_twice_at_once_is_assigned_once(roles, team):
    anna = make_agent(team, "anna", "Anna")
    bram = make_agent(team, "bram", "Bram")
    case = new_case(team)

    # Two staff (or a double click) ask for the same unassigned case at once.
    results = at_once(
        [
            lambda: services.case_assign_automatically(
                case=Case.objects.get(pk=case.pk), actor_label="t"
            )
            for _ in range(2)
        ]
    )

    assert not [result for result in results if isinstance(result, BaseException)]
    case.refresh_from_db()
    assert case.assignee in (anna, bram)
    assert [result.assignee for result in results] == [case.assignee] * 2
    # One assignment, not one that the second immediately moves to the other agent.
    assert CaseEvent.objects.filter(case=case, kind=EventKind.ASSIGNED).count() == 1
    assert Case.objects.filter(assignee__isnull=False).count() == 1
