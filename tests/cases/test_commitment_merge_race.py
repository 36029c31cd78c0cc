"""Keeping a promise while its case is merged: the kept event and the queue order
land on the surviving case (issue 17, item 9). Real threads on PostgreSQL, in a
fixed interleaving: the merge holds both cases while the keep reads the
commitment's (old) case and waits for its lock; then the merge commits."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from cases import services
from cases.models import Case, CaseEvent, Commitment, CommitmentStatus, EventKind
from tests.factories import TeamFactory, UserFactory
from tests.threads import waiting_for_a_lock


@pytest.mark.django_db(transaction=True)
def test_a_promise_kept_during_a_merge_is_kept_on_the_surviving_case(on_postgres):
    team = TeamFactory(name="Webcare", email="team@example.com")
    into = services.case_open(subject="Pinpas kwijt", team=team, channel="x_search")
    duplicate = services.case_open(subject="Pinpas", team=team, channel="x_search")
    owner = UserFactory(username="anna")
    promise = services.commitment_make(
        case=duplicate,
        owner=owner,
        description="Bel klant terug",
        due_at=timezone.now() + timedelta(hours=1),
    )
    merged = threading.Event()
    may_commit = threading.Event()
    errors = []

    def merge():
        try:
            with transaction.atomic():
                services.case_merge(duplicate=duplicate, into=into)
                merged.set()
                assert may_commit.wait(10)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
            merged.set()
        finally:
            connection.close()

    def keep():
        try:
            services.commitment_keep(commitment=promise)
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    merger = threading.Thread(target=merge)
    merger.start()
    assert merged.wait(10)
    keeper = threading.Thread(target=keep)
    keeper.start()
    deadline = time.monotonic() + 10
    while waiting_for_a_lock() == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert waiting_for_a_lock() == 1  # the keep waits for the duplicate's lock
    may_commit.set()
    merger.join(10)
    keeper.join(10)

    assert errors == []
    promise.refresh_from_db()
    into.refresh_from_db()
    duplicate.refresh_from_db()
    assert promise.status == CommitmentStatus.KEPT
    assert promise.case_id == into.pk
    kept = CaseEvent.objects.filter(kind=EventKind.COMMITMENT_KEPT)
    assert list(kept.values_list("case_id", flat=True)) == [into.pk]
    # The surviving case no longer sorts on the kept promise.
    assert into.next_due_at != promise.due_at
    assert Case.objects.get(pk=into.pk).commitments.open().count() == 0
    assert duplicate.merged_into_id == into.pk
    assert Commitment.objects.filter(case=duplicate).count() == 0
