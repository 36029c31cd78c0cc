import pytest

from cases.models import Case
from sources.models import Mention
from tests.factories import CaseFactory, SourceFactory
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


def test_a_request_still_running_makes_a_duplicate_wait(crm):
    # The first request claimed the key and has not answered yet.
    IdempotencyKey.objects.create(
        client=crm.record, key="k-4", request_fingerprint="x" * 64
    )
    response = post(crm, CASES, {"subject": "Pas kwijt"}, "k-4")
    assert response.status_code in (409, 422)
    assert not Case.objects.exists()


def test_a_request_still_running_with_the_same_body_is_409(crm, monkeypatch):
    from webcare.api import idempotency

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
