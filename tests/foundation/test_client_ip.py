"""webcare.net.client_ip: X-Forwarded-For is believed only from our own proxies."""

import pytest
from django.test import RequestFactory

from tests.foundation.test_settings import run_manage
from webcare.net import client_ip, throttle_key

factory = RequestFactory()


def request(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return factory.get("/", **extra)


@pytest.fixture
def proxies(settings):
    settings.WEBCARE_TRUSTED_PROXIES = ["10.0.0.0/8", "192.0.2.10", "2001:db8::/32"]


def test_it_uses_the_remote_address_without_trusted_proxies(settings):
    settings.WEBCARE_TRUSTED_PROXIES = []
    assert client_ip(request("203.0.113.5")) == "203.0.113.5"


def test_it_ignores_forwarded_for_when_no_proxy_is_configured(settings):
    settings.WEBCARE_TRUSTED_PROXIES = []
    assert client_ip(request("203.0.113.5", "198.51.100.1")) == "203.0.113.5"


def test_it_ignores_forwarded_for_from_an_untrusted_address(proxies):
    # The client talks to us directly and claims to be someone else.
    assert client_ip(request("203.0.113.5", "198.51.100.1")) == "203.0.113.5"
    assert client_ip(request("203.0.113.5", "10.0.0.1")) == "203.0.113.5"


def test_it_takes_the_address_our_proxy_saw(proxies):
    assert client_ip(request("10.0.0.2", "198.51.100.1")) == "198.51.100.1"


def test_it_takes_the_right_most_untrusted_address_of_a_spoofed_chain(proxies):
    # The client sent "X-Forwarded-For: 1.1.1.1, 2.2.2.2"; our proxies appended
    # the client's real address and each other's.
    forwarded = "1.1.1.1, 2.2.2.2, 198.51.100.7, 10.1.1.1, 192.0.2.10"
    assert client_ip(request("10.0.0.2", forwarded)) == "198.51.100.7"


def test_a_client_cannot_pose_as_one_of_our_proxies(proxies):
    # Left of the real client address nothing is believed, proxies or not.
    assert client_ip(request("10.0.0.2", "10.9.9.9, 198.51.100.7")) == "198.51.100.7"


def test_it_takes_the_left_most_hop_when_every_hop_is_a_proxy(proxies):
    assert client_ip(request("10.0.0.2", "10.0.0.9, 10.0.0.3")) == "10.0.0.9"


def test_it_stops_at_an_unreadable_hop(proxies):
    # A hop that is not an address: the last proxy we can name is the key, never
    # anything the client wrote.
    assert client_ip(request("10.0.0.2", "198.51.100.1, unknown")) == "10.0.0.2"
    assert client_ip(request("10.0.0.2", "")) == "10.0.0.2"
    assert client_ip(request("10.0.0.2", " , ")) == "10.0.0.2"


def test_it_reads_ports_and_ipv6_as_proxies_write_them(proxies):
    assert client_ip(request("10.0.0.2", "198.51.100.1:51234")) == "198.51.100.1"
    assert client_ip(request("2001:db8::1", "[2a00:1450::5]:443, 2001:db8::2")) == (
        "2a00:1450::5"
    )
    assert client_ip(request("2001:db8::1", "2a00:1450::1")) == "2a00:1450::1"
    assert client_ip(request("::ffff:10.0.0.2", "198.51.100.1")) == "198.51.100.1"


def test_it_answers_empty_without_a_remote_address(proxies):
    assert client_ip(factory.get("/", REMOTE_ADDR="")) == ""


def test_a_bad_trusted_proxy_refuses_to_start():
    result = run_manage("check", WEBCARE_TRUSTED_PROXIES="10.0.0.0/8,not-an-address")
    assert result.returncode != 0
    assert "WEBCARE_TRUSTED_PROXIES" in result.stderr
    assert run_manage("check", WEBCARE_TRUSTED_PROXIES="10.0.0.0/8").returncode == 0


def test_throttles_count_an_ipv6_client_by_its_64_network(settings):
    settings.WEBCARE_TRUSTED_PROXIES = []
    assert throttle_key(request("2001:db8:1:2::7")) == "2001:db8:1:2::/64"
    assert throttle_key(request("2001:db8:1:2:ffff::1")) == "2001:db8:1:2::/64"
    assert throttle_key(request("203.0.113.5")) == "203.0.113.5"
