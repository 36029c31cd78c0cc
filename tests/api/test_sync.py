"""Incremental sync: keyset pages by (sync_position, id) that neither skip nor repeat.

Tests that change rows between polls commit each write (`transaction=True`): on
PostgreSQL all writes of one transaction share one sync position, so inside a test's
own transaction a row already served could not move behind the cursor.
"""

import base64
import json
import random
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cases.models import Case, Escalation, Topic
from reporting.models import Survey
from sources.models import Mention
from tests.factories import (
    CaseFactory,
    EscalationFactory,
    MentionFactory,
    SurveyFactory,
    UserFactory,
)
from tests.threads import errors, start

CASES = "/api/v1/cases/"
MENTIONS = "/api/v1/mentions/"


def page_through(crm, params=None, cursor=None, *, path=CASES):
    """Every page from `cursor` on; returns (rows, last next_cursor)."""
    rows = []
    while True:
        query = {**(params or {}), **({"cursor": cursor} if cursor else {})}
        response = crm.get(path, query)
        assert response.status_code == 200, response.content
        body = response.json()
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


# Committed writes, as in production: on PostgreSQL every write of one transaction
# shares one position, so a test's own transaction could not move a row it served.
@pytest.mark.django_db(transaction=True)
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


@pytest.mark.django_db(transaction=True)
def test_a_queryset_update_moves_the_sync_position_and_updated_at(crm):
    """Writes that bypass save() (the deadline check's breach flags, a merge moving
    mentions) are still served by the next poll, and `updated_since` sees them."""
    case, other = CaseFactory(), CaseFactory()
    spread_updates([case, other], minutes_ago=30)
    _, cursor = page_through(crm)
    before = Case.objects.get(pk=case.pk)
    Case.objects.filter(pk=case.pk).update(first_response_breached_at=timezone.now())
    after = Case.objects.get(pk=case.pk)
    assert after.sync_position > before.sync_position
    assert after.updated_at > before.updated_at
    rows, _ = page_through(crm, cursor=cursor)
    assert [row["id"] for row in rows] == [case.pk]
    since = (timezone.now() - timedelta(minutes=1)).isoformat()
    assert [
        row["id"] for row in crm.get(CASES, {"updated_since": since}).json()["results"]
    ] == [case.pk]


@pytest.mark.django_db(transaction=True)
def test_a_mention_moved_by_a_merge_is_served_again(crm):
    from cases import services

    manager = UserFactory(is_superuser=True)  # the role groups are flushed here
    mention = MentionFactory()
    survivor, duplicate = CaseFactory(), CaseFactory()
    Mention.objects.filter(pk=mention.pk).update(case=duplicate)
    _, cursor = page_through(crm, path=MENTIONS)
    services.case_merge(duplicate=duplicate, into=survivor, actor=manager)
    rows, _ = page_through(crm, path=MENTIONS, cursor=cursor)
    assert [(row["id"], row["case"]) for row in rows] == [(mention.pk, survivor.pk)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "path, change",
    [
        (
            "/api/v1/escalations/",
            lambda row: Escalation.objects.filter(pk=row.pk).update(
                status="acknowledged", acknowledged_at=timezone.now()
            ),
        ),
        (
            "/api/v1/surveys/",
            lambda row: Survey.objects.filter(pk=row.pk).update(
                status="answered", score=9, responded_at=timezone.now()
            ),
        ),
    ],
    ids=["escalation acknowledged", "survey answered"],
)
def test_escalations_and_surveys_sync_their_changes_not_only_their_creation(
    crm, path, change
):
    row = (EscalationFactory if "escalations" in path else SurveyFactory)()
    first, cursor = page_through(crm, path=path)
    assert [item["id"] for item in first] == [row.pk]
    change(row)
    later, _ = page_through(crm, path=path, cursor=cursor)
    assert [item["id"] for item in later] == [row.pk]
    assert later[0]["status"] in ("acknowledged", "answered")


@pytest.mark.django_db
def test_a_cursor_from_before_the_sync_position_asks_for_a_fresh_sync(crm):
    CaseFactory()
    raw = json.dumps({"o": ["updated_at", "id"], "v": [timezone.now().isoformat(), 1]})
    cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    response = crm.get(CASES, {"cursor": cursor})
    assert response.status_code == 400
    assert "sync once more from the start" in response.json()["cursor"][0]


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
        response = crm.get(CASES, {"cursor": cursor(moment), "ordering": "updated_at"})
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


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_change_committed_long_after_it_was_saved_is_still_served(on_postgres, crm):
    """The old 2-second window stepped over such a change for good. The writer
    here saves, then holds its transaction open while the client polls (and is
    served a later, quicker commit), then commits; the next poll serves it. The wait
    is set by events, not by a clock: the sync position does not depend on how long
    the transaction stays open (60 s behaves as 0.5 s)."""
    slow, quick = CaseFactory(), CaseFactory()
    _, cursor = page_through(crm)
    saved, polled = threading.Event(), threading.Event()

    def slow_writer():
        with transaction.atomic():
            case = Case.objects.get(pk=slow.pk)
            case.subject = "saved early, committed late"
            case.save()
            saved.set()
            assert polled.wait(30)

    writer = start(slow_writer)
    assert saved.wait(10)
    quick_case = Case.objects.get(pk=quick.pk)
    quick_case.subject = "saved and committed at once"
    quick_case.save()
    rows, cursor = page_through(crm, cursor=cursor)
    assert [row["id"] for row in rows] == []  # held back behind the open writer
    time.sleep(0.5)
    rows, cursor = page_through(crm, cursor=cursor)
    assert [row["id"] for row in rows] == []
    polled.set()
    writer.join()
    assert writer.error is None, writer.error
    later, _ = page_through(crm, cursor=cursor)
    served = {row["id"]: row["subject"] for row in later}
    assert served == {
        slow.pk: "saved early, committed late",
        quick.pk: "saved and committed at once",
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sync_under_concurrent_writers_sees_every_final_version(on_postgres, crm):
    cases = CaseFactory.create_batch(60)
    stop = threading.Event()
    writes = []

    def writer(seed):
        rng = random.Random(seed)
        while not stop.is_set():
            with transaction.atomic():
                case = Case.objects.select_for_update().get(pk=rng.choice(cases).pk)
                case.reach += 1
                case.save()
                time.sleep(rng.uniform(0, 0.3))  # commit well after saving
            writes.append(case.pk)

    writers = [start(writer, seed) for seed in range(3)]
    seen: list[tuple[int, int]] = []
    cursor = None
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        query = {"page_size": 7, **({"cursor": cursor} if cursor else {})}
        body = crm.get(CASES, query).json()
        seen.extend((row["id"], row["reach"]) for row in body["results"])
        cursor = body["next_cursor"]
    stop.set()
    for thread in writers:
        thread.join()
    assert errors(writers) == [], "a writer crashed"
    assert len(writes) > 10
    rows, _ = page_through(crm, {"page_size": 7}, cursor=cursor)
    seen.extend((row["id"], row["reach"]) for row in rows)

    assert len(seen) == len(set(seen)), "a version was served twice"
    last_served = dict(seen)
    for case in Case.objects.all():
        assert last_served[case.pk] == case.reach
