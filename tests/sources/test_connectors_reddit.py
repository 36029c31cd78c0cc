import json

from sources.connectors.reddit import RedditConnector
from tests.httpserver import Answer, load_betamax
from tests.sources.conftest import recording


def cassette(name):
    return load_betamax(recording(f"reddit/{name}"))


def test_it_fetches_an_app_token_then_searches(http_server, connect):
    token, search = cassette("TestSubreddit.test_search.json")
    http_server.add("/api/v1/access_token", token.answer, method="POST")
    http_server.add("/search.json", search.answer)
    connector = connect(
        RedditConnector,
        query="praw oauth search",
        credentials={
            "client_id": "cid",
            "client_secret": "csecret",
            "token_url": f"{http_server.url}/api/v1/access_token",
        },
    )

    (page,) = list(connector.fetch())

    assert len(page.items) == 6 and page.parse_failures == []
    times = [i.published_at for i in page.items]
    assert times == sorted(times)
    assert all(i.external_id.startswith("t3_") for i in page.items)
    assert all(i.conversation_key == i.external_id for i in page.items)
    assert all("SC_OFF" not in i.text and "<div" not in i.text for i in page.items)
    edited = [i for i in page.items if i.edited_at]
    assert edited and all(i.edited_at > i.published_at for i in edited)
    post_token = http_server.requests[0]
    assert post_token.headers["authorization"].startswith("Basic ")
    assert b"grant_type=client_credentials" in post_token.body
    sent = http_server.requests[1]
    assert sent.headers["authorization"] == "bearer <ACCESS_TOKEN>"
    assert sent.query["q"] == "praw oauth search" and sent.query["sort"] == "new"
    assert page.cursor["newest_at"] == max(times).isoformat()


def test_it_pages_back_with_after_and_stops_at_the_mark(http_server, connect):
    _, mentions = cassette("TestInbox.test_mentions.json")
    listing = mentions.json()
    children = listing["data"]["children"]
    second = {"kind": "Listing", "data": {"after": None, "children": children[:3]}}
    http_server.add(
        "/message/mentions.json",
        [mentions.answer, Answer(200, json.dumps(second).encode())],
    )
    created = sorted(c["data"]["created_utc"] for c in children)
    connector = connect(
        RedditConnector,
        query="/message/mentions",
        credentials={"access_token": "r-tok"},
    )

    first, last = list(connector.fetch())

    assert len(first.items) == len(children)
    assert last.items == []  # page 2 repeats page 1: deduplicated in the run
    assert http_server.requests[1].query["after"] == listing["data"]["after"]
    # On a first run the mark is only set at the end.
    assert first.cursor["newest_at"] is None
    assert first.cursor["resume_token"] == listing["data"]["after"]
    assert last.cursor["newest_at"] == first.cursor["pending_at"]
    assert "resume_token" not in last.cursor
    assert first.cursor["pending_at"].startswith("2019-04-09T01:45:08")
    assert created[-1] == 1554774308.0


def test_it_marks_edited_and_deleted_comments(http_server, connect):
    http_server.add(
        "/r/thenetherlands/comments.json",
        200,
        body=recording("crafted/reddit_edited_deleted.json").read_bytes(),
    )
    connector = connect(RedditConnector, query="/r/thenetherlands/comments/")

    (page,) = list(connector.fetch())

    post, removed, edited = page.items
    assert (
        post.external_id == "t3_p1"
        and post.text == "Storing bij MyBank?\n\nIemand anders ook?"
    )
    assert (
        removed.deleted is True and removed.text == "" and removed.author_handle == ""
    )
    assert edited.edited_at.timestamp() == 1725185000.5
    assert edited.text == "MyBank app crasht weer 😤 & nu?"
    assert edited.in_reply_to == "t1_c2" and edited.conversation_key == "t3_p1"
    assert edited.url == "https://www.reddit.com/r/thenetherlands/comments/p1/_/c3/"
    assert len(page.parse_failures) == 1 and "t1_c1" in page.parse_failures[0]


def test_it_yields_nothing_older_than_the_mark(http_server, connect):
    body = recording("crafted/reddit_edited_deleted.json").read_bytes()
    http_server.add("/r/x/comments.json", 200, body=body)
    cursor = {"newest_at": "2024-09-01T10:01:00+00:00", "newest_ids": ["t1_c2"]}

    (page,) = list(
        connect(RedditConnector, query="/r/x/comments", cursor=cursor).fetch()
    )

    assert [i.external_id for i in page.items] == ["t1_c3"]
    assert page.cursor == {
        "newest_at": "2024-09-01T10:02:00+00:00",
        "newest_ids": ["t1_c3"],
    }


def test_it_reads_a_deleted_comment_and_an_empty_listing(http_server, connect):
    _, info, _ = cassette("TestComment.test_refresh__deleted_comment.json")
    _, _, empty, _ = cassette("TestSubredditStreams.test_comments__with_pause.json")
    http_server.add("/api/info.json", info.answer)
    http_server.add("/r/kakapo/comments.json", empty.answer)

    (deleted_page,) = list(connect(RedditConnector, query="/api/info").fetch())
    (empty_page,) = list(connect(RedditConnector, query="/r/kakapo/comments").fetch())

    (item,) = deleted_page.items
    assert item.deleted is True and item.external_id == "t1_d7ltvl0"
    assert empty_page.items == [] and empty_page.cursor == {}
