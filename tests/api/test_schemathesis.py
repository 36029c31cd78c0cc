"""Property-based run of the whole API against its own schema: no 5xx, no response
that contradicts the schema, whatever a client sends (valid and invalid input),
NUL characters and lone surrogates included."""

import json

import pytest
import schemathesis
import yaml
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.factories import (
    AgentFactory,
    CaseFactory,
    EscalationFactory,
    MentionFactory,
    SourceFactory,
    SurveyFactory,
)
from webcare.api.auth import ApiClientRateThrottle, api_client_create
from webcare.api.schema import generate

SPEC = yaml.safe_load(generate())
schema = schemathesis.openapi.from_dict(SPEC)
schema.app = get_wsgi_application()
# NUL in every string schemathesis makes (its default, said out loud). A lone
# surrogate cannot be encoded as UTF-8, so schemathesis never sends one: the
# hypothesis tests below put them into JSON bodies as escapes ("\\ud800").
schema.config.generation.update(allow_x00=True, codec="utf-8")

HOSTILE = st.one_of(
    st.sampled_from(["\ud800", "\udfff", "a\x00b", "\x00", "\udfff\ud800"]),
    # Every code point, surrogates included (hypothesis leaves them out by default).
    st.text(st.characters(exclude_categories=()), min_size=1, max_size=20),
)


def string_fields() -> list[tuple[str, str, str]]:
    """(method, path, field) for every string property, enums included, of every
    JSON request body in the schema; {id} is 1 (the fixture makes a few of each)."""
    components = SPEC["components"]["schemas"]
    fields = []
    for path, operations in SPEC["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            reference = content.get("application/json", {}).get("schema", {})
            if "$ref" not in reference:
                continue
            body = components[reference["$ref"].rsplit("/", 1)[-1]]
            for name, field in body.get("properties", {}).items():
                if "$ref" in field or field.get("type") in ("string", None):
                    fields.append((method.upper(), path.replace("{id}", "1"), name))
    return fields


STRING_FIELDS = string_fields()


@pytest.fixture
def wsgi_keeps_the_test_connection():
    # The raw WSGI handler closes "old" connections around each request; in a test
    # that would close the connection holding the test's transaction (PostgreSQL).
    # Django's own test Client does the same as this.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def token(db, monkeypatch, wsgi_keeps_the_test_connection):
    # Hundreds of requests in a few seconds: not what the throttle is tested for here.
    monkeypatch.setattr(
        ApiClientRateThrottle, "THROTTLE_RATES", {"api_client": "100000/min"}
    )
    _, token = api_client_create(
        name="fuzzer", scopes=["read", "write", "ingest", "admin"]
    )
    # A little of everything, so that ids 1, 2, ... exist and actions get past 404.
    agent = AgentFactory()
    source = SourceFactory(kind="manual")
    for _ in range(2):
        case = CaseFactory(assignee=agent.user)
        MentionFactory(case=case, source=source)
        EscalationFactory(case=case)
    SurveyFactory()
    return token


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.django_db
def test_the_api_never_fails_and_keeps_to_its_schema(case, token):
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"},
        checks=[not_a_server_error, response_schema_conformance],
    )


def post_hostile(token, method, path, field, value):
    response = Client().generic(
        method,
        path,
        json.dumps({field: value}),  # a surrogate goes out as the escape \\ud800
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code < 500, (method, path, field, repr(value))
    return response


@pytest.mark.django_db
def test_every_string_field_of_every_write_refuses_a_surrogate_and_a_nul(token):
    assert len(STRING_FIELDS) > 30
    for method, path, field in STRING_FIELDS:
        for value in ("\ud800", "a\x00b"):
            response = post_hostile(token, method, path, field, value)
            # 404: an object the fixture does not make (the body is never read).
            assert response.status_code in (400, 404), (method, path, field)
            if response.status_code == 400:
                assert field in response.json(), (method, path, field)


@given(data=st.data())
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.django_db
def test_hostile_strings_in_write_fields_are_never_a_server_error(token, data):
    method, path, field = data.draw(st.sampled_from(STRING_FIELDS))
    post_hostile(token, method, path, field, data.draw(HOSTILE))
