"""Failed token authentications are throttled per client address (WEBCARE_API_AUTH_FAILURES).

Decision: the address is locked, not a token. While locked, even a valid token from
that address gets 429, checked before any lookup, so a guesser can make the
database do nothing; a CRM at another address is not affected.
"""

import time

import pytest
from rest_framework.test import APIClient

from webcare.api.auth import new_token

CASES = "/api/v1/cases/"
GUESSER = "198.51.100.7"


def http(address: str, token: str) -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_thousand_invalid_tokens_are_answered_429_long_before_the_end(
    crm, settings, django_assert_num_queries
):
    settings.WEBCARE_API_AUTH_FAILURES = "20/min"
    codes = [http(GUESSER, new_token()).get(CASES).status_code for _ in range(1000)]
    assert codes[:20] == [401] * 20
    assert set(codes[20:]) == {429}
    locked = http(GUESSER, new_token()).get(CASES)
    assert 1 <= int(locked["Retry-After"]) <= 60
    # Refused before any lookup: the guesser makes the database do nothing.
    with django_assert_num_queries(0):
        assert http(GUESSER, new_token()).get(CASES).status_code == 429
    # The address is locked, whatever token it sends: even the right one.
    assert http(GUESSER, crm.token).get(CASES).status_code == 429
    # The CRM at its own address goes on working.
    assert http("203.0.113.20", crm.token).get(CASES).status_code == 200


def test_every_kind_of_failure_counts(crm, settings):
    settings.WEBCARE_API_AUTH_FAILURES = "3/min"
    guesser = APIClient(REMOTE_ADDR=GUESSER)
    for header in ("Bearer", "Bearer not-a-token", f"Token {new_token()}"):
        assert guesser.get(CASES, HTTP_AUTHORIZATION=header).status_code == 401
    assert http(GUESSER, crm.token).get(CASES).status_code == 429


def test_successes_do_not_count_nor_reset_the_count(crm, settings):
    settings.WEBCARE_API_AUTH_FAILURES = "3/min"
    for _ in range(10):
        assert http(GUESSER, crm.token).get(CASES).status_code == 200
    codes = []
    for _ in range(2):
        codes.append(http(GUESSER, new_token()).get(CASES).status_code)
        # A valid token in between does not wipe the guesser's slate.
        codes.append(http(GUESSER, crm.token).get(CASES).status_code)
    codes.append(http(GUESSER, new_token()).get(CASES).status_code)
    assert codes == [401, 200, 401, 200, 401]
    assert http(GUESSER, crm.token).get(CASES).status_code == 429


def test_the_lock_ends_after_the_period(crm, settings):
    settings.WEBCARE_API_AUTH_FAILURES = "2/s"
    for _ in range(2):
        http(GUESSER, new_token()).get(CASES)
    assert http(GUESSER, crm.token).get(CASES).status_code == 429
    time.sleep(1.2)
    assert http(GUESSER, crm.token).get(CASES).status_code == 200


def test_clients_behind_our_proxy_are_counted_apart(crm, settings):
    settings.WEBCARE_API_AUTH_FAILURES = "3/min"
    settings.WEBCARE_TRUSTED_PROXIES = ["10.0.0.0/8"]

    def via_proxy(client_address, token, spoofed="203.0.113.99"):
        return http("10.0.0.2", token).get(
            CASES, HTTP_X_FORWARDED_FOR=f"{spoofed}, {client_address}"
        )

    for n in range(3):
        # A made-up left part changes nothing: the proxy's entry is the key.
        assert via_proxy(GUESSER, new_token(), f"203.0.113.{n}").status_code == 401
    assert via_proxy(GUESSER, crm.token).status_code == 429
    assert via_proxy("198.51.100.8", crm.token).status_code == 200


@pytest.mark.parametrize("rate", ["20", "0/min", "20/fortnight", "x/min"])
def test_a_bad_rate_refuses_to_start(rate):
    from tests.foundation.test_settings import run_manage

    result = run_manage("check", WEBCARE_API_AUTH_FAILURES=rate)
    assert result.returncode != 0
    assert "WEBCARE_API_AUTH_FAILURES" in result.stderr


def test_rotating_through_one_ipv6_network_does_not_escape_the_count(db, settings):
    """One subscriber gets a whole /64: its addresses count as one."""
    settings.WEBCARE_API_AUTH_FAILURES = "20/min"
    codes = [
        http(f"2001:db8:1:2::{n:x}", new_token()).get(CASES).status_code
        for n in range(1, 41)
    ]
    assert codes[:20] == [401] * 20
    assert set(codes[20:]) == {429}
    # Another network is not affected.
    assert http("2001:db8:1:3::1", new_token()).get(CASES).status_code == 401
