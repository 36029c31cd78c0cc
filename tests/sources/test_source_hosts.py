"""Sources fetch public hosts only: refused at save and at every request, redirects
stay on their origin, answers are read with a cap, errors are kept short and clean."""

import gzip
import socket
import tracemalloc
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from sources.connectors import ConnectorError
from sources.connectors.feed import FeedConnector
from sources.connectors.x_search import XSearchConnector
from sources.models import Mention, Source, SourceKind
from sources.services import source_poll
from tests.factories import SourceFactory
from tests.httpserver import Answer

pytestmark = pytest.mark.django_db

FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><guid>1</guid><title>oranjebank is down</title></item></channel></rss>"""


@pytest.fixture
def private_hosts_refused(settings):
    settings.WEBCARE_ALLOW_PRIVATE_HOSTS = False
    settings.WEBCARE_POLL_HTTP_ATTEMPTS = 1


@pytest.fixture
def public_name_for_loopback(monkeypatch):
    """feeds.example.com, a public-looking name, resolves to 127.0.0.1 (DNS
    rebinding, or an attacker's zone)."""
    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "feeds.example.com":
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


def internal_urls(server_url: str) -> list[str]:
    port = urlsplit(server_url).port
    return [
        f"http://127.0.0.1:{port}/feed.xml",
        f"http://[::1]:{port}/feed.xml",
        f"http://localhost:{port}/feed.xml",
        f"http://[::ffff:127.0.0.1]:{port}/feed.xml",
        f"http://feeds.example.com:{port}/feed.xml",
        "http://10.0.0.1/feed.xml",
        "http://100.64.0.1/feed.xml",
        "http://169.254.169.254/latest/meta-data/",
    ]


def test_it_refuses_a_source_on_an_internal_host_at_poll_without_a_request(
    http_server, private_hosts_refused, public_name_for_loopback
):
    http_server.add("/feed.xml", 200, body=FEED)
    for url in internal_urls(http_server.url):
        source = SourceFactory(kind=SourceKind.FEED, url=url, query="")

        result = source_poll(source_id=source.pk)

        source.refresh_from_db()
        assert "internal address" in result.error, url
        assert source.last_error == result.error
        assert source.consecutive_failures == 1
    assert http_server.requests == []
    assert not Mention.objects.exists()


def test_the_admin_refuses_a_source_on_an_internal_host(
    admin_client, http_server, private_hosts_refused, public_name_for_loopback
):
    for url in internal_urls(http_server.url):
        response = admin_client.post(
            reverse("admin:sources_source_add"),
            {
                "name": "Internal",
                "kind": "feed",
                "url": url,
                "is_active": "on",
                "poll_interval": "00:05:00",
                "expected_silence": "2 00:00:00",
            },
        )
        assert response.status_code == 200, url
        errors = response.context["adminform"].form.errors
        assert "internal address" in errors["url"][0], url
    assert not Source.objects.exists()
    assert http_server.requests == []


def test_an_unresolvable_host_is_saved_and_checked_at_poll(
    admin_client, private_hosts_refused
):
    response = admin_client.post(
        reverse("admin:sources_source_add"),
        {
            "name": "Later",
            "kind": "feed",
            "url": "https://blog.invalid/feed",
            "is_active": "on",
            "poll_interval": "00:05:00",
            "expected_silence": "2 00:00:00",
        },
    )
    assert response.status_code == 302
    result = source_poll(source_id=Source.objects.get().pk)
    assert "does not resolve" in result.error


@pytest.mark.parametrize(
    "location",
    [
        "http://127.0.0.1:{other}/feed.xml",  # another port
        "https://127.0.0.1:{port}/feed.xml",  # another scheme
        "http://localhost:{port}/feed.xml",  # another host
    ],
)
def test_a_redirect_must_stay_on_the_same_origin(http_server, connect, location):
    port = urlsplit(http_server.url).port
    target = location.format(port=port, other=port + 1)
    http_server.add("/old.xml", 301, headers={"Location": target})

    with pytest.raises(ConnectorError, match="redirect"):
        list(connect(FeedConnector, url=f"{http_server.url}/old.xml").fetch())

    assert [r.path for r in http_server.requests] == ["/old.xml"]


def test_an_api_connector_follows_no_redirect_elsewhere_either(http_server, connect):
    port = urlsplit(http_server.url).port
    http_server.add(
        "/2/tweets/search/recent",
        302,
        headers={"Location": f"http://127.0.0.1:{port + 1}/2/tweets/search/recent"},
    )
    connector = connect(
        XSearchConnector, query="oranjebank", credentials={"bearer_token": "t0ken"}
    )

    with pytest.raises(ConnectorError, match="redirect"):
        connector.send(
            "GET", f"{http_server.url}/2/tweets/search/recent", follow_redirects=True
        )


def test_the_error_kept_from_a_third_party_is_short_and_clean(http_server, settings):
    settings.WEBCARE_POLL_HTTP_ATTEMPTS = 1
    settings.WEBCARE_CONNECTOR_CREDENTIALS = {
        "x_search": {"bearer_token": "t0ken", "base_url": http_server.url}
    }
    detail = "internal\x00\x1b[31m stack trace\r\n" + "secret internals " * 500
    http_server.add("/2/tweets/search/recent", 400, body={"detail": detail})
    source = SourceFactory(kind=SourceKind.X_SEARCH, url=http_server.url)

    source_poll(source_id=source.pk)

    source.refresh_from_db()
    assert source.last_error.startswith("x_search: the API answered 400: internal")
    assert len(source.last_error) <= 300
    assert not any(ord(c) < 32 or ord(c) == 127 for c in source.last_error)


def test_a_gzip_bomb_fails_the_poll_cleanly_in_bounded_memory(http_server, settings):
    settings.WEBCARE_POLL_HTTP_ATTEMPTS = 1
    settings.WEBCARE_MAX_RESPONSE_BYTES = 1_000_000
    decoded_size = 50_000_000
    bomb = gzip.compress(b" " * decoded_size, compresslevel=9)
    http_server.add(
        "/feed.xml",
        Answer(
            200,
            bomb,
            {"Content-Type": "application/rss+xml"},
            content_encoding="gzip",
        ),
    )
    source = SourceFactory(
        kind=SourceKind.FEED, url=f"{http_server.url}/feed.xml", query=""
    )

    tracemalloc.start()
    try:
        result = source_poll(source_id=source.pk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    source.refresh_from_db()
    assert "larger than" in result.error
    assert source.last_error == result.error
    assert source.consecutive_failures == 1
    assert source.cursor == {}
    assert not Mention.objects.exists()
    assert peak < 10_000_000
