"""webcare.outbound: which addresses are public, and connecting to the checked one."""

import gzip
import socket
import zlib

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


class _Chunks(httpx.SyncByteStream):
    def __init__(self, chunks):
        self.chunks = chunks
        self.read = 0

    def __iter__(self):
        for chunk in self.chunks:
            self.read += len(chunk)
            yield chunk


def endless(first: bytes, filler: bytes, *, up_to: int):
    yield first
    sent = len(first)
    while sent < up_to:
        yield filler
        sent += len(filler)


def test_bytes_after_the_end_of_a_gzip_stream_are_refused_not_kept():
    member = gzip.compress(b"ok")
    chunks = _Chunks(endless(member, b"\0" * 65536, up_to=50 * 1024 * 1024))
    response = httpx.Response(200, headers={"content-encoding": "gzip"}, stream=chunks)
    with pytest.raises(httpx.DecodingError):
        outbound.read_body(response, limit=1024)
    assert chunks.read < 200 * 1024  # stopped at once, not after 50 MB


def test_a_stream_that_inflates_to_nothing_is_cut_at_the_limit():
    # Empty stored deflate blocks (BFINAL=0, length 0): valid, endless, no output.
    header = zlib.compressobj(wbits=zlib.MAX_WBITS).compress(b"")
    empty_block = b"\x00\x00\x00\xff\xff"
    chunks = _Chunks(endless(header, empty_block * 13107, up_to=50 * 1024 * 1024))
    response = httpx.Response(
        200, headers={"content-encoding": "deflate"}, stream=chunks
    )
    with pytest.raises(outbound.UnreadableResponse):
        outbound.read_body(response, limit=1024)
    assert chunks.read < 200 * 1024


def test_an_error_page_still_gives_its_excerpt():
    page = b"<html><body>" + b"Service Unavailable " * 500 + b"</body></html>"
    response = httpx.Response(
        503,
        headers={"content-type": "text/html"},
        stream=_Chunks([page]),
    )
    assert outbound.error_excerpt(response).startswith("<html><body>Service")
