import threading
from datetime import timedelta

import pytest
from celery.exceptions import Retry
from django.db import close_old_connections, connection
from django.utils import timezone
from kombu.exceptions import OperationalError

from cases.models import CaseEvent, CaseStatus, EventKind
from reporting.models import Survey, SurveyChannel, SurveyStatus
from reporting.services import (
    SurveyDeliveryError,
    survey_deliver,
    survey_expire_due,
    survey_resend,
    survey_schedule_for_case,
)
from reporting.tasks import process_surveys, send_survey
from tests.factories import AuthorFactory, UserFactory
from tests.smtpserver import body_of

from .helpers import resolved_case, sent_survey

pytestmark = pytest.mark.django_db


def due_survey(**case_fields) -> Survey:
    case = resolved_case(
        resolved_at=timezone.now() - timedelta(days=1, minutes=1), **case_fields
    )
    return survey_schedule_for_case(case=case)


def test_it_mails_a_due_survey_with_the_personal_link(smtp_server):
    survey = due_survey(subject="Pinpas kwijt", assignee=UserFactory(first_name="Anna"))

    assert survey_deliver(survey_id=survey.pk) == "sent"

    survey.refresh_from_db()
    assert survey.status == SurveyStatus.SENT
    assert survey.sent_at is not None
    assert smtp_server.recipients == [["klant@example.com"]]
    message = smtp_server.messages[0]
    body = body_of(message)
    assert f"https://webcare.example.com/s/{survey.token}/" in body
    assert "Anna" in body and "Pinpas kwijt" in body
    assert message["Subject"] == "Hoe hebben we je geholpen?"
    assert " ".join(message["List-Unsubscribe"].split()) == (
        f"<https://webcare.example.com/s/{survey.token}/opt-out/>"
    )
    event = CaseEvent.objects.get(case=survey.case, kind=EventKind.SURVEY_SENT)
    assert event.data == {
        "survey_id": survey.pk,
        "channel": "email",
        "reminder": False,
    }


def test_an_english_customer_gets_an_english_mail(smtp_server):
    survey = due_survey(customer=AuthorFactory(email="c@example.com", language="en"))
    survey_deliver(survey_id=survey.pk)
    assert smtp_server.messages[0]["Subject"] == "How did we help you?"
    assert "Would you answer one question" in body_of(smtp_server.messages[0])


def test_it_does_not_send_before_the_delay(smtp_server):
    survey = survey_schedule_for_case(case=resolved_case())
    assert survey_deliver(survey_id=survey.pk) == "not_due"
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.SCHEDULED
    assert smtp_server.messages == []


def test_a_duplicate_task_sends_nothing_more(smtp_server):
    survey = due_survey()
    assert survey_deliver(survey_id=survey.pk) == "sent"
    assert survey_deliver(survey_id=survey.pk) == "nothing_to_do"
    send_survey.delay(survey.pk)
    assert len(smtp_server.messages) == 1
    assert CaseEvent.objects.filter(kind=EventKind.SURVEY_SENT).count() == 1


def test_a_link_survey_is_marked_sent_without_mail(smtp_server):
    survey = due_survey(customer=AuthorFactory(email=""))
    assert survey.channel == SurveyChannel.LINK
    assert survey_deliver(survey_id=survey.pk) == "sent"
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.SENT
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": CaseStatus.OPEN, "resolved_at": None}, "reopened"),
        ({"status": CaseStatus.CLOSED, "close_reason": "spam"}, "closed_as_spam"),
    ],
)
def test_it_cancels_at_send_time_when_the_case_changed(smtp_server, change, reason):
    survey = due_survey()
    for field, value in change.items():
        setattr(survey.case, field, value)
    if change["status"] == CaseStatus.CLOSED:
        survey.case.closed_at = timezone.now()
    survey.case.save()

    assert survey_deliver(survey_id=survey.pk) == "cancelled"

    survey.refresh_from_db()
    assert survey.status == SurveyStatus.CANCELLED
    assert smtp_server.messages == []
    assert (
        CaseEvent.objects.get(case=survey.case, kind=EventKind.SURVEY_CANCELLED).data[
            "reason"
        ]
        == reason
    )


def test_it_cancels_at_send_time_when_the_customer_opted_out(smtp_server):
    survey = due_survey()
    survey.recipient.survey_opt_out_at = timezone.now()
    survey.recipient.save()
    assert survey_deliver(survey_id=survey.pk) == "cancelled"
    assert smtp_server.messages == []


def test_a_failed_send_is_retried_with_backoff_then_marked_failed(
    smtp_server, settings
):
    settings.WEBCARE_SURVEY_MAX_SEND_ATTEMPTS = 3
    smtp_server.data_reply = "451 4.3.0 Try again later"
    survey = due_survey()
    start = timezone.now()

    with pytest.raises(SurveyDeliveryError) as first:
        survey_deliver(survey_id=survey.pk, now=start)
    survey.refresh_from_db()
    assert first.value.retry_in == timedelta(minutes=1)
    assert survey.status == SurveyStatus.SCHEDULED
    assert survey.send_attempts == 1
    assert "451" in survey.last_error
    # Not due again before the backoff has passed.
    assert survey.scheduled_for == start + timedelta(minutes=1)
    assert survey_deliver(survey_id=survey.pk, now=start) == "not_due"

    with pytest.raises(SurveyDeliveryError) as second:
        survey_deliver(survey_id=survey.pk, now=start + timedelta(minutes=1))
    assert second.value.retry_in == timedelta(minutes=5)
    with pytest.raises(SurveyDeliveryError) as third:
        survey_deliver(survey_id=survey.pk, now=start + timedelta(minutes=6))
    assert third.value.retry_in is None

    survey.refresh_from_db()
    assert survey.status == SurveyStatus.FAILED
    assert survey.send_attempts == 3
    assert smtp_server.messages == []
    assert not CaseEvent.objects.filter(kind=EventKind.SURVEY_SENT).exists()


def test_a_refused_recipient_fails_at_once(smtp_server):
    smtp_server.rcpt_reply = "550 5.1.1 No such user"
    survey = due_survey()
    with pytest.raises(SurveyDeliveryError) as error:
        survey_deliver(survey_id=survey.pk)
    assert error.value.retry_in is None
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.FAILED
    assert survey.send_attempts == 1


def test_an_unreachable_server_is_retried_by_the_task(smtp_server, monkeypatch):
    smtp_server.stop()
    survey = due_survey()
    retries = []

    def retry(**options):
        retries.append(options)
        return Retry()

    monkeypatch.setattr(send_survey, "retry", retry)
    send_survey.push_request(retries=0, is_eager=False)
    try:
        with pytest.raises(Retry):
            send_survey.run(survey.pk)
    finally:
        send_survey.pop_request()

    assert retries == [{"countdown": 60}]
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.SCHEDULED
    assert survey.send_attempts == 1
    assert survey.last_error.startswith("survey: ConnectionRefusedError")


def test_in_eager_mode_the_retry_is_left_to_the_next_run(smtp_server):
    smtp_server.stop()
    survey = due_survey()
    assert send_survey.apply(args=[survey.pk]).get() == "retry_later"
    assert process_surveys()["due"] == 0  # not due again before the backoff
    survey.refresh_from_db()
    assert survey.send_attempts == 1


def test_it_reminds_once_after_the_delay(smtp_server, settings):
    settings.WEBCARE_SURVEY_REMINDER_AFTER = timedelta(days=3)
    survey = sent_survey(sent_ago=timedelta(days=3, minutes=1))
    early = survey.sent_at + timedelta(days=2)

    assert survey_deliver(survey_id=survey.pk, now=early) == "nothing_to_do"
    assert survey_deliver(survey_id=survey.pk) == "reminded"
    assert survey_deliver(survey_id=survey.pk) == "nothing_to_do"

    survey.refresh_from_db()
    assert survey.status == SurveyStatus.REMINDED
    assert survey.reminded_at is not None
    assert len(smtp_server.messages) == 1
    assert smtp_server.messages[0]["Subject"].startswith("Herinnering")


def test_no_reminder_for_a_link_survey_or_an_answered_one(smtp_server):
    link = sent_survey(sent_ago=timedelta(days=4), channel=SurveyChannel.LINK)
    answered = sent_survey(
        sent_ago=timedelta(days=4),
        case=resolved_case(customer=AuthorFactory(email="b@example.com")),
    )
    Survey.objects.filter(pk=answered.pk).update(
        status=SurveyStatus.ANSWERED, score=8, responded_at=timezone.now()
    )
    assert survey_deliver(survey_id=link.pk) == "nothing_to_do"
    assert survey_deliver(survey_id=answered.pk) == "nothing_to_do"
    assert smtp_server.messages == []


def test_it_expires_unanswered_surveys_after_the_period(settings):
    settings.WEBCARE_SURVEY_EXPIRES_AFTER = timedelta(days=14)
    old = sent_survey(sent_ago=timedelta(days=14, minutes=1))
    young = sent_survey(
        sent_ago=timedelta(days=13),
        case=resolved_case(customer=AuthorFactory(email="b@example.com")),
    )

    assert survey_expire_due() == 1

    old.refresh_from_db()
    young.refresh_from_db()
    assert old.status == SurveyStatus.EXPIRED
    assert old.expired_at is not None
    assert young.status == SurveyStatus.SENT
    assert (
        CaseEvent.objects.get(case=old.case, kind=EventKind.SURVEY_CANCELLED).data[
            "reason"
        ]
        == "expired"
    )
    assert survey_expire_due() == 0


def test_a_survey_never_sent_in_time_is_not_sent_late(smtp_server, settings):
    survey = due_survey()
    # The workers were down for longer than a survey lives.
    later = timezone.now() + settings.WEBCARE_SURVEY_EXPIRES_AFTER + timedelta(days=1)
    assert survey_deliver(survey_id=survey.pk, now=later) == "cancelled"
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.CANCELLED
    assert smtp_server.messages == []


def test_process_surveys_sends_reminds_and_expires_in_one_run(smtp_server):
    due = due_survey()
    reminder = sent_survey(
        sent_ago=timedelta(days=4),
        case=resolved_case(customer=AuthorFactory(email="r@example.com")),
    )
    expiring = sent_survey(
        sent_ago=timedelta(days=15),
        case=resolved_case(customer=AuthorFactory(email="e@example.com")),
    )
    later = survey_schedule_for_case(
        case=resolved_case(customer=AuthorFactory(email="l@example.com"))
    )

    assert process_surveys() == {"due": 1, "reminders": 1, "expired": 1}

    statuses = dict(Survey.objects.values_list("pk", "status"))
    assert statuses == {
        due.pk: SurveyStatus.SENT,
        reminder.pk: SurveyStatus.REMINDED,
        expiring.pk: SurveyStatus.EXPIRED,
        later.pk: SurveyStatus.SCHEDULED,
    }
    assert sorted(r[0] for r in smtp_server.recipients) == [
        "klant@example.com",
        "r@example.com",
    ]
    # A second run finds nothing left to do.
    assert process_surveys() == {"due": 0, "reminders": 0, "expired": 0}
    assert len(smtp_server.messages) == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_exactly_one_email(on_postgres, smtp_server):
    smtp_server.delay = 0.5  # the first worker is still mailing when the second comes
    survey = due_survey()
    workers = 2
    barrier = threading.Barrier(workers)
    results: list[str] = []

    def worker():
        try:
            barrier.wait(timeout=10)
            results.append(survey_deliver(survey_id=survey.pk))
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == ["busy", "sent"]
    assert len(smtp_server.messages) == 1
    assert Survey.objects.get(pk=survey.pk).status == SurveyStatus.SENT
    assert CaseEvent.objects.filter(kind=EventKind.SURVEY_SENT).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_many_duplicate_tasks_at_once_send_exactly_one_email(on_postgres, smtp_server):
    # Duplicate deliveries of the task, some while the first is mailing, some after.
    smtp_server.delay = 0.2
    survey = due_survey()
    workers = 8
    barrier = threading.Barrier(workers)
    results: list[str] = []

    def worker():
        try:
            barrier.wait(timeout=10)
            results.append(send_survey.apply(args=[survey.pk]).get())
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(results) == workers
    assert results.count("sent") == 1
    assert "busy" in results
    assert len(smtp_server.messages) == 1
    assert CaseEvent.objects.filter(kind=EventKind.SURVEY_SENT).count() == 1


def test_a_resend_is_saved_when_the_broker_is_down(
    monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Connection refused")

    monkeypatch.setattr(send_survey, "delay", broker_down)
    survey = sent_survey(status=SurveyStatus.FAILED, sent_at=None, send_attempts=5)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        resent = survey_resend(survey=survey)
    assert callbacks
    assert resent.status == SurveyStatus.SCHEDULED
    survey.refresh_from_db()
    assert (survey.status, survey.send_attempts) == (SurveyStatus.SCHEDULED, 0)
    # process_surveys finds it due and queues it.
    queued = []
    monkeypatch.setattr(send_survey, "delay", queued.append)
    assert process_surveys()["due"] == 1
    assert queued == [survey.pk]
