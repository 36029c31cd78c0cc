"""Every role against every record-bound action, in the admin and in the API.

The services decide (tests/cases/test_record_permissions.py); these tests prove the
two interfaces show and refuse the same. An action allowed here did what it says
(the rows afterwards); a refused one changed nothing.
"""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient

from cases import services
from cases.forms import NewReplyForm
from cases.models import (
    Agent,
    DepartmentMembership,
    Escalation,
    EscalationStatus,
    Reply,
)
from sources.models import Mention
from tests.cases.conftest import make_agent
from tests.factories import AuthorFactory, MentionFactory, UserFactory
from webcare.api.auth import api_client_create

pytestmark = pytest.mark.django_db

ROLES = (
    "agent",
    "colleague",
    "team_lead",
    "spokesperson",
    "customer_service",
    "security_member",
    "manager",
    "api_client",
)
STAFF = ROLES[:-1]


@pytest.fixture
def people(team, agent, other_agent, spokesperson, customer_service, manager):
    lead = make_agent(team, "tess", "Tess")
    Agent.objects.filter(user=lead).update(is_team_lead=True)
    security = UserFactory(username="sofie", groups=["customer_service"])
    DepartmentMembership.objects.create(user=security, department="security")
    cache.clear()  # fresh throttle buckets
    return {
        "agent": agent,
        "colleague": other_agent,
        "team_lead": lead,
        "spokesperson": spokesperson,
        "customer_service": customer_service,
        "security_member": security,
        "manager": manager,
    }


@pytest.fixture
def world(team, people):
    """An escalated case of the agent (PR and security), an unassigned case, and
    a case of the colleague."""
    agent = people["agent"]
    case = services.case_open(subject="Phishing-sms", team=team, channel="x_search")
    case = services.case_assign(case=case, assignee=agent, actor=agent)
    security = services.case_escalate(
        case=case, department="security", reason="Geheime-phishing", actor=agent
    )
    pr = services.case_escalate(
        case=case, department="pr", reason="Journalist-belt", actor=agent
    )
    unassigned = services.case_open(subject="Vraag", team=team)
    colleagues = services.case_open(subject="Hypotheek", team=team)
    colleagues = services.case_assign(
        case=colleagues, assignee=people["colleague"], actor=people["colleague"]
    )
    return {
        "case": case,
        "security": security,
        "pr": pr,
        "unassigned": unassigned,
        "colleagues": colleagues,
        "mention": MentionFactory(case=case),
    }


def api_for(role, people):
    http = APIClient()
    if role == "api_client":
        _, token = api_client_create(name="crm", scopes=["read", "write"])
        http.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    else:
        http.force_login(people[role])
    return http


def away(people):
    Agent.objects.filter(user=people["colleague"]).update(is_available=False)


# --- Seeing escalations ------------------------------------------------------------

SEES_SECURITY = {"agent", "security_member", "manager"}  # requester/assignee


@pytest.mark.parametrize("role", ROLES)
def test_who_sees_which_escalation_in_the_api(role, people, world):
    http = api_for(role, people)
    listed = {
        row["department"] for row in http.get("/api/v1/escalations/").json()["results"]
    }
    security = http.get(f"/api/v1/escalations/{world['security'].pk}/")
    pr = http.get(f"/api/v1/escalations/{world['pr'].pk}/")
    assert pr.status_code == 200
    if role in SEES_SECURITY:
        assert listed == {"security", "pr"}
        assert security.status_code == 200
    else:
        assert listed == {"pr"}
        assert security.status_code == 404
        assert "Geheime-phishing" not in security.content.decode()


@pytest.mark.parametrize("role", STAFF)
def test_who_sees_which_escalation_in_the_admin(role, people, world, client):
    client.force_login(people[role])
    inbox = client.get(reverse("admin:cases_escalation_changelist"))
    listed = {e.department for e in inbox.context["cl"].result_list}
    page = client.get(
        reverse("admin:cases_escalation_change", args=[world["security"].pk])
    )
    case_page = client.get(reverse("admin:cases_case_change", args=[world["case"].pk]))
    shown = {
        form.instance.department
        for inline in case_page.context["inline_admin_formsets"]
        if inline.formset.model is Escalation
        for form in inline.formset.forms
        if form.instance.pk
    }
    if role in SEES_SECURITY:
        assert listed == shown == {"security", "pr"}
        assert page.status_code == 200
    else:
        assert listed == shown == {"pr"}
        assert page.status_code == 302  # "does not exist", like any missing row
        assert b"Geheime-phishing" not in inbox.content


@pytest.mark.parametrize("role", ROLES)
def test_the_audit_trail_hides_what_the_escalation_hides_in_the_api(
    role, people, world
):
    http = api_for(role, people)
    for url in (
        "/api/v1/case-events/",
        f"/api/v1/cases/{world['case'].pk}/events/",
    ):
        answer = http.get(url)
        assert answer.status_code == 200, url
        kinds = {row["kind"] for row in answer.json()["results"]}
        assert "escalated" in kinds  # the PR escalation's entry
        assert ("Geheime-phishing" in answer.content.decode()) == (
            role in SEES_SECURITY
        ), url


@pytest.mark.parametrize("role", STAFF)
def test_the_audit_trail_hides_what_the_escalation_hides_in_the_admin(
    role, people, world, client
):
    client.force_login(people[role])
    page = client.get(reverse("admin:cases_case_change", args=[world["case"].pk]))
    assert "Journalist-belt" in page.content.decode()
    assert ("Geheime-phishing" in page.content.decode()) == (role in SEES_SECURITY)
    trail = client.get(reverse("admin:cases_caseevent_changelist"))
    departments = {
        event.data.get("department") for event in trail.context["cl"].result_list
    }
    assert "pr" in departments
    assert ("security" in departments) == (role in SEES_SECURITY)


# --- Acknowledging and resolving ---------------------------------------------------

# The department's members and managers; API clients outside restricted ones.
HANDLES = {
    "security": {"security_member", "manager"},
    "pr": {"spokesperson", "manager", "api_client"},
}


@pytest.mark.parametrize("department", ["security", "pr"])
@pytest.mark.parametrize("role", ROLES)
def test_who_acknowledges_and_resolves_in_the_api(role, department, people, world):
    escalation = world[department]
    http = api_for(role, people)
    url = f"/api/v1/escalations/{escalation.pk}/"
    acknowledged = http.post(url + "acknowledge/", {}, format="json")
    resolved = http.post(url + "resolve/", {"note": "Afgehandeld"}, format="json")
    escalation.refresh_from_db()
    if role in HANDLES[department]:
        assert (acknowledged.status_code, resolved.status_code) == (200, 200)
        assert escalation.status == EscalationStatus.RESOLVED
        return
    hidden = department == "security" and role not in SEES_SECURITY
    expected = 404 if hidden else 403
    assert (acknowledged.status_code, resolved.status_code) == (expected, expected)
    assert escalation.status == EscalationStatus.OPEN


@pytest.mark.parametrize("department", ["security", "pr"])
@pytest.mark.parametrize("role", STAFF)
def test_who_acknowledges_and_resolves_in_the_admin(
    role, department, people, world, client
):
    escalation = world[department]
    client.force_login(people[role])
    url = reverse("admin:cases_escalation_changelist")
    selected = {ACTION_CHECKBOX_NAME: [escalation.pk]}
    client.post(url, {"action": "acknowledge", **selected})
    escalation.refresh_from_db()
    acknowledged = escalation.status == EscalationStatus.ACKNOWLEDGED
    client.post(
        url, {"action": "resolve", "apply": "1", "note": "Afgehandeld", **selected}
    )
    escalation.refresh_from_db()
    if role in HANDLES[department]:
        assert acknowledged
        assert escalation.status == EscalationStatus.RESOLVED
        assert escalation.resolved_by == people[role]
    else:
        assert escalation.status == EscalationStatus.OPEN


# --- Assignment ---------------------------------------------------------------------

ASSIGNS = {"agent", "colleague", "team_lead", "manager", "api_client"}
# (which case, a setup step, who may give it to the agent)
ASSIGNMENTS = {
    "assign unassigned": ("unassigned", None, ASSIGNS),
    "reassign a colleague's case": (
        "colleagues",
        None,
        {"colleague", "team_lead", "manager", "api_client"},
    ),
    "take over from an away colleague": ("colleagues", away, ASSIGNS),
}


@pytest.mark.parametrize("action", ASSIGNMENTS)
@pytest.mark.parametrize("role", ROLES)
def test_who_assigns_which_case_in_the_api(role, action, people, world):
    which, setup, allowed = ASSIGNMENTS[action]
    case = world[which]
    before = case.assignee_id
    if setup:
        setup(people)
    response = api_for(role, people).post(
        f"/api/v1/cases/{case.pk}/assign/",
        {"assignee": people["agent"].pk},
        format="json",
    )
    case.refresh_from_db()
    if role in allowed:
        assert response.status_code == 200, response.content
        assert case.assignee == people["agent"]
    else:
        assert response.status_code == 403, response.content
        assert case.assignee_id == before


@pytest.mark.parametrize("action", ASSIGNMENTS)
@pytest.mark.parametrize("role", STAFF)
def test_who_takes_which_case_in_the_admin(role, action, people, world, client):
    """ "Assign to me" in the queue: the same rule as the API."""
    which, setup, allowed = ASSIGNMENTS[action]
    case = world[which]
    before = case.assignee_id
    if setup:
        setup(people)
    client.force_login(people[role])
    response = client.post(
        reverse("admin:cases_case_changelist"),
        {"action": "assign_to_me", ACTION_CHECKBOX_NAME: [case.pk]},
        follow=True,
    )
    case.refresh_from_db()
    # To oneself: the agent's colleague already holds their own case.
    if role in allowed and not (role == "colleague" and which == "colleagues"):
        assert case.assignee == people[role]
    elif role not in allowed:
        assert case.assignee_id == before
        messages = [str(m) for m in response.context["messages"]]
        if role in ASSIGNS:
            assert any("may not take or move" in m for m in messages), messages


# --- The signature ------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_nobody_signs_a_reply_with_a_colleagues_name_in_the_api(role, people, world):
    case = world["case"]
    someone_else = people["colleague" if role == "agent" else "agent"]
    response = api_for(role, people).post(
        f"/api/v1/cases/{case.pk}/reply/",
        {"agent": someone_else.pk, "text": "Hoi!"},
        format="json",
    )
    if role == "api_client":  # not a person: it says who sent it
        assert response.status_code == 201, response.content
        assert Reply.objects.get(case=case).signature == someone_else.first_name
    else:
        assert response.status_code == 403, response.content
        assert not Reply.objects.filter(case=case).exists()


def test_the_admin_reply_form_has_no_agent_to_choose():
    # The case page records every reply as request.user (CaseAdmin.save_formset).
    assert "agent" not in NewReplyForm.base_fields


# --- Re-attributing a mention -------------------------------------------------------

REATTRIBUTES = {"agent", "colleague", "team_lead", "spokesperson", "manager"}


@pytest.mark.parametrize("role", STAFF)
def test_who_re_attributes_a_mention_in_the_admin(role, people, world, client):
    mention = world["mention"]
    old = mention.author
    new = AuthorFactory(platform=old.platform)
    client.force_login(people[role])
    url = reverse("admin:sources_mention_changelist")
    # Not as a plain field of the change form.
    page = client.get(reverse("admin:sources_mention_change", args=[mention.pk]))
    if page.status_code == 200:
        assert 'name="author"' not in page.content.decode()
    client.post(
        url,
        {
            "action": "reattribute",
            ACTION_CHECKBOX_NAME: [mention.pk],
            "apply": "1",
            "author": new.pk,
            "reason": "Verkeerd account",
        },
    )
    author = Mention.objects.get(pk=mention.pk).author
    assert author == (new if role in REATTRIBUTES else old)
    trail = world["case"].events.filter(kind="mention_reattributed")
    assert trail.count() == (1 if role in REATTRIBUTES else 0)


def test_api_clients_cannot_re_attribute_a_mention(people, world):
    mention = world["mention"]
    http = api_for("api_client", people)
    response = http.patch(
        f"/api/v1/mentions/{mention.pk}/",
        {"author": AuthorFactory().pk},
        format="json",
    )
    assert response.status_code in (403, 405)
    assert Mention.objects.get(pk=mention.pk).author == mention.author
