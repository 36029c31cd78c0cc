"""The outbox of staff notices (webcare.notices): recorded with the claim, sent at
least once through a real SMTP server, retried, swept, and visible in the admin."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError

from sources.models import Source
from sources.services import source_check_health
from tests.factories import SourceFactory, UserFactory
from tests.smtpserver import body_of
from webcare.notices import tasks as notice_tasks
from webcare.notices.models import Notice, NoticeKind, NoticeStatus
from webcare.notices.services import (
    CLAIM_LEASE,
    MAX_ATTEMPTS,
    NEW_NOTICE_GRACE,
    notice_claim,
    notice_queue,
    notices_send_due,
)

pytestmark = pytest.mark.django_db


def queue(**fields) -> Notice:
    fields = {
        "kind": NoticeKind.SOURCE_HEALTH,
        "subject": "Source needs attention: Forum",
        "body": "It is silent.\n",
        "recipients": ["team@example.com"],
        **fields,
    }
    with transaction.atomic():
        return notice_queue(**fields)


def test_a_health_alert_claimed_while_mail_is_down_is_sent_when_it_is_back(
    mail_server, settings, django_capture_on_commit_callbacks
):
    source = SourceFactory(name="Forum van de bank", expected_silence=timedelta(2))
    Source.objects.filter(pk=source.pk).update(
        created_at=timezone.now() - timedelta(days=10),
        last_item_at=timezone.now() - timedelta(days=3),
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert source_check_health().alerted == [source.pk]

    source.refresh_from_db()
    assert source.silence_alerted_at is not None  # the health state changed
    notice = Notice.objects.get()
    assert (notice.kind, notice.about) == (
        NoticeKind.SOURCE_HEALTH,
        f"source:{source.pk}",
    )
    assert notice.recipients == [settings.WEBCARE_TEAM_EMAIL]
    assert notice.status == NoticeStatus.PENDING
    assert "ConnectionRefusedError" in notice.last_error
    with django_capture_on_commit_callbacks(execute=True):
        assert source_check_health().alerted == []

    mail_server.start()
    report = notices_send_due(now=timezone.now() + timedelta(minutes=1))

    assert report.sent == [notice.pk]
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT
    assert notice.sent_at is not None
    assert mail_server.subjects() == ["Source needs attention: Forum van de bank"]
    assert "no new mention since" in body_of(mail_server.messages[0])


def test_the_notice_rolls_back_with_its_claim(mail_server):
    with pytest.raises(RuntimeError), transaction.atomic():
        notice_queue(
            kind=NoticeKind.SOURCE_HEALTH,
            subject="s",
            body="b",
            recipients=["team@example.com"],
        )
        raise RuntimeError("the claim failed")

    assert Notice.objects.count() == 0


def test_a_notice_whose_queued_message_was_lost_is_swept(
    mail_server, monkeypatch, django_capture_on_commit_callbacks
):
    mail_server.start()

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to redis")

    monkeypatch.setattr(notice_tasks.send_notice, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        notice = queue()
    assert mail_server.messages == []

    # Left to its own task for a while, then taken by the sweep.
    assert notices_send_due(now=timezone.now()).sent == []
    later = timezone.now() + NEW_NOTICE_GRACE + timedelta(seconds=1)
    assert notices_send_due(now=later).sent == [notice.pk]
    assert len(mail_server.messages) == 1


def test_a_notice_whose_worker_died_is_sent_after_its_lease(mail_server):
    mail_server.start()
    notice = queue()
    now = timezone.now()
    # A worker claimed it and died before sending (or recording).
    assert notice_claim(notice_id=notice.pk, now=now) is not None

    assert notices_send_due(now=now + timedelta(seconds=30)).sent == []
    assert notice_claim(notice_id=notice.pk, now=now) is None
    report = notices_send_due(now=now + CLAIM_LEASE + timedelta(seconds=1))

    assert report.sent == [notice.pk]
    notice.refresh_from_db()
    assert (notice.status, notice.attempts) == (NoticeStatus.SENT, 2)
    assert len(mail_server.messages) == 1


def test_a_notice_without_recipient_is_recorded_as_failed():
    notice = queue(recipients=["", "  "])

    assert notice.status == NoticeStatus.FAILED
    assert notice.last_error == "No recipient address."


def test_the_sweep_stops_while_the_server_is_down(mail_server):
    first, second = queue(), queue()
    later = timezone.now() + timedelta(minutes=5)

    report = notices_send_due(now=later)

    # One refused connection is enough to know; the other keeps its attempts.
    assert report.not_sent == [first.pk]
    second.refresh_from_db()
    assert second.attempts == 0


def test_after_the_last_attempt_it_fails_and_staff_can_send_it_again(
    mail_server, client, django_capture_on_commit_callbacks
):
    notice = queue()
    Notice.objects.filter(pk=notice.pk).update(attempts=MAX_ATTEMPTS - 1)
    notices_send_due(now=timezone.now() + timedelta(minutes=5))
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.FAILED
    assert notice.next_attempt_at is None
    assert "ConnectionRefusedError" in notice.last_error

    manager = UserFactory(username="mira", groups=["manager"])
    client.force_login(manager)
    changelist = reverse("admin:notices_notice_changelist")
    page = client.get(changelist, {"delivered": "no"})
    assert page.status_code == 200
    assert "Source needs attention: Forum" in page.content.decode()

    mail_server.start()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            changelist,
            {"action": "send_again", "_selected_action": [notice.pk]},
            follow=True,
        )
    assert "Queued 1 notice again." in response.content.decode()
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT
    assert len(mail_server.messages) == 1
    assert client.get(changelist, {"delivered": "no"}).context["cl"].result_count == 0


def test_only_managers_see_the_notices(client):
    queue()
    url = reverse("admin:notices_notice_changelist")
    client.force_login(UserFactory(username="anna", groups=["agent"]))
    assert client.get(url).status_code == 403
    client.force_login(UserFactory(username="mira", groups=["manager"]))
    assert client.get(url).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_send_each_notice_once(on_postgres, mail_server):
    """Real threads on PostgreSQL: the claim (a conditional UPDATE) lets one win."""
    mail_server.start()
    # As left by an outage: pending, nothing queued for them any more.
    notices = Notice.objects.bulk_create(
        Notice(
            kind=NoticeKind.SOURCE_HEALTH,
            subject=f"notice {n}",
            body="-",
            recipients=["team@example.com"],
        )
        for n in range(30)
    )
    later = timezone.now() + timedelta(minutes=5)
    barrier = threading.Barrier(2)
    reports = []

    def sweep():
        try:
            barrier.wait()
            reports.append(notices_send_due(now=later))
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    sent = sorted(pk for report in reports for pk in report.sent)
    assert sent == sorted(notice.pk for notice in notices)
    assert sorted(mail_server.subjects()) == sorted(f"notice {n}" for n in range(30))
    assert set(Notice.objects.values_list("status", flat=True)) == {NoticeStatus.SENT}
    assert set(Notice.objects.values_list("attempts", flat=True)) == {1}
