import json

import pytest

from sources.connectors import ConnectorError, TransientError
from sources.connectors.facebook import FacebookConnector
from tests.httpserver import Answer
from tests.sources.conftest import recording

TOKEN = {"access_token": "fb-page-token-secret"}


def body(name):
    return recording(name).read_bytes()


def make(connect, http_server, query="19292868552", **kwargs):
    return connect(
        FacebookConnector,
        url=f"{http_server.url}/v10.0",
        query=query,
        credentials=TOKEN,
        **kwargs,
    )


def test_it_follows_paging_next_on_the_configured_host(http_server, connect):
    page_two = body("facebook/feeds_default_fields_p2.json")
    first_answer = [
        Answer(200, body("facebook/feeds_default_fields_p1.json")),
        Answer(200, page_two),
    ]
    http_server.add("/v10.0/19292868552/feed", first_answer)

    first, last = list(make(connect, http_server).fetch())

    assert len(first.items) == 5 and len(last.items) == 5
    item = first.items[-1]
    assert item.external_id == "19292868552_10158349356748553"
    assert item.published_at.isoformat() == "2021-07-09T19:09:52+00:00"
    second = http_server.requests[1]
    assert second.query["after"] == "after"
    # Our token replaces the one in the next URL; it is never kept in the cursor.
    assert second.query["access_token"] == "fb-page-token-secret"
    assert "access_token" not in json.dumps(first.cursor)
    assert first.cursor["resume_token"].startswith("https://graph.facebook.com/v10.0/")
    assert last.cursor == {
        "newest_at": "2021-07-09T19:09:52+00:00",
        "newest_ids": ["19292868552_10158349356748553"],
    }


def test_it_follows_time_paged_group_feeds(http_server, connect):
    http_server.add(
        "/v10.0/2260975870792283/feed", 200, body=body("facebook/group_feed_p1.json")
    )

    first = next(make(connect, http_server, query="2260975870792283").fetch())

    assert len(first.items) == 5
    untitled = next(
        i for i in first.items if i.external_id.endswith("3038566336366562")
    )
    assert untitled.text == ""  # a post without message is kept
    assert "\U0001f44b" in first.items[-1].text
    assert "until=1615350965" in first.cursor["resume_token"]


def test_it_counts_comments_without_id_and_keeps_the_rest(http_server, connect):
    comments = json.loads(body("facebook/comments_p1.json"))
    comments["data"][3]["id"] = "10158407654328553_10158408729028553"
    comments["paging"].pop("next")
    http_server.add("/v10.0/19292868552_10158407654328553/comments", 200, body=comments)

    (page,) = list(
        make(
            connect, http_server, query="19292868552_10158407654328553/comments"
        ).fetch()
    )

    (item,) = page.items
    assert item.text == "Wow that's great thank you very much"
    assert item.in_reply_to == "19292868552_10158407654328553"
    assert len(page.parse_failures) == 9
    assert http_server.requests[0].query["order"] == "reverse_chronological"


def test_it_reads_inline_comments_of_feed_posts(http_server, connect):
    http_server.add(
        "/v10.0/111/feed", 200, body=body("crafted/facebook_feed_with_comments.json")
    )
    cursor = {"newest_at": "2024-09-01T00:00:00+00:00", "newest_ids": []}

    (page,) = list(make(connect, http_server, query="111", cursor=cursor).fetch())

    post, comment, reply = page.items
    assert (
        post.text == "Onderhoud vannacht 🛠️" and post.likes == 17 and post.reposts == 4
    )
    assert post.replies == 3 and "comments" not in post.raw
    assert comment.in_reply_to == "111_333" and comment.conversation_key == "111_333"
    assert reply.in_reply_to == "333_9"
    assert len(page.parse_failures) == 1


def test_it_refuses_to_follow_a_next_url_to_another_host(http_server, connect):
    http_server.add(
        "/v10.0/111/feed", 200, body=body("crafted/facebook_foreign_next.json")
    )

    with pytest.raises(ConnectorError, match="another host"):
        list(make(connect, http_server, query="111").fetch())
    assert len(http_server.requests) == 1


def test_it_turns_the_graph_error_into_a_safe_message(http_server, connect):
    http_server.add("/v10.0/111/feed", 400, body=body("facebook/error_data.json"))

    with pytest.raises(ConnectorError) as raised:
        list(make(connect, http_server, query="111").fetch())

    assert not isinstance(raised.value, TransientError)
    assert "OAuthException 100" in str(raised.value)
    assert "fb-page-token-secret" not in str(raised.value)


def test_it_retries_later_on_a_graph_rate_limit(http_server, connect):
    error = {"error": {"message": "Application request limit reached", "code": 4}}
    http_server.add("/v10.0/111/feed", 403, body=error)

    with pytest.raises(TransientError):
        list(make(connect, http_server, query="111").fetch())
