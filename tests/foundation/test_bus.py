"""The domain events between the apps (webcare.bus): documented, subscribed, atomic."""

import pytest
from django.db import transaction

from cases import services
from cases.models import Case, CaseStatus
from reporting.models import Survey, SurveyStatus
from tests.factories import AuthorFactory, CaseFactory, UserFactory
from webcare import bus


def dotted(handler) -> str:
    return f"{handler.__module__}.{handler.__qualname__}"


# Every event the bus module defines: the concrete ones name their handlers.
EVENTS = [
    value
    for value in vars(bus).values()
    if isinstance(value, type) and issubclass(value, bus.Event) and value.handled_by
]


def test_the_bus_defines_the_events_between_the_apps():
    assert {event.__name__ for event in EVENTS} >= {
        "MentionEngaged",
        "CaseResolved",
        "CaseReopened",
        "CaseClosed",
        "CaseMerged",
        "SurveyAnswered",
    }


@pytest.mark.parametrize("event_type", EVENTS, ids=lambda e: e.__name__)
def test_every_event_lists_exactly_its_subscribers_in_order(event_type):
    assert [dotted(h) for h in bus.subscribers(event_type)] == list(
        event_type.handled_by
    )


@pytest.mark.django_db
def test_a_handler_writes_in_the_publishers_transaction():
    """A resolve that fails after publishing leaves neither the case resolved nor
    a survey scheduled: the subscriber's write rolls back with the change."""
    agent = UserFactory(groups=["agent"])
    customer = AuthorFactory(email="klant@example.com")
    case = CaseFactory(customer=customer, status=CaseStatus.OPEN)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.case_resolve(case=case, actor=agent)
        assert Survey.objects.filter(case=case).exists()
        raise RuntimeError("the request failed after the resolve")
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    assert not Survey.objects.filter(case=case).exists()


@pytest.mark.django_db
def test_merging_a_resolved_duplicate_withdraws_its_unsent_survey():
    manager = UserFactory(groups=["manager"])
    customer = AuthorFactory(email="klant@example.com")
    duplicate = CaseFactory(customer=customer, status=CaseStatus.OPEN)
    services.case_resolve(case=duplicate, actor=manager)
    survey = Survey.objects.get(case=duplicate)
    assert survey.status == SurveyStatus.SCHEDULED
    into = CaseFactory(customer=AuthorFactory(), status=CaseStatus.OPEN)

    services.case_merge(duplicate=duplicate, into=into, actor=manager)

    survey.refresh_from_db()
    assert survey.status == SurveyStatus.CANCELLED
    assert Case.objects.get(pk=duplicate.pk).merged_into_id == into.pk


def test_subscribing_twice_runs_a_handler_once():
    calls = []

    def handler(event):
        calls.append(event)

    class Probe(bus.Event):
        handled_by = ("test",)

    bus.subscribe(Probe, handler)
    bus.subscribe(Probe, handler)
    bus.publish(Probe())
    assert len(calls) == 1
