"""Property-based run of the whole API against its own schema: no 5xx, no response
that contradicts the schema, whatever a client sends (valid and invalid input)."""

import pytest
import schemathesis
import yaml
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
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

schema = schemathesis.openapi.from_dict(yaml.safe_load(generate()))
schema.app = get_wsgi_application()


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
