from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from cases.models import CaseEvent
from reporting.models import DailySummary
from reporting.services import daily_summary_send
from reporting.tasks import send_daily_summary
from tests.factories import CaseFactory, EscalationFactory, ReplyFactory, UserFactory
from tests.smtpserver import body_of
from webcare.notices.models import NoticeStatus
from webcare.notices.services import notices_send_due

pytestmark = pytest.mark.django_db

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
EVENING = datetime(2026, 3, 10, 18, 0, tzinfo=AMSTERDAM)


def contact(subject, *, at, **fields):
    case = CaseFactory(subject=subject, created_at=at, **fields)
    CaseEvent.objects.create(case=case, kind="created", created_at=at)
    return case


def test_it_mails_the_days_contacts_to_customer_service_once(
    smtp_server, settings, django_capture_on_commit_callbacks
):
    settings.WEBCARE_DEPARTMENT_EMAILS = {
        **settings.WEBCARE_DEPARTMENT_EMAILS,
        "customer_service": "klantenservice@example.com",
    }
    anna = UserFactory(first_name="Anna")
    today = contact("Pinpas kwijt", at=EVENING - timedelta(hours=5), assignee=anna)
    ReplyFactory(case=today, agent=anna, sent_at=EVENING - timedelta(hours=4))
    EscalationFactory(case=today, requested_at=EVENING - timedelta(hours=3))
    contact("Gisteren", at=EVENING - timedelta(days=1))
    older = contact("Oude zaak", at=EVENING - timedelta(days=3))
    # An older case with activity today is a contact of today too.
    CaseEvent.objects.create(
        case=older, kind="note_added", created_at=EVENING - timedelta(hours=1)
    )

    with django_capture_on_commit_callbacks(execute=True):
        summary = daily_summary_send(now=EVENING)
    summary.refresh_from_db()

    assert summary.date == EVENING.date()
    assert summary.sent_at is not None
    assert summary.recipients == ["klantenservice@example.com"]
    assert smtp_server.recipients == [["klantenservice@example.com"]]
    body = body_of(smtp_server.messages[0])
    assert "Pinpas kwijt" in body and "Oude zaak" in body
    assert "Gisteren" not in body
    assert "Cases with activity: 2" in body
    assert "agent: Anna; replies today: 1; escalated to: customer_service" in body

    # The task runs again (a retry, a second beat): nothing more is sent.
    with django_capture_on_commit_callbacks(execute=True):
        again = daily_summary_send(now=EVENING + timedelta(minutes=5))
    assert again.pk == summary.pk
    assert again.notice_id == summary.notice_id
    assert DailySummary.objects.count() == 1
    assert len(smtp_server.messages) == 1


def test_a_failed_mail_stays_in_the_outbox_and_is_sent_by_the_sweep(
    smtp_server, django_capture_on_commit_callbacks
):
    smtp_server.data_reply = "451 4.3.0 Try again later"
    with django_capture_on_commit_callbacks(execute=True):
        daily_summary_send(now=EVENING)
    summary = DailySummary.objects.select_related("notice").get()
    assert summary.sent_at is None
    assert summary.notice.status == NoticeStatus.PENDING
    assert "451" in summary.notice.last_error
    smtp_server.data_reply = "250 OK"
    # A rerun of the task records no second notice; the sweep sends the first.
    with django_capture_on_commit_callbacks(execute=True):
        daily_summary_send(now=EVENING + timedelta(minutes=5))
    notices_send_due(now=timezone.now() + timedelta(hours=2))
    summary = DailySummary.objects.select_related("notice").get()
    assert summary.sent_at is not None
    assert len(smtp_server.messages) == 1


def test_the_task_sends_a_given_day(smtp_server, django_capture_on_commit_callbacks):
    contact("Vorige week", at=EVENING - timedelta(days=7))
    with django_capture_on_commit_callbacks(execute=True):
        summary_id = send_daily_summary.apply(args=["2026-03-03"]).get()
    summary = DailySummary.objects.get(pk=summary_id)
    assert str(summary.date) == "2026-03-03"
    assert "Vorige week" in summary.body
    assert len(smtp_server.messages) == 1


def test_a_quiet_day_still_gets_a_summary(
    smtp_server, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        summary = daily_summary_send(now=timezone.now())
    assert "No contacts today." in summary.body
    assert len(smtp_server.messages) == 1
