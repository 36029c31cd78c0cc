import json

from sources.connectors.discourse import DiscourseConnector, post_id_from_guid
from tests.conftest import shared_data
from tests.httpserver import Answer
from tests.sources.conftest import recording


def body(name):
    return recording(name).read_bytes()


def serve_forum(http_server):
    http_server.add("/latest.json", 200, body=body("crafted/discourse_latest.json"))
    http_server.add(
        "/t/2144/posts.json",
        [
            Answer(200, body("discourse/t_2144_posts.json")),
            Answer(200, body("discourse/t_2144_posts_pn_41.json")),
        ],
    )
    http_server.add(
        "/t/77/posts.json", 200, body=body("crafted/discourse_t77_posts.json")
    )


def test_it_fetches_new_posts_of_active_topics_oldest_topic_first(http_server, connect):
    serve_forum(http_server)

    crafted, active = list(connect(DiscourseConnector).fetch())

    first, withdrawn = crafted.items
    assert first.external_id == "9001" and first.conversation_key == "77"
    assert first.text == "Vraag over MyBank & rente 💶\n\nTweede alinea"
    assert first.edited_at is not None and first.likes == 3
    assert withdrawn.deleted is True and withdrawn.in_reply_to == "9001"
    assert len(crafted.parse_failures) == 1
    assert crafted.cursor == {"topics": {"77": 3}}
    numbers = [i.raw["post_number"] for i in active.items]
    assert numbers == sorted(numbers) and numbers[0] == 1 and numbers[-1] == 30
    assert 7 not in numbers and len(numbers) == len(set(numbers)) == 29
    assert active.items[0].external_id == "20089"
    assert active.cursor == {"topics": {"77": 3, "2144": 30}}
    follow_up = http_server.requests_to("/t/2144/posts.json")[1].query
    assert follow_up == {"post_number": "21", "asc": "true"}


def test_it_marks_posts_edited_when_their_version_is_above_one(http_server, connect):
    serve_forum(http_server)

    pages = list(connect(DiscourseConnector).fetch())

    posts = {i.raw["post_number"]: i for i in pages[1].items}
    assert posts[9].edited_at is not None and posts[8].edited_at is None
    assert posts[9].in_reply_to == posts[8].external_id
    assert "<" not in posts[2].text


def test_it_skips_topics_with_nothing_new(http_server, connect):
    serve_forum(http_server)
    cursor = {"topics": {"2144": 30, "77": 1}}

    (page,) = list(connect(DiscourseConnector, cursor=cursor).fetch())

    assert [i.external_id for i in page.items] == ["9003"]
    assert http_server.requests_to("/t/2144/posts.json") == []
    assert http_server.requests_to("/t/77/posts.json")[0].query["post_number"] == "1"


def test_it_searches_and_filters_by_keyword(http_server, connect):
    latest = json.loads(body("crafted/discourse_latest.json"))
    http_server.add(
        "/search.json",
        200,
        body={"posts": [], "topics": latest["topic_list"]["topics"][1:2]},
    )
    http_server.add(
        "/t/77/posts.json", 200, body=body("crafted/discourse_t77_posts.json")
    )

    (page,) = list(
        connect(DiscourseConnector, query="mybank", keywords=["MyBank"]).fetch()
    )

    assert [i.external_id for i in page.items] == ["9001"]
    assert http_server.requests[0].query["q"] == "mybank order:latest"


def test_it_reads_the_id_from_an_rss_guid():
    assert post_id_from_guid("discuss.criticalfallibilism.com-post-20102") == "20102"
    assert post_id_from_guid("something-else") == ""


def test_it_reads_a_shared_latest_json_and_a_topic(http_server, connect):
    topics = shared_data("discourse/discourse_topics.json")
    topic = shared_data("discourse/discourse_topic_1148.json")
    http_server.add("/latest.json", 200, body=topics.read_bytes())
    listed = json.loads(topics.read_bytes())["topic_list"]["topics"]
    for entry in listed:
        http_server.add(f"/t/{entry['id']}/posts.json", 200, body=topic.read_bytes())

    pages = list(connect(DiscourseConnector).fetch())

    assert len(pages) == len(listed)
    stream = json.loads(topic.read_bytes())["post_stream"]
    assert len(pages[0].items) == len(stream["posts"]) == 20
    assert len(stream["stream"]) == 22  # the rest would come on the next run


def test_it_yields_nothing_for_an_empty_shared_latest(http_server, connect):
    empty = shared_data("discourse/discourse_topics_empty.json")
    http_server.add("/latest.json", 200, body=empty.read_bytes())

    assert list(connect(DiscourseConnector).fetch()) == []
