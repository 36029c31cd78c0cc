"""Notices claimed while the mail server is down are kept and sent when it is back.

A real SMTP server on 127.0.0.1 (tests/smtpserver.py) is down (connection refused)
while the deadline check and the reminders claim their notices; the claims commit,
the notices wait in the outbox with the error, and the beat sweep sends them once
the server is back.
"""

from datetime import timedelta

import pytest

from cases import services, tasks
from tests.cases.conftest import amsterdam, make_agent
from tests.smtpserver import body_of
from webcare.notices import tasks as notice_tasks
from webcare.notices.models import Notice, NoticeKind, NoticeStatus

pytestmark = pytest.mark.django_db


def sweep(capture):
    with capture(execute=True):
        return notice_tasks.send_due_notices()


def test_a_breach_claimed_while_mail_is_down_is_mailed_when_it_is_back(
    team, clock, mail_server, django_capture_on_commit_callbacks
):
    clock.set(amsterdam(2026, 3, 2, 9, 0))
    case = services.case_open(subject="Pinpas kwijt", team=team, channel="x_search")
    clock.set(amsterdam(2026, 3, 2, 11, 1))  # first response was due 11:00

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.check_case_deadlines()["breaches"] == 1

    case.refresh_from_db()
    assert case.first_response_breached_at == clock.now  # the claim committed
    notice = Notice.objects.get()
    assert notice.kind == NoticeKind.TARGET_DIGEST
    assert notice.recipients == ["webcare-team@example.com"]
    assert notice.status == NoticeStatus.PENDING
    assert notice.attempts == 1
    assert "ConnectionRefusedError" in notice.last_error
    assert notice.next_attempt_at == clock.now + timedelta(seconds=30)
    assert mail_server.messages == []
    # A rerun of the check claims nothing again, so it cannot be what delivers.
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.check_case_deadlines()["breaches"] == 0

    mail_server.start()
    clock.advance(timedelta(seconds=20))
    assert sweep(django_capture_on_commit_callbacks) == {"sent": 0, "not_sent": 0}
    clock.advance(timedelta(seconds=15))  # the retry is due now
    assert sweep(django_capture_on_commit_callbacks) == {"sent": 1, "not_sent": 0}
    assert sweep(django_capture_on_commit_callbacks) == {"sent": 0, "not_sent": 0}

    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT
    assert notice.sent_at == clock.now
    assert notice.attempts == 2
    assert notice.last_error == ""
    assert len(mail_server.messages) == 1
    message = mail_server.messages[0]
    assert message["To"] == "webcare-team@example.com"
    assert message["Subject"] == "[webcare] Targets: 1 breached"
    assert "Pinpas kwijt" in body_of(message)
    assert f"/admin/cases/case/{case.pk}/change/" in body_of(message)


def test_a_commitment_reminder_claimed_while_mail_is_down_is_sent_later(
    team, clock, mail_server, django_capture_on_commit_callbacks
):
    owner = make_agent(team, "anna", "Anna")
    clock.set(amsterdam(2026, 3, 2, 9, 0))
    case = services.case_open(subject="Pinpas kwijt", team=team, channel="x_search")
    promise = services.commitment_make(
        case=case,
        owner=owner,
        description="Bel klant terug",
        due_at=amsterdam(2026, 3, 2, 14, 0),
        actor=owner,
    )
    clock.set(amsterdam(2026, 3, 2, 13, 35))

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.send_commitment_reminders()["reminded"] == 1

    promise.refresh_from_db()
    assert promise.reminder_sent_at == clock.now
    notice = Notice.objects.get(kind=NoticeKind.COMMITMENT_REMINDER)
    assert notice.about == f"commitment:{promise.pk}"
    assert notice.status == NoticeStatus.PENDING
    assert "ConnectionRefusedError" in notice.last_error
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.send_commitment_reminders()["reminded"] == 0

    mail_server.start()
    clock.advance(timedelta(minutes=1))
    assert sweep(django_capture_on_commit_callbacks)["sent"] == 1

    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT
    assert [m["To"] for m in mail_server.messages] == [owner.email]
    assert "Bel klant terug" in body_of(mail_server.messages[0])


def test_an_overdue_notice_is_retried_with_backoff_until_sent(
    team, clock, mail_server, django_capture_on_commit_callbacks
):
    owner = make_agent(team, "anna", "Anna")
    clock.set(amsterdam(2026, 3, 2, 9, 0))
    case = services.case_open(subject="Pinpas kwijt", team=team, channel="x_search")
    services.commitment_make(
        case=case,
        owner=owner,
        description="Bel klant terug",
        due_at=amsterdam(2026, 3, 2, 10, 0),
        actor=owner,
    )
    clock.set(amsterdam(2026, 3, 2, 10, 5))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.send_commitment_reminders()["overdue"] == 1
    notice = Notice.objects.get(kind=NoticeKind.COMMITMENT_OVERDUE)

    waits = []
    for _attempt in range(3):
        clock.set(notice.next_attempt_at)
        assert sweep(django_capture_on_commit_callbacks) == {"sent": 0, "not_sent": 1}
        previous = clock.now
        notice.refresh_from_db()
        waits.append(notice.next_attempt_at - previous)
    assert waits == [
        timedelta(seconds=60),
        timedelta(seconds=120),
        timedelta(seconds=240),
    ]
    assert notice.attempts == 4

    mail_server.start()
    clock.set(notice.next_attempt_at)
    assert sweep(django_capture_on_commit_callbacks)["sent"] == 1
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT
    assert mail_server.messages[0]["To"] == f"{owner.email}, webcare-team@example.com"
