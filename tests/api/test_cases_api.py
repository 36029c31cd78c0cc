import pytest
from kombu.exceptions import OperationalError

from cases.models import Case, CaseEvent, Commitment, Escalation, Note, Reply, Topic
from tests.factories import AuthorFactory, CaseFactory, MentionFactory
from webcare.api.models import ApiAuditEntry
from webcare.notices import tasks as notice_tasks

pytestmark = pytest.mark.django_db

CASES = "/api/v1/cases/"


def test_it_lists_and_retrieves_cases(crm, agent):
    case = CaseFactory(subject="Pinpas ingeslikt", assignee=agent, priority="high")
    case.topics.add(Topic.objects.create(name="Payments"))
    listing = crm.get(CASES).json()
    assert listing["has_more"] is False
    assert [row["id"] for row in listing["results"]] == [case.pk]
    row = crm.get(f"{CASES}{case.pk}/").json()
    assert row["subject"] == "Pinpas ingeslikt"
    assert row["assignee"]["id"] == agent.pk
    assert row["topics"] == ["Payments"]
    assert row["customer"]["handle"] == case.customer.handle
    assert row["survey"] is None


def test_it_answers_404_for_a_missing_or_absurd_id(crm):
    assert crm.get(f"{CASES}424242/").status_code == 404
    assert crm.get(f"{CASES}99999999999999999999999/").status_code == 404
    assert crm.get(f"{CASES}-1/").status_code == 404


def test_the_crm_opens_a_case_and_the_trail_names_it(crm, team):
    customer = AuthorFactory()
    response = crm.post(
        CASES,
        {
            "subject": "Klant belde over geblokkeerde pas",
            "priority": "high",
            "customer": customer.pk,
            "crm_customer_id": "CRM-1",
            "team": team.pk,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    case = Case.objects.get(pk=response.json()["id"])
    assert (case.priority, case.customer, case.crm_customer_id) == (
        "high",
        customer,
        "CRM-1",
    )
    event = CaseEvent.objects.get(case=case, kind="created")
    assert event.actor_label == "api:crm"
    assert event.actor is None
    entry = ApiAuditEntry.objects.get()
    assert (entry.client_name, entry.operation, entry.status_code) == (
        "crm",
        "case.create",
        201,
    )
    assert entry.object_id == str(case.pk)


def test_bad_input_is_a_400_with_messages_per_field(crm):
    response = crm.post(
        CASES,
        {"priority": "whenever", "customer": 999999, "team": "abc"},
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) >= {"subject", "priority", "customer", "team"}
    assert not Case.objects.exists()


def test_malformed_json_is_a_400(crm):
    response = crm.generic(
        "POST", CASES, '{"subject": ', content_type="application/json"
    )
    assert response.status_code == 400
    deep = "[" * 100000 + "]" * 100000
    response = crm.generic("POST", CASES, deep, content_type="application/json")
    assert response.status_code == 400


def test_it_updates_allowed_fields_only(crm):
    case = CaseFactory(priority="normal")
    Topic.objects.create(name="Fees")
    response = crm.patch(
        f"{CASES}{case.pk}/",
        {"priority": "urgent", "topics": ["Fees"], "status": "closed"},
        format="json",
    )
    assert response.status_code == 200, response.content
    case.refresh_from_db()
    assert case.priority == "urgent"
    assert list(case.topics.values_list("name", flat=True)) == ["Fees"]
    assert case.status == "new"  # status changes only through the actions
    assert CaseEvent.objects.filter(
        case=case, kind="priority_changed", actor_label="api:crm"
    ).exists()
    assert crm.patch(f"{CASES}{case.pk}/", {}, format="json").status_code == 400
    assert crm.put(f"{CASES}{case.pk}/", {}, format="json").status_code == 405
    assert crm.delete(f"{CASES}{case.pk}/").status_code == 405


def test_assign_reply_escalate_resolve_reopen_close(crm, agent):
    case = CaseFactory()
    mention = MentionFactory(case=case)

    response = crm.post(
        f"{CASES}{case.pk}/assign/", {"assignee": agent.pk}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["assignee"]["id"] == agent.pk

    response = crm.post(
        f"{CASES}{case.pk}/reply/",
        {
            "agent": agent.pk,
            "text": "We bellen je zo. ^Anna",
            "in_reply_to": mention.pk,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    reply = Reply.objects.get(case=case)
    assert reply.signature == "Anna"
    case.refresh_from_db()
    assert case.status == "open" and case.first_response_at is not None

    # Not security: a restricted department's escalations are hidden from API
    # clients (tests/api/test_permission_matrix.py).
    response = crm.post(
        f"{CASES}{case.pk}/escalate/",
        {"department": "customer_service", "reason": "Pas blokkeren"},
        format="json",
    )
    assert response.status_code == 201, response.content
    escalation = Escalation.objects.get(case=case)

    # An open escalation blocks resolving: the service's message, as a 400.
    response = crm.post(f"{CASES}{case.pk}/resolve/")
    assert response.status_code == 400
    assert "escalation" in response.content.decode().lower()

    assert (
        crm.post(
            f"/api/v1/escalations/{escalation.pk}/acknowledge/", {}, format="json"
        ).status_code
        == 200
    )
    response = crm.post(
        f"/api/v1/escalations/{escalation.pk}/resolve/",
        {"note": "Link offline gehaald"},
        format="json",
    )
    assert response.status_code == 200, response.content
    escalation.refresh_from_db()
    assert escalation.status == "resolved"

    response = crm.post(f"{CASES}{case.pk}/resolve/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "resolved"

    response = crm.post(
        f"{CASES}{case.pk}/reopen/", {"reason": "Klant reageert"}, format="json"
    )
    assert response.json()["status"] == "open"

    response = crm.post(f"{CASES}{case.pk}/close/", {"reason": "helped"}, format="json")
    assert response.status_code == 200, response.content
    case.refresh_from_db()
    assert (case.status, case.close_reason) == ("closed", "helped")
    labels = set(
        CaseEvent.objects.filter(case=case).values_list("actor_label", flat=True)
    )
    assert labels == {"api:crm"}


def test_an_impossible_transition_is_a_409(crm):
    case = CaseFactory()
    crm.post(f"{CASES}{case.pk}/close/", {"reason": "spam"}, format="json")
    response = crm.post(f"{CASES}{case.pk}/resolve/")
    assert response.status_code == 409
    assert response.json()["detail"]
    case.refresh_from_db()
    assert case.status == "closed"


def test_an_api_client_must_name_the_agent_of_a_reply(crm):
    case = CaseFactory()
    response = crm.post(f"{CASES}{case.pk}/reply/", {"text": "Hoi"}, format="json")
    assert response.status_code == 400
    assert "agent" in response.json()
    assert not Reply.objects.exists()


def test_staff_reply_as_themselves_and_roles_apply(staff_http, agent):
    case = CaseFactory(channel="x_search")
    response = staff_http.post(
        f"{CASES}{case.pk}/reply/", {"text": "Dag! ^Anna"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Reply.objects.get().agent == agent
    # Agents may not merge cases: the service's permission check is a 403.
    other = CaseFactory()
    response = staff_http.post(
        f"{CASES}{case.pk}/merge/", {"into": other.pk}, format="json"
    )
    assert response.status_code == 403


def test_notes_wait_merge_and_commitments(crm, agent):
    case, into = CaseFactory(), CaseFactory()
    assert (
        crm.post(
            f"{CASES}{case.pk}/note/", {"text": "Belt terug"}, format="json"
        ).status_code
        == 201
    )
    assert Note.objects.get(case=case).author is None
    crm.post(f"{CASES}{case.pk}/assign/", {"assignee": agent.pk}, format="json")
    crm.post(
        f"{CASES}{case.pk}/reply/", {"agent": agent.pk, "text": "Hoi"}, format="json"
    )
    assert crm.post(f"{CASES}{case.pk}/wait/").json()["status"] == "waiting"
    response = crm.post(
        f"{CASES}{case.pk}/commitments/",
        {
            "owner": agent.pk,
            "description": "Terugbellen",
            "due_at": "2030-01-01T10:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    commitment = Commitment.objects.get(case=case)
    assert crm.post(f"/api/v1/commitments/{commitment.pk}/keep/").status_code == 200
    commitment.refresh_from_db()
    assert commitment.status == "kept"
    response = crm.post(f"{CASES}{case.pk}/merge/", {"into": into.pk}, format="json")
    assert response.status_code == 200, response.content
    case.refresh_from_db()
    assert case.merged_into == into and case.status == "closed"


def test_case_events_are_listed_per_case_and_overall(crm):
    case = CaseFactory()
    crm.post(f"{CASES}{case.pk}/note/", {"text": "x"}, format="json")
    kinds = [e["kind"] for e in crm.get(f"{CASES}{case.pk}/events/").json()["results"]]
    assert kinds == ["note_added"]
    rows = crm.get("/api/v1/case-events/", {"case": case.pk, "kind": "note_added"})
    assert [e["actor_label"] for e in rows.json()["results"]] == ["api:crm"]


def test_automatic_assignment_or_an_assignee_but_not_both(crm, agent):
    case = CaseFactory(team=agent.agent.team)
    response = crm.post(
        f"{CASES}{case.pk}/assign/",
        {"assignee": agent.pk, "automatic": True},
        format="json",
    )
    assert response.status_code == 400
    response = crm.post(f"{CASES}{case.pk}/assign/", {"automatic": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["assignee"]["id"] == agent.pk


def test_an_escalation_is_answered_201_when_the_broker_is_down(
    crm, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Connection refused")

    monkeypatch.setattr(notice_tasks.send_notice, "delay", broker_down)
    case = CaseFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = crm.post(
            f"/api/v1/cases/{case.pk}/escalate/",
            {"department": "security", "reason": "Phishing link"},
            format="json",
        )
    assert response.status_code == 201, response.content
    assert Escalation.objects.get().case_id == case.pk


def test_a_public_reply_with_personal_data_is_a_400_saying_what_was_found(crm, agent):
    case = CaseFactory()
    mention = MentionFactory(case=case)
    url = f"/api/v1/cases/{case.pk}/reply/"
    body = {
        "agent": agent.pk,
        "text": "Stuur je BSN 111222333 even. ^Anna",
        "in_reply_to": mention.pk,
    }
    response = crm.post(url, body, format="json")
    assert response.status_code == 400
    assert "a citizen service number (BSN)" in str(response.json())
    assert not Reply.objects.exists()
    response = crm.post(url, {**body, "is_private": True}, format="json")
    assert response.status_code == 201, response.content


def test_a_reply_is_published_through_the_api(crm, agent, settings):
    from tests.cases.test_publishing import toot
    from tests.fakeplatforms import FakeMastodon

    platform = FakeMastodon()
    settings.WEBCARE_CONNECTOR_CREDENTIALS = {
        **settings.WEBCARE_CONNECTOR_CREDENTIALS,
        "mastodon": {"access_token": "masto-token", "base_url": platform.url},
    }
    try:
        case, mention = toot(platform.url, agent.agent.team)
        url = f"{CASES}{case.pk}/reply/"
        body = {"agent": agent.pk, "text": "Hoi! ^Anna", "in_reply_to": mention.pk}
        response = crm.post(url, {**body, "publish": True}, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["publish_status"] == "queued"
        by_hand = crm.post(
            url,
            {**body, "posted_url": "https://blog.example.com/p#c1", "text": "Zie blog"},
            format="json",
        ).json()
        assert (by_hand["publish_status"], by_hand["external_url"]) == (
            "by_hand",
            "https://blog.example.com/p#c1",
        )
        both = crm.post(
            url,
            {**body, "publish": True, "posted_url": "https://x.example/"},
            format="json",
        )
        assert both.status_code == 400
        assert "not both" in str(both.json())
    finally:
        platform.close()
