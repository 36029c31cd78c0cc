import json

import pytest

from sources.connectors import ConnectorError
from sources.connectors.x_search import XSearchConnector
from tests.httpserver import Answer, load_vcr
from tests.sources.conftest import recording

PATH = "/2/tweets/search/recent"
CREDENTIALS = {"bearer_token": "x-bearer-secret"}


def body(name):
    return recording(f"twitter/{name}").read_bytes()


def make(connect, **kwargs):
    return connect(XSearchConnector, query="mybank", credentials=CREDENTIALS, **kwargs)


def test_it_reads_the_recorded_gzip_search(http_server, connect):
    recorded = load_vcr(recording("twitter/test_client_search_recent_tweets.yaml"))[0]
    http_server.add(PATH, recorded.answer)

    pages = list(make(connect, max_pages=1).fetch())

    items = pages[0].items
    assert len(items) == 10
    assert [i.external_id for i in items] == sorted(
        (i.external_id for i in items), key=int
    )
    assert items[-1].text == "2022-10-07 22:42:12.637103 tweepy"
    assert items[0].author_id == "" and items[0].published_at is None
    sent = http_server.requests[0].query
    assert sent["query"] == "mybank"
    assert sent["expansions"] == "author_id"
    assert "conversation_id" in sent["tweet.fields"]
    assert sent["user.fields"] == "username,name,public_metrics"
    assert "since_id" not in sent


def test_it_pages_with_next_token_and_moves_since_id_only_at_the_end(
    http_server, connect
):
    http_server.add(
        PATH,
        [
            Answer(200, body("search_tweets_for_nyc.json")),
            Answer(200, body("search_tweets_query.json")),
        ],
    )
    connector = make(connect, cursor={"since_id": "1275000000000000000"})

    first, last = list(connector.fetch())

    newest = json.loads(body("search_tweets_for_nyc.json"))["meta"]["newest_id"]
    token = json.loads(body("search_tweets_for_nyc.json"))["meta"]["next_token"]
    # A crash after storing the first page must resume at page 2, same since_id.
    assert first.cursor == {
        "since_id": "1275000000000000000",
        "next_token": token,
        "pending_newest_id": newest,
    }
    assert last.cursor == {"since_id": newest}
    second_request = http_server.requests[1].query
    assert second_request["next_token"] == token
    assert second_request["since_id"] == "1275000000000000000"


def test_it_survives_partial_expansions_and_unescapes_text(http_server, connect):
    http_server.add(PATH, 200, body=body("search_tweets_for_nyc.json"))

    page = next(make(connect, max_pages=1).fetch())

    assert len(page.items) == 10 and page.parse_failures == []
    camps = next(i for i in page.items if i.external_id == "1275840891014561796")
    assert "&amp;" not in camps.text and "allergies (not a worry" in camps.text
    assert camps.author_id == "15004848"
    assert camps.author_handle == "" and camps.author_followers is None
    assert camps.url == "https://x.com/i/web/status/1275840891014561796"
    assert {i.language for i in page.items} >= {"en", "de"}
    reply = next(i for i in page.items if i.external_id == "1275840892281249793")
    assert reply.in_reply_to == "1275781448855891968"


def test_it_joins_authors_from_includes(http_server, connect):
    http_server.add(PATH, 200, body=body("search_tweets_query.json"))

    (page,) = list(make(connect).fetch())

    tweet = next(i for i in page.items if i.external_id == "1276035977375477760")
    assert tweet.author_handle == "happycamper"
    assert tweet.author_name.startswith("Emily Waligoske")
    assert tweet.url == "https://x.com/happycamper/status/1276035977375477760"
    assert "\U0001f525" in next(
        i.text for i in page.items if i.external_id == "1275882613572583424"
    )
    assert page.cursor == {"since_id": "1276035977375477760"}


def test_it_resumes_a_run_from_the_saved_next_token(http_server, connect):
    http_server.add(PATH, 200, body=body("search_tweets_query.json"))
    cursor = {
        "since_id": "5",
        "next_token": "tok2",
        "pending_newest_id": "99999999999999999999",
    }

    (page,) = list(make(connect, cursor=cursor).fetch())

    assert http_server.requests[0].query["next_token"] == "tok2"
    assert page.cursor == {"since_id": "99999999999999999999"}


def test_it_starts_over_when_the_saved_token_is_refused(http_server, connect):
    http_server.add(
        PATH,
        [
            Answer(400, b'{"errors": [{"message": "Invalid next_token"}]}'),
            Answer(200, body("search_tweets_query.json")),
        ],
    )
    cursor = {"since_id": "5", "next_token": "stale", "pending_newest_id": "7"}

    (page,) = list(make(connect, cursor=cursor).fetch())

    assert "next_token" not in http_server.requests[1].query
    assert page.cursor == {"since_id": "1276035977375477760"}


def test_it_keeps_the_since_id_on_an_empty_page(http_server, connect):
    http_server.add(PATH, 200, body=recording("crafted/x_empty.json").read_bytes())

    (page,) = list(make(connect, cursor={"since_id": "42"}).fetch())

    assert page.items == []
    assert page.cursor == {"since_id": "42"}
    assert http_server.requests[0].query["since_id"] == "42"


def test_it_saves_the_token_when_out_of_pages(http_server, connect):
    http_server.add(PATH, 200, body=body("search_tweets_for_nyc.json"))

    (page,) = list(make(connect, cursor={"since_id": "1"}, max_pages=1).fetch())

    assert page.cursor["since_id"] == "1"
    assert page.cursor["next_token"]


def test_it_counts_an_unparseable_tweet_and_keeps_the_rest(http_server, connect):
    data = json.loads(body("search_tweets_query.json"))
    data["data"].append({"text": "no id"})
    http_server.add(PATH, 200, body=data)

    (page,) = list(make(connect).fetch())

    assert len(page.items) == 4
    assert len(page.parse_failures) == 1


def test_it_needs_a_bearer_token(http_server, connect):
    connector = connect(XSearchConnector, query="mybank")

    with pytest.raises(ConnectorError, match="bearer token"):
        list(connector.fetch())
    assert http_server.requests == []


def test_a_reply_carries_its_conversation_and_parent(http_server, connect):
    http_server.add(
        PATH, 200, body=recording("crafted/x_reply_thread.json").read_bytes()
    )

    (page,) = list(make(connect).fetch())

    by_id = {item.external_id: item for item in page.items}
    original = by_id["1860000000000000001"]
    reply = by_id["1860000000000000002"]
    assert original.conversation_key == reply.conversation_key == "1860000000000000001"
    assert reply.in_reply_to == "1860000000000000001"
    assert original.in_reply_to == ""
    assert reply.text.endswith("& nog steeds geen antwoord")
    assert reply.author_handle == "klant_bob"
    assert page.cursor == {"since_id": "1860000000000000002"}
