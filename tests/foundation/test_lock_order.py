"""One lock order (case before commitment or survey) on the sweeps as on the
services: a sweep paused while it holds its rows meets a merge or a send that wants
the same rows; before, PostgreSQL found a deadlock and aborted one of them.

Each test pauses the sweep right before it writes the case event (the write that
needs the case row), starts the other operation, lets it block, and releases.
"""

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from cases import services
from cases.models import CaseEvent, EventKind, Priority
from cases.services import commitments as commitment_services
from reporting.models import Survey, SurveyStatus
from reporting.services import delivery
from tests.factories import AuthorFactory, CaseFactory, TeamFactory, UserFactory
from tests.threads import errors, start, waiting_for_a_lock

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def pause_before(module, name, paused, release):
    """Make `module.name` wait for `release` (after setting `paused`) when called."""
    real = getattr(module, name)

    def paused_call(*args, **kwargs):
        paused.set()
        assert release.wait(15)
        return real(*args, **kwargs)

    return paused_call


def meet(first, second, paused, release) -> list[BaseException]:
    one = start(first)
    assert paused.wait(15), one.error
    two = start(second)
    deadline = time.monotonic() + 10
    while waiting_for_a_lock() == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    release.set()
    one.join(20)
    two.join(20)
    return errors([one, two])


def test_an_overdue_promise_claimed_during_a_merge_does_not_deadlock(
    on_postgres, monkeypatch
):
    team = TeamFactory(name="Webcare", email="team@example.com")
    duplicate = CaseFactory(team=team, priority=Priority.URGENT)
    into = CaseFactory(team=team, priority=Priority.URGENT)
    promise = services.commitment_make(
        case=duplicate,
        owner=UserFactory(),
        description="Bel klant terug",
        due_at=timezone.now() + timedelta(minutes=5),
    )
    paused, release = threading.Event(), threading.Event()
    paused_call = pause_before(
        commitment_services.events, "target_breached_event", paused, release
    )
    monkeypatch.setattr(
        commitment_services.events, "target_breached_event", paused_call
    )
    later = timezone.now() + timedelta(hours=1)

    failures = meet(
        lambda: commitment_services.commitment_reminders_send(now=later),
        lambda: services.case_merge(duplicate=duplicate, into=into),
        paused,
        release,
    )

    assert failures == []
    promise.refresh_from_db()
    assert promise.case_id == into.pk
    assert promise.overdue_notified_at is not None
    assert (
        CaseEvent.objects.filter(
            kind=EventKind.TARGET_BREACHED, data__commitment_id=promise.pk
        ).count()
        == 1
    )


def test_a_survey_expiring_while_its_reminder_is_sent_does_not_deadlock(
    on_postgres, monkeypatch, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    case = CaseFactory(status="resolved", resolved_at=timezone.now())
    sent = timezone.now() - timedelta(days=20)
    survey = Survey.objects.create(
        case=case,
        recipient=AuthorFactory(email="klant@example.com"),
        email="klant@example.com",
        status=SurveyStatus.SENT,
        scheduled_for=sent,
        sent_at=sent,
    )
    paused, release = threading.Event(), threading.Event()
    manager = CaseEvent.objects
    real = manager.bulk_create

    def paused_bulk_create(*args, **kwargs):
        paused.set()
        assert release.wait(15)
        return real(*args, **kwargs)

    monkeypatch.setattr(manager, "bulk_create", paused_bulk_create)

    failures = meet(
        lambda: delivery.survey_expire_due(),
        lambda: delivery.survey_deliver(survey_id=survey.pk),
        paused,
        release,
    )

    assert failures == []
    survey.refresh_from_db()
    assert survey.status == SurveyStatus.EXPIRED
