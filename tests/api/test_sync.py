"""Incremental sync: keyset pages by (updated_at, id) that neither skip nor repeat."""

import base64
import json
import random
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cases.models import Case, Topic
from tests.factories import CaseFactory, SurveyFactory

CASES = "/api/v1/cases/"


def page_through(crm, params=None, cursor=None):
    """Every page from `cursor` on; returns (rows, last next_cursor)."""
    rows = []
    while True:
        query = {**(params or {}), **({"cursor": cursor} if cursor else {})}
        body = crm.get(CASES, query).json()
        rows.extend(body["results"])
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return rows, cursor


def spread_updates(cases, minutes_ago=60):
    now = timezone.now()
    for index, case in enumerate(cases):
        Case.objects.filter(pk=case.pk).update(
            updated_at=now - timedelta(minutes=minutes_ago - index)
        )


@pytest.mark.django_db
def test_rows_changing_while_paging_are_neither_missed_nor_repeated(crm):
    cases = CaseFactory.create_batch(23)
    spread_updates(cases)
    seen: list[tuple[int, str]] = []
    cursor, changed = None, []
    while True:
        body = crm.get(
            CASES, {"page_size": 5, **({"cursor": cursor} if cursor else {})}
        ).json()
        seen.extend((row["id"], row["updated_at"]) for row in body["results"])
        if len(seen) == 5:
            # One row already seen and one not yet seen change; a new one appears.
            for case in (cases[0], cases[15]):
                crm.patch(f"{CASES}{case.pk}/", {"priority": "high"}, format="json")
                changed.append(case.pk)
            changed.append(CaseFactory().pk)
        cursor = body["next_cursor"]
        if not body["has_more"]:
            break
    assert len(seen) == len(set(seen)), "a version was served twice"
    latest = {case.pk: case.updated_at for case in Case.objects.all()}
    served = {}
    for case_id, updated_at in seen:
        served[case_id] = updated_at
    assert set(served) == set(latest)
    for case_id, updated_at in served.items():
        assert parse_datetime(updated_at) == latest[case_id]
    # Only rows that changed were served twice (old and new version).
    repeated = {
        case_id for case_id, _ in seen if [i for i, _ in seen].count(case_id) > 1
    }
    assert repeated == {cases[0].pk}

    # Polling later from the kept cursor gives exactly what changed since.
    case = Case.objects.get(pk=cases[7].pk)
    crm.patch(f"{CASES}{case.pk}/", {"subject": "Nieuw onderwerp"}, format="json")
    rows, _ = page_through(crm, cursor=cursor)
    assert [row["id"] for row in rows] == [case.pk]


@pytest.mark.django_db
def test_the_settle_window_holds_back_rows_younger_than_it(crm, settings):
    settings.WEBCARE_API_SYNC_SETTLE_SECONDS = 5
    old, fresh = CaseFactory(), CaseFactory()
    spread_updates([old])
    assert [row["id"] for row in crm.get(CASES).json()["results"]] == [old.pk]
    Case.objects.filter(pk=fresh.pk).update(
        updated_at=timezone.now() - timedelta(seconds=6)
    )
    assert [row["id"] for row in crm.get(CASES).json()["results"]] == [old.pk, fresh.pk]
    # Another ordering is not a sync: no window.
    rows = crm.get(CASES, {"ordering": "-created_at"}).json()["results"]
    assert len(rows) == 2


@pytest.mark.django_db
def test_bad_cursors_and_page_sizes_are_400(crm):
    CaseFactory.create_batch(3)
    body = crm.get(CASES, {"page_size": 1}).json()
    assert crm.get(CASES, {"cursor": "not-a-cursor"}).status_code == 400
    assert crm.get(CASES, {"cursor": "e30"}).status_code == 400  # "{}"
    other = crm.get(CASES, {"cursor": body["next_cursor"], "ordering": "-created_at"})
    assert other.status_code == 400
    for size in ("0", "501", "ten", "-5"):
        assert crm.get(CASES, {"page_size": size}).status_code == 400


@pytest.mark.django_db
def test_it_rejects_a_cursor_with_an_impossible_time(crm):
    CaseFactory()

    def cursor(moment):
        raw = json.dumps({"o": ["updated_at", "id"], "v": [moment, 1]}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    for moment in ("2026-13-45T00:00:00+00:00", "2026-01-01T00:00:00+99:00"):
        response = crm.get(CASES, {"cursor": cursor(moment)})
        assert response.status_code == 400
        assert response.json() == {"cursor": ["Invalid cursor."]}


@pytest.mark.django_db
def test_queries_per_page_are_constant_whatever_the_page_size(crm, agent):
    topics = [Topic.objects.create(name=name) for name in ("A", "B", "C")]
    for index in range(120):
        case = CaseFactory(assignee=agent if index % 2 else None)
        case.topics.add(*topics[: index % 4])
        if index % 5 == 0:
            SurveyFactory(case=case)
    crm.get(CASES)  # warm up: last_used_at is written once a minute at most
    counts = {}
    for size in (10, 50, 100):
        with CaptureQueriesContext(connection) as queries:
            response = crm.get(CASES, {"page_size": size, "status": "new"})
        assert len(response.json()["results"]) == size
        counts[size] = len(queries)
    assert counts[10] == counts[50] == counts[100] == 3  # token, cases, topics


# -- PostgreSQL: real concurrent transactions ----------------------------------------


def _in_thread(target, *args):
    def run():
        try:
            target(*args)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("settle", [0, 1.5])
def test_a_slow_commit_is_missed_only_without_the_settle_window(
    on_postgres, crm, settings, settle
):
    settings.WEBCARE_API_SYNC_SETTLE_SECONDS = settle
    slow, quick = CaseFactory(), CaseFactory()
    spread_updates([slow, quick], minutes_ago=10)
    _, cursor = page_through(crm)
    time.sleep(settle)
    saved, read = threading.Event(), threading.Event()

    def slow_writer():
        with transaction.atomic():
            case = Case.objects.get(pk=slow.pk)
            case.subject = "saved early, committed late"
            case.save()
            saved.set()
            read.wait(10)

    writer = _in_thread(slow_writer)
    saved.wait(10)
    Case.objects.filter(pk=quick.pk).update(updated_at=timezone.now())  # commits now
    rows, cursor = page_through(crm, cursor=cursor)
    read.set()
    writer.join()
    time.sleep(settle)
    later, _ = page_through(crm, cursor=cursor)
    served = {row["id"] for row in rows + later}
    if settle:
        assert served == {slow.pk, quick.pk}
    else:
        # Why the window exists: the reader stepped past the uncommitted change.
        assert served == {quick.pk}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sync_under_concurrent_writers_sees_every_final_version(
    on_postgres, crm, settings
):
    settings.WEBCARE_API_SYNC_SETTLE_SECONDS = 1
    cases = CaseFactory.create_batch(60)
    spread_updates(cases)
    stop = threading.Event()

    def writer(seed):
        rng = random.Random(seed)
        while not stop.is_set():
            with transaction.atomic():
                case = Case.objects.select_for_update().get(pk=rng.choice(cases).pk)
                case.reach += 1
                case.save()
                time.sleep(rng.uniform(0, 0.05))  # commit a little after saving

    writers = [_in_thread(writer, seed) for seed in range(3)]
    seen: list[tuple[int, str]] = []
    cursor = None
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        query = {"page_size": 7, **({"cursor": cursor} if cursor else {})}
        body = crm.get(CASES, query).json()
        seen.extend((row["id"], row["updated_at"]) for row in body["results"])
        cursor = body["next_cursor"]
    stop.set()
    for thread in writers:
        thread.join()
    time.sleep(1.1)
    rows, _ = page_through(crm, {"page_size": 7}, cursor=cursor)
    seen.extend((row["id"], row["updated_at"]) for row in rows)

    assert len(seen) == len(set(seen)), "a version was served twice"
    last_served = dict(seen)
    for case in Case.objects.all():
        assert parse_datetime(last_served[case.pk]) == case.updated_at
