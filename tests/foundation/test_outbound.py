"""webcare.outbound: which addresses are public, and connecting to the checked one."""

import socket

import httpx
import pytest

from tests.foundation.test_settings import run_manage
from tests.httpserver import LoopbackServer
from webcare import outbound


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.1.1",  # multicast, though "global"
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1%eth0",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "ff02::1",
    ],
)
def test_it_calls_internal_addresses_not_public(address):
    assert not outbound.is_public_address(address)


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_it_calls_public_addresses_public(address):
    assert outbound.is_public_address(address)


def test_it_resolves_once_and_connects_to_that_address_with_the_name(
    settings, monkeypatch
):
    settings.WEBCARE_ALLOW_PRIVATE_HOSTS = True
    lookups = []
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host[0].isalpha():  # not the IP literal the socket connects to
            lookups.append(host)
        if host == "feeds.example.com":
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    server = LoopbackServer()
    server.add("/feed.xml", 200, body=b"ok")
    port = server.url.rsplit(":", 1)[1]
    try:
        with outbound.public_client(timeout=httpx.Timeout(2.0)) as client:
            response = client.get(f"http://feeds.example.com:{port}/feed.xml")
    finally:
        server.close()
    assert response.text == "ok"
    assert str(response.url) == f"http://feeds.example.com:{port}/feed.xml"
    assert lookups == ["feeds.example.com"]
    assert server.requests[0].headers["host"] == f"feeds.example.com:{port}"


def test_it_refuses_before_connecting(settings, monkeypatch):
    settings.WEBCARE_ALLOW_PRIVATE_HOSTS = False
    monkeypatch.setattr(
        httpx.HTTPTransport, "handle_request", pytest.fail, raising=True
    )
    with (
        outbound.public_client(timeout=httpx.Timeout(2.0)) as client,
        pytest.raises(outbound.HostRefused, match="internal address"),
    ):
        client.get("http://[::ffff:127.0.0.1]:6379/")


def test_the_old_setting_name_still_allows_private_hosts():
    result = run_manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.WEBCARE_ALLOW_PRIVATE_HOSTS)",
        WEBCARE_WEBHOOK_ALLOW_PRIVATE_HOSTS="true",
    )
    assert result.stdout.strip().endswith("True"), result.stderr
