"""Failed admin logins lock out (django-axes): per username *and* client address.

Decision: by username alone anyone could lock the team of three out of the admin,
by address alone one office NAT would; so a wrong password from another address
for the same username counts for that address only, and the person at her own
address can still log in.
"""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
GUESSER = "198.51.100.7"
OFFICE = "203.0.113.20"


@pytest.fixture
def team(settings):
    # A fast hasher: these tests log in dozens of times.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return (
        UserFactory(username="anna", groups=["agent"]),
        UserFactory(username="bram", groups=["agent"]),
    )


def attempt(address: str, username: str, password: str, **extra):
    client = Client(REMOTE_ADDR=address)
    response = client.post(LOGIN, {"username": username, "password": password}, **extra)
    return response, client


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_thirty_wrong_passwords_lock_out_the_right_one(team, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    codes = [attempt(GUESSER, "anna", f"guess-{n}")[0].status_code for n in range(30)]
    assert codes[:4] == [200] * 4  # the form says the password is wrong
    assert set(codes[4:]) == {429}
    response, client = attempt(GUESSER, "anna", "webcare-demo")
    assert response.status_code == 429
    assert not logged_in(client)
    # Counted in one row for the pair, for staff to see in the admin (Axes).
    row = AccessAttempt.objects.get(username="anna", ip_address=GUESSER)
    assert row.failures_since_start >= 5
    assert "guess-" not in row.post_data  # axes masks the password


def test_another_user_at_the_same_address_is_not_affected(team):
    for n in range(6):
        attempt(GUESSER, "anna", f"guess-{n}")
    response, client = attempt(GUESSER, "bram", "webcare-demo")
    assert response.status_code == 302 and logged_in(client)


def test_the_same_user_at_another_address_is_counted_apart(team):
    for n in range(6):
        attempt(GUESSER, "anna", f"guess-{n}")
    # A wrong password from her office is one failure there, not a lockout.
    response, client = attempt(OFFICE, "anna", "typo")
    assert response.status_code == 200 and not logged_in(client)
    response, client = attempt(OFFICE, "anna", "webcare-demo")
    assert response.status_code == 302 and logged_in(client)
    # The guesser stays locked out.
    assert attempt(GUESSER, "anna", "webcare-demo")[0].status_code == 429


def test_the_lockout_ends_after_the_cool_off(team, settings):
    for n in range(5):
        attempt(GUESSER, "anna", f"guess-{n}")
    assert attempt(GUESSER, "anna", "webcare-demo")[0].status_code == 429
    # Trying on does not extend the lockout; 15 minutes later it is over.
    AccessAttempt.objects.update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )
    response, client = attempt(GUESSER, "anna", "webcare-demo")
    assert response.status_code == 302 and logged_in(client)
    assert not AccessAttempt.objects.filter(username="anna").exists()


def test_a_success_resets_the_count(team):
    for n in range(4):
        attempt(OFFICE, "anna", f"typo-{n}")
    assert attempt(OFFICE, "anna", "webcare-demo")[0].status_code == 302
    codes = [attempt(OFFICE, "anna", f"typo-{n}")[0].status_code for n in range(4)]
    assert codes == [200] * 4


def test_a_made_up_forwarded_for_does_not_dodge_the_lockout(team, settings):
    settings.WEBCARE_TRUSTED_PROXIES = []
    codes = [
        attempt(GUESSER, "anna", f"guess-{n}", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")[
            0
        ].status_code
        for n in range(6)
    ]
    assert codes[4:] == [429, 429]
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {GUESSER}


def test_behind_our_proxy_the_lockout_is_per_client(team, settings):
    settings.WEBCARE_TRUSTED_PROXIES = ["10.0.0.0/8"]
    for n in range(5):
        attempt("10.0.0.2", "anna", f"guess-{n}", HTTP_X_FORWARDED_FOR=GUESSER)
    response, client = attempt(
        "10.0.0.2", "anna", "webcare-demo", HTTP_X_FORWARDED_FOR=OFFICE
    )
    assert response.status_code == 302 and logged_in(client)


def test_the_lockout_page_says_what_happened_and_when_to_retry(team):
    for n in range(5):
        attempt(GUESSER, "anna", f"guess-{n}")
    response, _ = attempt(GUESSER, "anna", "webcare-demo")
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    page = response.content.decode()
    assert "Login paused" in page
    assert "Try again in 15 minutes" in page
    assert "webcare-demo" not in page and "guess-" not in page
    response, _ = attempt(GUESSER, "anna", "webcare-demo", HTTP_ACCEPT_LANGUAGE="nl")
    page = response.content.decode()
    assert "Inloggen gepauzeerd" in page
    assert "Probeer het over 15 minuten opnieuw" in page
