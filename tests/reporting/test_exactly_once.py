"""Issue 17, "nothing lost, nothing twice": one survey per customer under concurrent
resolves, no deadlock or dead link when a survey is mailed while its case changes,
and a merged-away case mails nothing."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import Case, CaseEvent, CaseStatus, CloseReason, EventKind
from cases.services import case_close, case_merge, case_reopen, case_resolve
from reporting.models import Survey, SurveyStatus
from reporting.services import (
    delivery,
    survey_answer,
    survey_deliver,
    survey_schedule_for_case,
)
from reporting.services.delivery import SEND_LEASE
from reporting.tasks import process_surveys
from tests.factories import AuthorFactory, CaseFactory
from tests.smtpserver import body_of
from tests.threads import errors, run_at_once

from .helpers import resolved_case


def due_survey(**case_fields) -> Survey:
    case = resolved_case(
        resolved_at=timezone.now() - timedelta(days=1, minutes=1), **case_fields
    )
    return survey_schedule_for_case(case=case)


# --- 1. the quarantine across accounts under concurrency ---------------------------


def two_accounts(link: str, n: int) -> list:
    if link == "email":
        # The same person on two platforms, one address in two spellings.
        return [
            AuthorFactory(email=f"Klant{n}@Example.com"),
            AuthorFactory(platform="mastodon", email=f"klant{n}@example.com"),
        ]
    # Known to the CRM as one customer; no email on either account.
    return [
        AuthorFactory(email="", crm_customer_id=f"CRM-{n}"),
        AuthorFactory(platform="mastodon", email="", crm_customer_id=f"CRM-{n}"),
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("link", ["email", "crm"])
def test_two_accounts_of_one_customer_resolved_at_once_get_one_survey(
    on_postgres, link
):
    rounds = 12
    doubled = []
    for n in range(rounds):
        cases = [
            CaseFactory(customer=account, status=CaseStatus.OPEN)
            for account in two_accounts(link, n)
        ]
        barrier = threading.Barrier(len(cases))

        def resolve(case, barrier=barrier):
            def run():
                barrier.wait(timeout=10)
                case_resolve(case=case, actor_label="system:test")

            return run

        assert errors(run_at_once(*(resolve(case) for case in cases))) == []
        surveys = Survey.objects.filter(case__in=cases).count()
        if surveys != 1:
            doubled.append((n, surveys))
        assert Case.objects.filter(pk__in=[c.pk for c in cases]).filter(
            status=CaseStatus.RESOLVED
        ).count() == len(cases)
        quarantined = CaseEvent.objects.filter(
            case__in=cases, kind=EventKind.SURVEY_CANCELLED, data__reason="quarantine"
        ).count()
        assert quarantined == len(cases) - surveys
    assert doubled == [], f"rounds with more than one survey: {doubled}"


# --- 2. mailing a survey while its case is reopened or closed ----------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_reopen_while_the_mail_is_on_its_way_neither_deadlocks_nor_kills_the_link(
    on_postgres, smtp_server
):
    smtp_server.delay = 1.5  # a slow mail server: the reopen comes mid-send
    survey = due_survey()
    results = []

    def deliver():
        results.append(survey_deliver(survey_id=survey.pk))

    def reopen():
        assert smtp_server.receiving.wait(timeout=10)
        case_reopen(
            case=Case.objects.get(pk=survey.case_id),
            reason="the customer wrote again",
            actor_label="system:test",
        )

    assert errors(run_at_once(deliver, reopen)) == []

    assert results == ["sent"]
    assert len(smtp_server.messages) == 1
    assert survey.token in body_of(smtp_server.messages[0])
    survey.refresh_from_db()
    # What the customer received is what is recorded: sent, and the link works.
    assert survey.status == SurveyStatus.SENT
    assert survey.sent_at is not None
    assert Case.objects.get(pk=survey.case_id).status == CaseStatus.OPEN
    assert CaseEvent.objects.filter(kind=EventKind.SURVEY_SENT).count() == 1
    assert not CaseEvent.objects.filter(kind=EventKind.SURVEY_CANCELLED).exists()
    assert survey_answer(survey=survey, score=9) == "answered"


@pytest.mark.django_db
def test_a_reopen_before_the_claim_cancels_and_nothing_is_mailed(smtp_server):
    survey = due_survey()
    case = Case.objects.get(pk=survey.case_id)
    case_reopen(case=case, actor_label="system:test")
    assert survey_deliver(survey_id=survey.pk) == "nothing_to_do"
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.CANCELLED
    assert smtp_server.messages == []


@pytest.mark.django_db
def test_closing_as_spam_during_the_send_withdraws_it_and_records_the_mail(
    smtp_server, monkeypatch
):
    """The customer got the mail; closing as spam withdraws even a sent survey.
    The record says both: the mail went out (an event) and the survey is cancelled."""
    survey = due_survey()
    send = delivery._send_email

    def send_while_the_case_is_closed(**kwargs):
        send(**kwargs)
        # Another session, between the SMTP reply and the recording.
        case_close(
            case=Case.objects.get(pk=survey.case_id),
            reason=CloseReason.SPAM,
            actor_label="system:test",
        )

    monkeypatch.setattr(delivery, "_send_email", send_while_the_case_is_closed)

    survey_deliver(survey_id=survey.pk)

    survey.refresh_from_db()
    assert len(smtp_server.messages) == 1
    assert survey.status == SurveyStatus.CANCELLED
    sent = CaseEvent.objects.get(kind=EventKind.SURVEY_SENT)
    assert sent.data["survey_id"] == survey.pk
    assert sent.data["withdrawn"] is True


class WorkerDied(BaseException):
    """The worker process was killed between the claim and the record."""


@pytest.mark.django_db
def test_a_send_whose_worker_died_is_busy_until_the_lease_ends_then_sent_again(
    smtp_server, monkeypatch
):
    survey = due_survey()
    start = timezone.now()

    def die(**kwargs):
        raise WorkerDied

    with monkeypatch.context() as patch:
        patch.setattr(delivery, "_send_email", die)
        with pytest.raises(WorkerDied):
            survey_deliver(survey_id=survey.pk, now=start)

    # The claim outlives the worker: no second send while it may still be mailing.
    assert survey_deliver(survey_id=survey.pk, now=start + timedelta(seconds=5)) == (
        "busy"
    )
    # A reopen now leaves it alone: the mail may be with the customer.
    case_reopen(case=Case.objects.get(pk=survey.case_id), actor_label="system:test")
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.SCHEDULED
    # The retry sweep finds it due again; after the lease it is mailed (again).
    assert process_surveys()["due"] == 1
    later = start + SEND_LEASE + timedelta(seconds=1)
    assert survey_deliver(survey_id=survey.pk, now=later) == "sent"
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.SENT
    assert survey.send_claimed_until is None
    assert len(smtp_server.messages) == 1
    assert CaseEvent.objects.filter(kind=EventKind.SURVEY_SENT).count() == 1


# --- 3. a merged-away case mails nothing; the surviving case is surveyed -----------


@pytest.mark.django_db
def test_a_merged_away_case_mails_nothing_and_the_surviving_case_is_surveyed(
    smtp_server,
):
    customer = AuthorFactory(email="klant@example.com")
    duplicate = CaseFactory(customer=customer, status=CaseStatus.OPEN)
    into = CaseFactory(customer=customer, status=CaseStatus.OPEN)
    case_resolve(case=duplicate, actor_label="system:test")
    withdrawn = Survey.objects.get(case=duplicate)

    case_merge(duplicate=duplicate, into=into, actor_label="system:test")

    withdrawn.refresh_from_db()
    assert withdrawn.status == SurveyStatus.CANCELLED
    # The cancelled survey does not put the customer in quarantine.
    case_resolve(case=into, actor_label="system:test")
    survey = Survey.objects.get(case=into)
    assert survey.status == SurveyStatus.SCHEDULED
    assert not CaseEvent.objects.filter(
        case=into, kind=EventKind.SURVEY_CANCELLED
    ).exists()

    due = timezone.now() + timedelta(days=1, minutes=1)
    assert survey_deliver(survey_id=withdrawn.pk, now=due) == "nothing_to_do"
    assert survey_deliver(survey_id=survey.pk, now=due) == "sent"
    assert len(smtp_server.messages) == 1
    body = body_of(smtp_server.messages[0])
    assert survey.token in body and withdrawn.token not in body


@pytest.mark.django_db
def test_a_survey_of_a_merged_away_case_is_cancelled_at_send_time(smtp_server):
    # However it escaped the merge (e.g. it was failed and resent), it is not mailed.
    survey = due_survey()
    into = CaseFactory(customer=survey.recipient, status=CaseStatus.OPEN)
    Case.objects.filter(pk=survey.case_id).update(
        status=CaseStatus.CLOSED,
        close_reason=CloseReason.DUPLICATE,
        closed_at=timezone.now(),
        merged_into=into,
    )
    assert survey_deliver(survey_id=survey.pk) == "cancelled"
    assert smtp_server.messages == []
    assert (
        CaseEvent.objects.get(kind=EventKind.SURVEY_CANCELLED).data["reason"]
        == "merged"
    )
