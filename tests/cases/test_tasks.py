"""The periodic tasks: breach detection and promise reminders, each notice once."""

import threading
from datetime import timedelta

import pytest
from django.db import connection

from cases import services, tasks
from cases.models import Case, CaseEvent, EventKind, ServiceTarget
from tests.cases.conftest import amsterdam, make_agent
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


def open_case(team, **kwargs):
    kwargs.setdefault("channel", "x_search")
    return services.case_open(subject="Pinpas\nkwijt", team=team, **kwargs)


def run_deadlines(capture):
    with capture(execute=True):
        return tasks.check_case_deadlines()


def run_reminders(capture):
    with capture(execute=True):
        return tasks.send_commitment_reminders()


def test_it_warns_then_flags_a_breach_once_each(
    team, clock, mailoutbox, django_capture_on_commit_callbacks
):
    clock.set(amsterdam(2026, 3, 2, 9, 0))
    case = open_case(team)  # first response due 11:00
    clock.set(amsterdam(2026, 3, 2, 10, 20))
    assert run_deadlines(django_capture_on_commit_callbacks)["warnings"] == 0
    clock.set(amsterdam(2026, 3, 2, 10, 40))
    assert run_deadlines(django_capture_on_commit_callbacks) == {
        "warnings": 1,
        "breaches": 0,
        "escalation_breaches": 0,
    }
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["webcare-team@example.com"]
    assert "About to breach" in mailoutbox[0].body
    assert "Pinpas kwijt" in mailoutbox[0].body
    # The second run in the same state finds nothing to claim.
    assert run_deadlines(django_capture_on_commit_callbacks)["warnings"] == 0
    assert len(mailoutbox) == 1
    clock.set(amsterdam(2026, 3, 2, 11, 1))
    assert run_deadlines(django_capture_on_commit_callbacks)["breaches"] == 1
    assert run_deadlines(django_capture_on_commit_callbacks)["breaches"] == 0
    assert len(mailoutbox) == 2
    assert "Breached" in mailoutbox[1].body
    case.refresh_from_db()
    assert case.first_response_warned_at == amsterdam(2026, 3, 2, 10, 40)
    assert case.first_response_breached_at == amsterdam(2026, 3, 2, 11, 1)
    kinds = list(
        CaseEvent.objects.filter(case=case)
        .exclude(kind__in=[EventKind.CREATED])
        .values_list("kind", "data__target")
    )
    assert kinds == [
        (EventKind.TARGET_WARNING, "first_response"),
        (EventKind.TARGET_BREACHED, "first_response"),
    ]


def test_a_case_found_past_due_is_breached_without_a_warning(
    team, clock, mailoutbox, django_capture_on_commit_callbacks
):
    clock.set(amsterdam(2026, 3, 2, 9, 0))
    case = open_case(team)
    clock.set(amsterdam(2026, 3, 2, 12, 50))  # after the lunch break
    run_deadlines(django_capture_on_commit_callbacks)
    run_deadlines(django_capture_on_commit_callbacks)
    assert len(mailoutbox) == 1
    assert "About to breach" not in mailoutbox[0].body
    case.refresh_from_db()
    assert case.first_response_warned_at == case.first_response_breached_at


def test_a_reply_in_time_means_no_notice(
    team, agent, clock, mailoutbox, django_capture_on_commit_callbacks
):
    clock.set(amsterdam(2026, 3, 2, 9, 0))
    case = open_case(team)
    services.case_reply(case=case, agent=agent, text="Hoi!")
    clock.set(amsterdam(2026, 3, 2, 11, 30))
    run_deadlines(django_capture_on_commit_callbacks)
    assert mailoutbox == []


def test_no_breach_mail_outside_hours_unless_urgent(
    team, clock, mailoutbox, django_capture_on_commit_callbacks
):
    clock.set(amsterdam(2026, 3, 6, 19, 0))  # Friday evening
    normal = open_case(team)  # due Saturday 10:00
    urgent = open_case(team, priority="urgent")  # due 19:30
    clock.set(amsterdam(2026, 3, 7, 0, 30))  # Saturday, midnight: closed
    run_deadlines(django_capture_on_commit_callbacks)
    assert len(mailoutbox) == 1
    assert f"#{urgent.pk}" in mailoutbox[0].body
    assert f"#{normal.pk} " not in mailoutbox[0].body
    clock.set(amsterdam(2026, 3, 7, 10, 5))  # open again, and past due
    run_deadlines(django_capture_on_commit_callbacks)
    assert len(mailoutbox) == 2
    assert f"#{normal.pk} " in mailoutbox[1].body
    assert Case.objects.get(pk=normal.pk).first_response_breached_at is not None


def test_a_waiting_case_does_not_breach_its_resolution(
    team, agent, clock, mailoutbox, django_capture_on_commit_callbacks
):
    clock.set(amsterdam(2026, 3, 2, 9, 0))
    case = open_case(team, priority="urgent")
    services.case_reply(case=case, agent=agent, text="Welke pas?")
    services.case_wait_for_customer(case=case, actor=agent)
    clock.set(amsterdam(2026, 3, 3, 15, 0))
    run_deadlines(django_capture_on_commit_callbacks)
    assert mailoutbox == []


def test_a_late_escalation_acknowledgement_is_reported_once(
    team, agent, clock, mailoutbox, django_capture_on_commit_callbacks
):
    clock.set(amsterdam(2026, 3, 2, 9, 0))
    case = open_case(team)
    services.case_reply(case=case, agent=agent, text="We zoeken het uit.")
    escalation = services.case_escalate(
        case=case, department="offices", reason="Kantoor bellen", actor=agent
    )
    mailoutbox.clear()
    clock.set(escalation.acknowledgement_due_at + timedelta(minutes=1))
    result = run_deadlines(django_capture_on_commit_callbacks)
    run_deadlines(django_capture_on_commit_callbacks)
    assert result["escalation_breaches"] == 1
    assert len(mailoutbox) == 1
    assert "Escalations not acknowledged in time" in mailoutbox[0].body
    escalation.refresh_from_db()
    assert escalation.acknowledgement_breached_at == clock.now


def test_each_team_hears_only_of_its_own_cases(
    team, clock, mailoutbox, django_capture_on_commit_callbacks
):
    business = TeamFactory(name="Zakelijk", email="zakelijk-webcare@example.com")
    clock.set(amsterdam(2026, 3, 2, 9, 0))
    open_case(team)
    open_case(business)
    clock.set(amsterdam(2026, 3, 2, 12, 50))  # after the lunch break
    run_deadlines(django_capture_on_commit_callbacks)
    assert sorted(mail.to[0] for mail in mailoutbox) == [
        "webcare-team@example.com",
        "zakelijk-webcare@example.com",
    ]


def make_promise(case, owner, due_at):
    return services.commitment_make(
        case=case,
        owner=owner,
        description="Bel klant terug",
        due_at=due_at,
        actor=owner,
    )


def test_a_promise_reminder_goes_to_the_owner_once(
    team, clock, mailoutbox, django_capture_on_commit_callbacks
):
    owner = make_agent(team, "anna", "Anna")
    clock.set(amsterdam(2026, 3, 2, 9, 0))
    promise = make_promise(open_case(team), owner, amsterdam(2026, 3, 2, 14, 0))
    clock.set(amsterdam(2026, 3, 2, 13, 20))
    assert run_reminders(django_capture_on_commit_callbacks)["reminded"] == 0
    clock.set(amsterdam(2026, 3, 2, 13, 35))
    assert run_reminders(django_capture_on_commit_callbacks)["reminded"] == 1
    assert run_reminders(django_capture_on_commit_callbacks)["reminded"] == 0
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [owner.email]
    assert "Bel klant terug" in mailoutbox[0].body
    promise.refresh_from_db()
    assert promise.reminder_sent_at == clock.now


def test_an_overdue_promise_is_reported_to_owner_and_team_once(
    team, clock, mailoutbox, django_capture_on_commit_callbacks
):
    owner = make_agent(team, "anna", "Anna")
    clock.set(amsterdam(2026, 3, 2, 9, 0))
    case = open_case(team)
    promise = make_promise(case, owner, amsterdam(2026, 3, 2, 10, 0))
    clock.set(amsterdam(2026, 3, 2, 10, 5))
    assert run_reminders(django_capture_on_commit_callbacks) == {
        "reminded": 0,
        "overdue": 1,
    }
    run_reminders(django_capture_on_commit_callbacks)
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [owner.email, "webcare-team@example.com"]
    promise.refresh_from_db()
    assert promise.overdue_notified_at == clock.now
    assert promise.reminder_sent_at == clock.now  # no late reminder after this
    event = case.events.get(kind=EventKind.TARGET_BREACHED)
    assert event.data["target"] == "commitment"


def test_an_overdue_promise_waits_for_opening_hours_unless_urgent(
    team, clock, mailoutbox, django_capture_on_commit_callbacks
):
    owner = make_agent(team, "anna", "Anna")
    clock.set(amsterdam(2026, 3, 6, 19, 0))
    make_promise(open_case(team), owner, amsterdam(2026, 3, 6, 23, 0))
    clock.set(amsterdam(2026, 3, 6, 23, 30))
    assert run_reminders(django_capture_on_commit_callbacks)["overdue"] == 0
    clock.set(amsterdam(2026, 3, 7, 9, 1))
    assert run_reminders(django_capture_on_commit_callbacks)["overdue"] == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_send_each_notice_once(on_postgres, settings, mailoutbox):
    """Real concurrency on PostgreSQL: the conditional UPDATE lets one worker win."""
    from datetime import UTC, datetime

    ServiceTarget.objects.get_or_create(
        priority="normal",
        channel="",
        defaults={
            "first_response": timedelta(hours=2),
            "resolution": timedelta(hours=16),
            "escalation_acknowledgement": timedelta(hours=4),
        },
    )
    team = TeamFactory(name="Webcare", email="team@example.com")
    cases = [open_case(team) for _ in range(20)]
    Case.objects.filter(pk__in=[c.pk for c in cases]).update(
        first_response_due_at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    )
    now = amsterdam(2026, 3, 2, 10, 0)
    barrier = threading.Barrier(2)
    results = []

    def worker():
        try:
            barrier.wait()
            results.append(services.case_deadlines_check(now=now))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed = [case_id for report in results for case_id, _ in report.breaches]
    assert sorted(claimed) == sorted(c.pk for c in cases)
    assert CaseEvent.objects.filter(kind=EventKind.TARGET_BREACHED).count() == len(
        cases
    )
    # Mail goes out after each worker's commit: one line per case in all mails.
    body = "".join(mail.body for mail in mailoutbox)
    assert sum(body.count(f"- #{c.pk} ") for c in cases) == len(cases)
