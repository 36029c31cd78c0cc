import threading
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from cases import services
from cases.models import Case
from sources.models import Mention
from tests.factories import CaseFactory, SourceFactory
from tests.threads import errors, run_at_once, start
from webcare.api import idempotency
from webcare.api.models import IdempotencyKey

pytestmark = pytest.mark.django_db

CASES = "/api/v1/cases/"


def post(crm, path, body, key):
    return crm.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_retried_create_is_answered_not_redone(crm):
    first = post(crm, CASES, {"subject": "Pas kwijt"}, "k-1")
    again = post(crm, CASES, {"subject": "Pas kwijt"}, "k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Case.objects.count() == 1


def test_the_same_key_with_another_body_is_refused(crm):
    post(crm, CASES, {"subject": "Pas kwijt"}, "k-2")
    response = post(crm, CASES, {"subject": "Iets anders"}, "k-2")
    assert response.status_code == 422
    assert Case.objects.count() == 1


def test_keys_are_per_client(crm, make_crm):
    other = make_crm(("read", "write"), name="other")
    post(crm, CASES, {"subject": "Pas kwijt"}, "shared")
    assert post(other, CASES, {"subject": "Pas kwijt"}, "shared").status_code == 201
    assert Case.objects.count() == 2


def test_a_failed_request_does_not_keep_the_key(crm):
    assert post(crm, CASES, {"priority": "high"}, "k-3").status_code == 400
    assert not IdempotencyKey.objects.exists()
    assert post(crm, CASES, {"subject": "Nu goed"}, "k-3").status_code == 201


def test_another_body_while_the_first_request_runs_is_refused(crm):
    # The first request claimed the key for another body and has not answered yet.
    IdempotencyKey.objects.create(
        client=crm.record, key="k-4", request_fingerprint="x" * 64
    )
    response = post(crm, CASES, {"subject": "Pas kwijt"}, "k-4")
    assert response.status_code == 422
    assert response.json() == {
        "detail": "This Idempotency-Key was used for a different request."
    }
    assert not Case.objects.exists()


def test_a_request_still_running_with_the_same_body_is_409(crm, monkeypatch):
    seen = {}
    real = idempotency.fingerprint

    def spy(request):
        seen["value"] = real(request)
        return seen["value"]

    monkeypatch.setattr(idempotency, "fingerprint", spy)
    post(crm, CASES, {"subject": "a"}, "probe")
    IdempotencyKey.objects.create(
        client=crm.record, key="k-5", request_fingerprint=seen["value"]
    )
    response = post(crm, CASES, {"subject": "a"}, "k-5")
    # The first request with this key and body has not answered yet.
    assert response.status_code == 409
    assert Case.objects.count() == 1


def test_an_invalid_key_is_a_400(crm):
    response = post(crm, CASES, {"subject": "x"}, "with space")
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()


def test_ingest_and_actions_are_idempotent_too(crm, agent):
    source = SourceFactory(kind="manual")
    body = {"source": source.pk, "items": [{"external_id": "m1", "text": "hoi"}]}
    first = post(crm, "/api/v1/mentions/ingest/", body, "i-1")
    again = post(crm, "/api/v1/mentions/ingest/", body, "i-1")
    assert first.json() == again.json() and first.json()["new"] == 1
    assert Mention.objects.count() == 1
    case = CaseFactory()
    escalate = {"department": "pr", "reason": "Journalist vraagt"}
    post(crm, f"{CASES}{case.pk}/escalate/", escalate, "e-1")
    post(crm, f"{CASES}{case.pk}/escalate/", escalate, "e-1")
    assert case.escalations.count() == 1


# --- A key whose holder died or expired --------------------------------------------


def test_an_abandoned_key_is_taken_over_and_the_work_done_once(crm):
    # A request claimed the key and its process died: no answer, older than STALE.
    abandoned = IdempotencyKey.objects.create(
        client=crm.record,
        key="k-stale",
        request_fingerprint="x" * 64,
        created_at=timezone.now() - idempotency.STALE - timedelta(seconds=1),
    )
    response = post(crm, CASES, {"subject": "Pas kwijt"}, "k-stale")
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Case.objects.get().subject == "Pas kwijt"
    key = IdempotencyKey.objects.get()
    assert key.pk == abandoned.pk
    assert key.response_status == 201
    assert key.response_body == response.json()
    assert key.created_at > timezone.now() - timedelta(minutes=1)
    # Its answer is now the one replayed.
    again = post(crm, CASES, {"subject": "Pas kwijt"}, "k-stale")
    assert again.json() == response.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Case.objects.count() == 1


def test_a_claim_younger_than_stale_is_not_taken_over(crm):
    IdempotencyKey.objects.create(
        client=crm.record,
        key="k-busy",
        request_fingerprint=body_fingerprint(crm, {"subject": "Pas kwijt"}),
        created_at=timezone.now() - idempotency.STALE + timedelta(seconds=30),
    )
    response = post(crm, CASES, {"subject": "Pas kwijt"}, "k-busy")
    assert response.status_code == 409
    assert not Case.objects.exists()
    assert IdempotencyKey.objects.get().response_status is None


def test_an_answer_older_than_a_day_is_forgotten_and_the_key_free(crm):
    first = post(crm, CASES, {"subject": "Pas kwijt"}, "k-old")
    IdempotencyKey.objects.update(
        created_at=timezone.now() - idempotency.TTL - timedelta(seconds=1)
    )
    again = post(crm, CASES, {"subject": "Pas kwijt"}, "k-old")
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert again.json()["id"] != first.json()["id"]
    assert Case.objects.count() == 2
    assert IdempotencyKey.objects.get().response_body == again.json()


def body_fingerprint(crm, body) -> str:
    """The fingerprint the API computes for a POST of `body` to the case list."""
    seen = []
    real = idempotency.fingerprint
    with mock.patch.object(
        idempotency, "fingerprint", lambda request: seen.append(real(request))
    ):
        crm.post(CASES, body, format="json", HTTP_IDEMPOTENCY_KEY="probe")
    return seen[0]


# --- Requests at the same time, on PostgreSQL with real threads -------------------


class HeldOpen:
    """case_open that holds the first call until released: a request in flight."""

    def __init__(self, monkeypatch):
        self.started = threading.Event()
        self.release = threading.Event()
        self.real = services.case_open
        self.calls = 0
        monkeypatch.setattr(services, "case_open", self)

    def __call__(self, **kwargs):
        self.calls += 1
        if self.calls == 1:
            self.started.set()
            assert self.release.wait(timeout=30)
        return self.real(**kwargs)


def post_at_once(crm, monkeypatch, key: str, requests: int) -> list:
    """`requests` POSTs of one case with one key, released together by a barrier,
    while opening the case takes half a second: the answers, none of them a crash."""
    real_open = services.case_open

    def slow_open(**kwargs):
        # The work takes a while, so the duplicates arrive while it runs.
        time.sleep(0.5)
        return real_open(**kwargs)

    monkeypatch.setattr(services, "case_open", slow_open)
    barrier = threading.Barrier(requests)

    def request():
        http = http_for(crm)
        barrier.wait(timeout=10)
        return post(http, CASES, {"subject": "Pas kwijt"}, key)

    workers = run_at_once(*[request] * requests, timeout=60)
    assert errors(workers) == []
    return [worker.result for worker in workers]


def http_for(crm) -> APIClient:
    # One HTTP client per thread: a test client is not shared between threads.
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {crm.token}")
    return http


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_duplicate_while_the_first_runs_is_told_to_wait_then_gets_its_answer(
    on_postgres, crm, monkeypatch
):
    held = HeldOpen(monkeypatch)
    body = {"subject": "Pas kwijt"}
    first = start(
        lambda: http_for(crm).post(
            CASES, body, format="json", HTTP_IDEMPOTENCY_KEY="k-wait"
        )
    )
    try:
        assert held.started.wait(timeout=10)
        # The first request is in flight, its claim committed: the duplicate is
        # told to wait (409), and nothing is done twice.
        duplicate = post(http_for(crm), CASES, body, "k-wait")
        assert duplicate.status_code == 409
        assert "still being processed" in duplicate.json()["detail"]
        assert not Case.objects.exists()
    finally:
        held.release.set()
        first.join(timeout=30)
    assert first.error is None, first.error
    original = first.result
    assert original.status_code == 201
    # Retried after the first answered, the duplicate gets that very answer.
    retried = post(http_for(crm), CASES, body, "k-wait")
    assert retried.status_code == 201
    assert retried["Idempotent-Replayed"] == "true"
    assert retried.json() == original.json()
    assert Case.objects.count() == 1
    assert held.calls == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_posts_with_one_key_do_the_work_once(
    on_postgres, crm, monkeypatch
):
    requests = 6
    answers = post_at_once(crm, monkeypatch, "k-race", requests)

    done = [answer for answer in answers if answer.status_code == 201]
    told_to_wait = [answer for answer in answers if answer.status_code == 409]
    # One request did the work; every other one was told that it is running.
    assert len(done) == 1, [answer.status_code for answer in answers]
    assert "Idempotent-Replayed" not in done[0]
    assert len(told_to_wait) == requests - 1
    assert Case.objects.count() == 1
    # Each retry of the duplicates now gets the one answer.
    retried = post(http_for(crm), CASES, {"subject": "Pas kwijt"}, "k-race")
    assert retried.json() == done[0].json()
    assert retried["Idempotent-Replayed"] == "true"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_retries_of_an_abandoned_key_take_it_over_once(
    on_postgres, crm, monkeypatch
):
    IdempotencyKey.objects.create(
        client=crm.record,
        key="k-dead",
        request_fingerprint="x" * 64,
        created_at=timezone.now() - idempotency.STALE - timedelta(minutes=1),
    )
    requests = 4
    answers = post_at_once(crm, monkeypatch, "k-dead", requests)
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201] + [409] * (requests - 1)
    assert Case.objects.count() == 1
    assert IdempotencyKey.objects.get().response_status == 201
