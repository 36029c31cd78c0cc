"""The environment's credentials go only to their kind's configured API host.

Source.url is edited by managers and API clients; it must never carry a token
to a host of their choosing. The loopback server on 127.0.0.1 plays both
parts: the configured API when base_url names it, "another host" when
base_url names 127.0.0.2 (or another port, or another scheme) instead.
"""

from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from sources.connectors import ConnectorError, connector_for
from sources.connectors.base import url_origin
from sources.models import Source, SourceKind
from sources.services import source_poll
from tests.factories import SourceFactory

pytestmark = pytest.mark.django_db

SECRET = "env-secret-do-not-leak-7f3a"

# kind: (credentials, query, path on the API, an empty answer, where the secret goes)
PLATFORMS = {
    "x_search": (
        {"bearer_token": SECRET},
        "oranjebank",
        "/2/tweets/search/recent",
        {"meta": {"result_count": 0}},
        lambda request: request.headers.get("authorization") == f"Bearer {SECRET}",
    ),
    "youtube": (
        {"api_key": SECRET},
        "UCxyz",
        "/commentThreads",
        {"items": []},
        lambda request: request.query.get("key") == SECRET,
    ),
    "facebook": (
        {"access_token": SECRET},
        "oranjebank",
        "/oranjebank/feed",
        {"data": []},
        lambda request: request.query.get("access_token") == SECRET,
    ),
    "reddit": (
        {"access_token": SECRET},
        "oranjebank",
        "/search.json",
        {"kind": "Listing", "data": {"children": [], "after": None}},
        lambda request: request.headers.get("authorization") == f"bearer {SECRET}",
    ),
}


@pytest.fixture(autouse=True)
def one_attempt(settings):
    settings.WEBCARE_POLL_HTTP_ATTEMPTS = 1


def elsewhere(url: str, *, host: str = "127.0.0.2", port=None, scheme=None) -> str:
    """The loopback server's URL with another host, port or scheme."""
    parts = urlsplit(url)
    return f"{scheme or parts.scheme}://{host}:{port or parts.port}"


def configure(settings, kind: str, base_url: str, **credentials) -> None:
    settings.WEBCARE_CONNECTOR_CREDENTIALS = {
        **settings.WEBCARE_CONNECTOR_CREDENTIALS,
        kind: {**credentials, "base_url": base_url},
    }


@pytest.mark.parametrize("kind", sorted(PLATFORMS))
def test_a_source_on_another_host_never_receives_the_token(kind, settings, http_server):
    credentials, query, path, empty, _ = PLATFORMS[kind]
    allowed = elsewhere(http_server.url)
    configure(settings, kind, allowed, **credentials)
    http_server.add(path, 200, body=empty)
    source = SourceFactory(kind=kind, url=http_server.url, query=query)

    result = source_poll(source_id=source.pk)

    expected = (
        f"{http_server.url} is not the configured API host for {kind}; "
        f"credentials are only sent to {allowed}"
    )
    assert result.error == expected
    assert http_server.requests == []
    source.refresh_from_db()
    assert source.last_error == expected
    assert source.consecutive_failures == 1
    assert source.last_success_at is None
    assert source.locked_until is None


@pytest.mark.parametrize("kind", sorted(PLATFORMS))
def test_the_configured_host_receives_the_token(kind, settings, http_server):
    credentials, query, path, empty, carries_secret = PLATFORMS[kind]
    configure(settings, kind, http_server.url, **credentials)
    http_server.add(path, 200, body=empty)
    source = SourceFactory(kind=kind, url=http_server.url, query=query)

    result = source_poll(source_id=source.pk)

    assert result.error == ""
    assert [request.path for request in http_server.requests] == [path]
    assert carries_secret(http_server.requests[0])
    source.refresh_from_db()
    assert source.last_error == ""
    assert source.consecutive_failures == 0


def test_a_source_without_url_uses_the_configured_host(settings, http_server):
    configure(settings, "x_search", http_server.url + "/", bearer_token=SECRET)
    http_server.add("/2/tweets/search/recent", 200, body={"meta": {}})
    source = SourceFactory(kind=SourceKind.X_SEARCH, url="", query="oranjebank")

    result = source_poll(source_id=source.pk)

    assert result.error == ""
    assert http_server.requests[0].headers["authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize(
    "source_url",
    [
        # Same host, other port; same host and port, other scheme.
        lambda server: elsewhere(server.url, host="127.0.0.1", port=1),
        lambda server: elsewhere(server.url, host="127.0.0.1", scheme="https"),
        # Userinfo that looks like the allowed host: the request goes to 127.0.0.1.
        lambda server: server.url.replace("://", "://127.0.0.2:{port}@"),
    ],
    ids=["other-port", "other-scheme", "userinfo-trick"],
)
def test_the_origin_is_compared_by_scheme_host_and_port(
    source_url, settings, http_server
):
    port = urlsplit(http_server.url).port
    configure(settings, "x_search", elsewhere(http_server.url), bearer_token=SECRET)
    http_server.add("/2/tweets/search/recent", 200, body={"meta": {}})
    url = source_url(http_server).format(port=port)
    source = SourceFactory(kind=SourceKind.X_SEARCH, url=url, query="oranjebank")

    result = source_poll(source_id=source.pk)

    assert "is not the configured API host for x_search" in result.error
    assert http_server.requests == []
    assert SECRET not in Source.objects.get(pk=source.pk).last_error


def test_x_refuses_any_host_but_its_own_api_without_a_configured_base(
    settings, http_server
):
    settings.WEBCARE_CONNECTOR_CREDENTIALS = {"x_search": {"bearer_token": SECRET}}
    source = SourceFactory(kind=SourceKind.X_SEARCH, url=http_server.url)

    result = source_poll(source_id=source.pk)

    assert result.error.endswith(
        "credentials are only sent to https://api.twitter.com:443"
    )
    assert http_server.requests == []


def test_another_mastodon_instance_is_read_without_the_token(settings, http_server):
    configure(settings, "mastodon", elsewhere(http_server.url), access_token=SECRET)
    http_server.add("/api/v1/timelines/tag/oranjebank", 200, body=[])
    source = SourceFactory(
        kind=SourceKind.MASTODON, url=http_server.url, query="#oranjebank"
    )

    result = source_poll(source_id=source.pk)

    assert result.error == ""
    assert len(http_server.requests) == 1
    assert "authorization" not in http_server.requests[0].headers
    assert SECRET not in str(http_server.requests[0])


def test_the_configured_mastodon_instance_receives_the_token(settings, http_server):
    configure(settings, "mastodon", http_server.url, access_token=SECRET)
    http_server.add("/api/v1/timelines/tag/oranjebank", 200, body=[])
    source = SourceFactory(
        kind=SourceKind.MASTODON, url=http_server.url, query="#oranjebank"
    )

    result = source_poll(source_id=source.pk)

    assert result.error == ""
    assert http_server.requests[0].headers["authorization"] == f"Bearer {SECRET}"


def test_a_forum_refusing_an_anonymous_poll_says_why_it_was_anonymous(
    settings, http_server
):
    allowed = elsewhere(http_server.url)
    configure(
        settings, "discourse", allowed, api_key=SECRET, api_username="webcare-bot"
    )
    http_server.add("/latest.json", 403, body={"errors": ["You are not permitted"]})
    source = SourceFactory(kind=SourceKind.DISCOURSE, url=http_server.url, query="")

    result = source_poll(source_id=source.pk)

    assert "api-key" not in http_server.requests[0].headers
    assert "api-username" not in http_server.requests[0].headers
    assert result.error == (
        "discourse: the API answered 403: You are not permitted (polled without "
        f"credentials: {http_server.url} is not the configured API host for "
        f"discourse; credentials are only sent to {allowed})"
    )
    assert Source.objects.get(pk=source.pk).last_error == result.error


def test_a_feed_keeps_its_own_url(settings, http_server):
    http_server.add(
        "/feed.xml",
        200,
        body=b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>"
        b"</channel></rss>",
        headers={"Content-Type": "application/rss+xml"},
    )
    source = SourceFactory(
        kind=SourceKind.FEED, url=http_server.url + "/feed.xml", query=""
    )

    result = source_poll(source_id=source.pk)

    assert result.error == ""
    assert [request.path for request in http_server.requests] == ["/feed.xml"]


def test_a_configured_base_url_that_is_not_http_refuses_every_source():
    with pytest.raises(ConnectorError, match="not an http"):
        connector_for("x_search").credentials_for(
            url="https://api.twitter.com",
            credentials={"bearer_token": SECRET, "base_url": "file:///etc/passwd"},
        )


def test_url_origin_makes_default_ports_explicit_and_refuses_other_schemes():
    assert url_origin("https://API.twitter.com/2") == "https://api.twitter.com:443"
    assert url_origin("http://127.0.0.1:8080/x") == "http://127.0.0.1:8080"
    assert url_origin("http://[::1]/") == "http://[::1]:80"
    assert url_origin("ftp://example.com/") is None
    assert url_origin("not a url") is None


def test_the_source_page_says_when_the_credentials_are_not_sent(admin_client, settings):
    settings.WEBCARE_CONNECTOR_CREDENTIALS = {"x_search": {"bearer_token": SECRET}}
    source = SourceFactory(kind=SourceKind.X_SEARCH, url="https://evil.example/")

    response = admin_client.get(
        reverse("admin:sources_source_change", args=[source.pk])
    )

    assert response.status_code == 200
    assert SECRET.encode() not in response.content
    assert (
        b"not sent: https://evil.example:443 is not the configured API host"
        in response.content
    )
