"""Fixtures for case work: staff of each group, a team, and a clock tests control."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from cases.models import Agent
from tests.factories import TeamFactory, UserFactory

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def amsterdam(*args) -> datetime:
    """An aware instant from Amsterdam wall time, e.g. amsterdam(2026, 3, 2, 9, 0)."""
    return datetime(*args, tzinfo=AMSTERDAM)


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def set(self, now: datetime) -> None:
        self.now = now

    def advance(self, delta) -> None:
        self.now = self.now + delta


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Every test makes staff users; PBKDF2 would dominate the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def clock(monkeypatch):
    """Services, events and tasks read `timezone.now()`; tests set it.

    Starts on Monday 2 March 2026, 09:00 in Amsterdam (open in the default hours).
    """
    clock = Clock(amsterdam(2026, 3, 2, 9, 0))
    monkeypatch.setattr(timezone, "now", lambda: clock.now)
    return clock


@pytest.fixture
def team(db):
    return TeamFactory(name="Webcare", email="webcare-team@example.com")


def make_agent(team, username, first_name="Anna", *, available=True):
    user = UserFactory(username=username, first_name=first_name, groups=["agent"])
    Agent.objects.create(user=user, team=team, is_available=available)
    return user


@pytest.fixture
def agent(team):
    return make_agent(team, "anna", "Anna")


@pytest.fixture
def other_agent(team):
    return make_agent(team, "bram", "Bram")


@pytest.fixture
def spokesperson(db):
    return UserFactory(username="sam", first_name="Sam", groups=["spokesperson"])


@pytest.fixture
def customer_service(db):
    return UserFactory(
        username="carla", first_name="Carla", groups=["customer_service"]
    )


@pytest.fixture
def manager(db):
    return UserFactory(username="mira", first_name="Mira", groups=["manager"])
