from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from cases.models import Case
from tests.factories import CaseFactory, SourceFactory, UserFactory
from webcare.api.models import ApiAuditEntry, ApiClient, hash_token

pytestmark = pytest.mark.django_db

CASES = "/api/v1/cases/"


def test_it_refuses_a_request_without_credentials_with_401():
    response = APIClient().get(CASES)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer wc_" + "x" * 43,
        "Bearer not-a-token",
        "Bearer",
        "Bearer a b",
        "Token " + "wc_" + "y" * 43,
    ],
)
def test_it_refuses_an_unknown_or_malformed_token(reader, header):
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=header)
    assert http.get(CASES).status_code == 401


def test_it_accepts_the_token_keyword_too(reader):
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Token {reader.token}")
    assert http.get(CASES).status_code == 200


def test_it_stores_only_the_hash_of_the_token(reader):
    client = ApiClient.objects.get(name="reader")
    assert client.token_hash == hash_token(reader.token)
    assert reader.token not in (client.token_hash, client.token_prefix)
    assert reader.token.startswith(client.token_prefix)


def test_it_rejects_a_revoked_token(reader):
    ApiClient.objects.filter(pk=reader.record.pk).update(revoked_at=timezone.now())
    assert reader.get(CASES).status_code == 401


def test_it_rejects_an_inactive_client(reader):
    ApiClient.objects.filter(pk=reader.record.pk).update(is_active=False)
    assert reader.get(CASES).status_code == 401


def test_it_records_last_use_at_most_once_a_minute(reader, django_assert_num_queries):
    assert reader.get(CASES).status_code == 200
    first = ApiClient.objects.get(pk=reader.record.pk).last_used_at
    assert first is not None
    # Within the minute: no UPDATE (auth lookup + cases + topics prefetch).
    with django_assert_num_queries(2):
        assert reader.get(CASES).status_code == 200
    assert ApiClient.objects.get(pk=reader.record.pk).last_used_at == first
    earlier = first - timedelta(minutes=2)
    ApiClient.objects.filter(pk=reader.record.pk).update(last_used_at=earlier)
    reader.get(CASES)
    assert ApiClient.objects.get(pk=reader.record.pk).last_used_at > first


@pytest.mark.parametrize(
    ("scopes", "method", "path", "expected"),
    [
        (("read",), "get", CASES, 200),
        (("write",), "get", CASES, 403),
        (("read",), "post", CASES, 403),
        (("read", "write"), "post", CASES, 201),
        (("read", "write"), "post", "/api/v1/mentions/ingest/", 403),
        (("ingest",), "post", "/api/v1/mentions/ingest/", 400),
        (("read", "write"), "post", "/api/v1/sources/", 403),
        (("admin",), "post", "/api/v1/sources/", 201),
        (("read",), "get", "/api/v1/reports/volumes/", 200),
        (("ingest",), "get", "/api/v1/reports/volumes/", 403),
    ],
)
def test_each_operation_needs_its_scope(make_crm, scopes, method, path, expected):
    crm = make_crm(scopes)
    bodies = {
        CASES: {"subject": "Pas geblokkeerd"},
        "/api/v1/mentions/ingest/": {"source": 999999, "items": []},
        "/api/v1/sources/": {"name": "Forum", "kind": "manual"},
    }
    response = getattr(crm, method)(path, bodies.get(path), format="json")
    assert response.status_code == expected, response.content
    if path == CASES and method == "post":
        assert Case.objects.exists() is (expected == 201)


def test_a_write_denied_by_scope_changes_nothing_and_is_audited(reader):
    case = CaseFactory(priority="normal")
    response = reader.patch(f"{CASES}{case.pk}/", {"priority": "urgent"}, format="json")
    assert response.status_code == 403
    assert "write" in response.json()["detail"]
    case.refresh_from_db()
    assert case.priority == "normal"
    entry = ApiAuditEntry.objects.get()
    assert (entry.client_name, entry.method, entry.status_code) == (
        "reader",
        "PATCH",
        403,
    )


def test_staff_may_read_with_their_session(staff_http):
    CaseFactory()
    response = staff_http.get(CASES)
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


def test_a_non_staff_session_is_refused(db):
    http = APIClient()
    http.force_login(UserFactory(username="customer", is_staff=False))
    assert http.get(CASES).status_code == 403


def test_staff_writes_are_checked_by_role(staff_http, db):
    # Agents may not add sources (managers may).
    response = staff_http.post("/api/v1/sources/", {"name": "x", "kind": "manual"})
    assert response.status_code == 403
    manager = UserFactory(username="manager", groups=["manager"])
    http = APIClient()
    http.force_login(manager)
    response = http.post(
        "/api/v1/sources/", {"name": "Forum", "kind": "manual"}, format="json"
    )
    assert response.status_code == 201


def test_it_throttles_per_client(make_crm, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "api_client": "3/min",
        },
    }
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    # DRF reads the rates once at import; point the throttle at the new ones.
    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        busy, calm = make_crm(("read",)), make_crm(("read",))
        codes = [busy.get(CASES).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        assert "Retry-After" in busy.get(CASES)
        assert calm.get(CASES).status_code == 200
    finally:
        SimpleRateThrottle.THROTTLE_RATES = original


def test_the_command_creates_a_client_and_prints_the_token_once(capsys):
    call_command("create_api_client", "Salesforce", "--scopes", "read,write,ingest")
    token = capsys.readouterr().out.strip()
    client = ApiClient.objects.get(name="Salesforce")
    assert client.scopes == ["ingest", "read", "write"]
    assert client.token_hash == hash_token(token)
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert http.get(CASES).status_code == 200


def test_the_command_refuses_unknown_scopes():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Unknown scopes: delete"):
        call_command("create_api_client", "x", "--scopes", "read,delete")
    assert not ApiClient.objects.exists()


def test_the_admin_shows_a_new_token_once_and_can_revoke(admin_client):
    response = admin_client.post(
        "/admin/api/apiclient/add/",
        {"name": "CRM", "scopes": ["read", "write"], "is_active": "on"},
        follow=True,
    )
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    token = next(m.split(" is ")[1].split(" ")[0] for m in messages if "token" in m)
    client = ApiClient.objects.get(name="CRM")
    assert client.token_hash == hash_token(token)
    change_page = admin_client.get(f"/admin/api/apiclient/{client.pk}/change/")
    assert token not in change_page.content.decode()

    admin_client.post(
        "/admin/api/apiclient/",
        {"action": "revoke", "_selected_action": [client.pk]},
    )
    client.refresh_from_db()
    assert client.revoked_at is not None and not client.is_active
    http = APIClient()
    http.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert http.get(CASES).status_code == 401


def test_a_source_write_is_audited_with_the_client_name(make_crm):
    crm = make_crm(("admin", "read"), name="beheer")
    source = SourceFactory(kind="manual")
    response = crm.patch(
        f"/api/v1/sources/{source.pk}/", {"is_active": False}, format="json"
    )
    assert response.status_code == 200
    entry = ApiAuditEntry.objects.get()
    assert entry.client_name == "beheer"
    assert entry.operation == "source.partial_update"
    assert entry.object_id == str(source.pk)
