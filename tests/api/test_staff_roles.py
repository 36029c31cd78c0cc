"""Staff sessions read the API by role: the view permission of each endpoint's model."""

import pytest
from rest_framework.test import APIClient

from tests.factories import CaseFactory, UserFactory
from webcare.api.models import Webhook, WebhookDelivery

pytestmark = pytest.mark.django_db

ROLES = ("agent", "spokesperson", "customer_service", "manager")


@pytest.fixture
def webhook(crm):
    hook = Webhook.objects.create(
        client=crm.record,
        url="https://crm.example.com/hooks/webcare",
        events=["case.opened"],
        secret="whsec_test",
    )
    WebhookDelivery.objects.create(
        webhook=hook, event="case.opened", payload={"case": {"id": 1}}
    )
    return hook


def session(role: str) -> APIClient:
    http = APIClient()
    http.force_login(UserFactory(username=f"staff-{role}", groups=[role]))
    return http


@pytest.mark.parametrize(
    "role, expected", [(r, 200 if r == "manager" else 403) for r in ROLES]
)
def test_only_managers_read_webhooks_and_deliveries(webhook, role, expected):
    http = session(role)
    paths = [
        "/api/v1/webhooks/",
        f"/api/v1/webhooks/{webhook.pk}/",
        f"/api/v1/webhooks/{webhook.pk}/deliveries/",
        "/api/v1/webhook-deliveries/",
    ]
    for path in paths:
        response = http.get(path)
        assert response.status_code == expected, path
        if expected == 403:
            assert "crm.example.com" not in response.content.decode()
    if expected == 200:
        [hook] = http.get("/api/v1/webhooks/").json()["results"]
        assert hook["url"] == "https://crm.example.com/hooks/webcare"
        [row] = http.get("/api/v1/webhook-deliveries/").json()["results"]
        assert row["payload"] == {"case": {"id": 1}}


@pytest.mark.parametrize(
    "role, expected",
    [
        ("agent", 200),
        ("spokesperson", 403),
        ("customer_service", 403),
        ("manager", 200),
    ],
)
def test_reading_agents_needs_the_view_permission(role, expected, team):
    assert session(role).get("/api/v1/agents/").status_code == expected


@pytest.mark.parametrize(
    "role, expected",
    [
        ("agent", 200),
        ("spokesperson", 200),
        ("customer_service", 403),
        ("manager", 200),
    ],
)
def test_reading_sources_needs_the_view_permission(role, expected):
    assert session(role).get("/api/v1/sources/").status_code == expected


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_cases_their_trail_and_reports(role):
    case = CaseFactory()
    http = session(role)
    assert http.get("/api/v1/cases/").json()["results"][0]["id"] == case.pk
    assert http.get(f"/api/v1/cases/{case.pk}/events/").status_code == 200
    assert http.get("/api/v1/surveys/").status_code == 200
    period = "start=2026-03-01T00:00:00Z&end=2026-03-08T00:00:00Z"
    for report in ("nps", "response-times", "volumes"):
        response = http.get(f"/api/v1/reports/{report}/?{period}")
        assert response.status_code == 200, report


def test_a_staff_user_without_a_role_reads_nothing(webhook):
    http = APIClient()
    http.force_login(UserFactory(username="no-role"))
    CaseFactory()
    period = "start=2026-03-01T00:00:00Z&end=2026-03-08T00:00:00Z"
    for path in (
        "/api/v1/cases/",
        "/api/v1/case-events/",
        "/api/v1/mentions/",
        "/api/v1/surveys/",
        "/api/v1/webhooks/",
        f"/api/v1/reports/nps/?{period}",
        f"/api/v1/reports/volumes/?{period}",
    ):
        assert http.get(path).status_code == 403, path


def test_writes_stay_checked_by_role(webhook):
    # Customer service may not change a case, whatever it may read; no staff
    # member changes a client's webhook through the API.
    case = CaseFactory(priority="normal")
    response = session("customer_service").patch(
        f"/api/v1/cases/{case.pk}/", {"priority": "urgent"}, format="json"
    )
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.priority == "normal"
    response = session("manager").patch(
        f"/api/v1/webhooks/{webhook.pk}/",
        {"url": "https://elsewhere.example.com/"},
        format="json",
    )
    assert response.status_code == 403
    webhook.refresh_from_db()
    assert webhook.url == "https://crm.example.com/hooks/webcare"
