"""Fixtures for the CRM API: clients with tokens and scopes, staff, the project's urlconf."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from cases.models import Agent
from tests.factories import TeamFactory, UserFactory
from webcare.api.auth import api_client_create


@pytest.fixture(autouse=True)
def api_settings(settings):
    # Fresh throttle buckets.
    # The webhook receivers of these tests listen on 127.0.0.1; the tests of the
    # refusal of internal hosts turn this off again.
    settings.WEBCARE_ALLOW_PRIVATE_HOSTS = True
    cache.clear()
    yield settings
    cache.clear()


class Crm:
    """An API client record with its token, and an HTTP client that sends it."""

    def __init__(self, name: str, scopes: list[str]):
        self.record, self.token = api_client_create(name=name, scopes=scopes)
        self.http = APIClient()
        self.http.credentials(HTTP_AUTHORIZATION=f"Bearer {self.token}")

    def __getattr__(self, method):
        # crm.get(...), crm.post(..., format="json"), ...
        return getattr(self.http, method)


@pytest.fixture
def make_crm(db):
    created = []

    def make(scopes=("read",), name=None) -> Crm:
        crm = Crm(name or f"crm-{len(created)}-{'-'.join(scopes)}", list(scopes))
        created.append(crm)
        return crm

    return make


@pytest.fixture
def crm(make_crm):
    """The CRM as it is usually configured: read, write and ingest."""
    return make_crm(("read", "write", "ingest"), name="crm")


@pytest.fixture
def reader(make_crm):
    return make_crm(("read",), name="reader")


@pytest.fixture
def team(db):
    return TeamFactory(name="Webcare")


@pytest.fixture
def agent(team):
    user = UserFactory(username="anna", first_name="Anna", groups=["agent"])
    Agent.objects.create(user=user, team=team)
    return user


@pytest.fixture
def staff_http(agent):
    http = APIClient()
    http.force_login(agent)
    return http
