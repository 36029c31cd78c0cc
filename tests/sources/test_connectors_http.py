import json
import logging
from datetime import UTC, datetime

import httpx
import pytest

from sources.connectors import (
    CONNECTORS,
    ConnectorError,
    RetryPolicy,
    TransientError,
    connector_for,
)
from sources.connectors.base import clean_text, keyword_matcher, parse_datetime
from sources.connectors.http import USER_AGENT, rate_limit_wait, redact_url, send
from sources.connectors.x_search import XSearchConnector
from sources.connectors.youtube import YouTubeConnector
from tests.httpserver import Answer, load_vcr
from tests.sources.conftest import recording

NOW = datetime(2022, 10, 7, 22, 43, 19, tzinfo=UTC).timestamp()


def test_it_serves_a_gzip_cassette_decoded_without_stale_headers(http_server, client):
    recorded = load_vcr(recording("twitter/test_client_search_recent_tweets.yaml"))[0]
    http_server.add(recorded.path, recorded.answer)

    response = client.get(f"{http_server.url}{recorded.path}?query=Tweepy")

    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert int(response.headers["content-length"]) == len(response.content)
    expected = recording("twitter/test_client_search_recent_tweets.body.json")
    assert response.json() == json.loads(expected.read_bytes())
    assert response.headers["x-rate-limit-reset"] == "1665183229"


def test_it_serves_bodies_stored_decoded_under_a_gzip_header(http_server, client):
    interactions = load_vcr(
        recording("twitter/test_asyncclient_create_and_delete_tweet.yaml")
    )
    deleted = interactions[1]
    http_server.add(deleted.path, deleted.answer, method="DELETE")

    response = client.delete(f"{http_server.url}{deleted.path}")

    assert response.json() == {"data": {"deleted": True}}
    assert http_server.requests[0].method == "DELETE"


def test_it_sends_a_descriptive_user_agent(http_server, client, retry):
    http_server.add("/ping", 200, body={"ok": True})

    send(client, "GET", f"{http_server.url}/ping", policy=retry)

    assert http_server.requests[0].headers["user-agent"] == USER_AGENT


def test_it_waits_for_retry_after_on_429_then_succeeds(http_server, client, retry):
    http_server.add(
        "/limited",
        [Answer(429, b"{}", {"Retry-After": "7"}), Answer(200, b'{"ok": 1}')],
    )

    response = send(client, "GET", f"{http_server.url}/limited", policy=retry)

    assert response.json() == {"ok": 1}
    assert retry.sleep == [7.0]
    assert len(http_server.requests) == 2


def test_it_hands_back_a_long_rate_limit_wait_instead_of_sleeping(
    http_server, client, sleeps
):
    policy = RetryPolicy(sleep=sleeps, clock=lambda: NOW, max_wait=60)
    http_server.add(
        "/limited", 429, body=b"{}", headers={"x-rate-limit-reset": str(int(NOW) + 900)}
    )

    with pytest.raises(TransientError) as raised:
        send(client, "GET", f"{http_server.url}/limited", policy=policy)

    assert raised.value.retry_after == pytest.approx(900)
    assert sleeps == []
    assert len(http_server.requests) == 1


def test_it_retries_a_500_with_backoff(http_server, client, retry):
    http_server.add("/flaky", [Answer(500, b"oops"), Answer(503), Answer(200, b"{}")])

    response = send(client, "GET", f"{http_server.url}/flaky", policy=retry)

    assert response.status_code == 200
    assert retry.sleep == [0.5, 1.0]


def test_it_gives_up_after_the_attempts_with_a_transient_error(
    http_server, client, retry
):
    http_server.add("/down", 502, body=b"bad gateway")

    with pytest.raises(TransientError, match="server error \\(502\\)"):
        send(client, "GET", f"{http_server.url}/down", policy=retry)

    assert len(http_server.requests) == 3
    assert retry.sleep == [0.5, 1.0]


def test_it_turns_a_slow_server_into_a_transient_error(http_server, client, retry):
    http_server.add("/slow", Answer(200, b"{}", delay=0.6))
    retry.attempts = 2

    with pytest.raises(TransientError, match="timed out"):
        send(client, "GET", f"{http_server.url}/slow", policy=retry)

    assert len(http_server.requests) == 2


def test_it_treats_a_cut_off_body_as_transient(http_server, client, retry):
    body = json.dumps({"data": [{"id": "1", "text": "x" * 200}]}).encode()
    http_server.add("/cut", Answer(200, body, truncate_to=40))

    with pytest.raises(TransientError, match="connection failed"):
        send(client, "GET", f"{http_server.url}/cut", policy=retry)


def test_it_sleeps_when_the_quota_is_used_up(http_server, client, sleeps):
    policy = RetryPolicy(sleep=sleeps, clock=lambda: NOW)
    http_server.add(
        "/last",
        200,
        body=b"{}",
        headers={"x-ratelimit-remaining": "0.0", "x-ratelimit-reset": "12"},
    )

    send(client, "GET", f"{http_server.url}/last", policy=policy)

    assert sleeps == [12.0]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "30"}, 30.0),
        ({"retry-after": "Fri, 07 Oct 2022 22:44:19 GMT"}, 60.0),
        ({"x-rate-limit-reset": "1665183229"}, 1665183229 - NOW),
        ({"x-ratelimit-reset": "2022-10-07T22:45:19.916474Z"}, 120.916474),
        ({"x-ratelimit-reset": "53"}, 53.0),
        ({"x-ratelimit-reset": "soon"}, None),
        ({}, None),
    ],
)
def test_it_reads_each_platforms_rate_limit_headers(headers, expected):
    wait = rate_limit_wait(headers, NOW)

    assert wait == (pytest.approx(expected) if expected is not None else None)


def test_it_redacts_credentials_in_urls():
    url = "https://graph.example/v1/1/feed?access_token=SECRET123&key=K&after=x"

    assert redact_url(url) == (
        "https://graph.example/v1/1/feed?access_token=[redacted]&key=[redacted]&after=x"
    )


def test_it_keeps_credentials_out_of_error_messages(http_server, connect):
    http_server.add(
        "/2/tweets/search/recent",
        401,
        body={"title": "Unauthorized", "detail": "token sekrit-token-1 is invalid"},
    )
    connector = connect(
        XSearchConnector, query="mybank", credentials={"bearer_token": "sekrit-token-1"}
    )

    with pytest.raises(ConnectorError) as raised:
        list(connector.fetch())

    assert "sekrit" not in str(raised.value)
    assert "401" in str(raised.value)
    assert raised.value.status == 401
    assert http_server.requests[0].headers["authorization"] == "Bearer sekrit-token-1"


def test_it_keeps_credentials_in_urls_out_of_the_request_log(
    http_server, connect, caplog
):
    # httpx logs each request's URL at INFO, the default level in production.
    http_server.add("/commentThreads", 200, body={"items": []})
    connector = connect(
        YouTubeConnector, query="UCxyz", credentials={"api_key": "sekrit-key-1"}
    )

    with caplog.at_level(logging.INFO, logger="httpx"):
        list(connector.fetch())

    assert http_server.requests[0].query["key"] == "sekrit-key-1"
    assert "/commentThreads" in caplog.text
    assert "key=[redacted]" in caplog.text
    assert "sekrit" not in caplog.text


def test_it_calls_invalid_json_a_transient_error(http_server, connect):
    http_server.add("/2/tweets/search/recent", 200, body=b"<html>proxy error</html>")
    connector = connect(
        XSearchConnector, query="mybank", credentials={"bearer_token": "t0ken"}
    )

    with pytest.raises(TransientError, match="not valid JSON"):
        list(connector.fetch())


def test_it_finds_every_kind_in_the_registry():
    kinds = {"feed", "x_search", "mastodon", "reddit", "youtube", "facebook"}

    assert set(CONNECTORS) == kinds | {"discourse"}
    assert connector_for("x_search") is XSearchConnector
    with pytest.raises(ConnectorError, match="no connector"):
        connector_for("myspace")


def test_it_refuses_a_connector_without_any_url(client):
    with pytest.raises(ConnectorError, match="no URL"):
        connector_for("feed")(
            query="", url="", cursor={}, credentials={}, client=client
        )


def test_clean_text_strips_markup_and_keeps_paragraphs():
    html = "<p>a &amp; b<script>alert(1)</script></p><p>&lt;i&gt; 😀<br>c</p>"

    assert clean_text(html) == "a & b\n\n<i> 😀\nc"


def test_keyword_matcher_ignores_case_and_accents_but_wants_whole_words():
    matches = keyword_matcher(["ING", "Bänk"])

    assert matches("Storing bij ing vandaag")
    assert matches("BANK van de week")
    assert not matches("shopping and banking")
    assert keyword_matcher([])("anything")


def test_parse_datetime_reads_the_formats_of_the_platforms():
    assert parse_datetime("2021-07-09T19:09:52+0000") == datetime(
        2021, 7, 9, 19, 9, 52, tzinfo=UTC
    )
    assert parse_datetime(1725184800.0) == datetime(2024, 9, 1, 10, 0, tzinfo=UTC)
    assert parse_datetime("yesterday") is None
    assert parse_datetime(False) is None


def test_loopback_server_answers_404_for_unknown_routes(http_server):
    response = httpx.get(f"{http_server.url}/nowhere?x=1")

    assert response.status_code == 404
    assert http_server.requests[0].query == {"x": "1"}
