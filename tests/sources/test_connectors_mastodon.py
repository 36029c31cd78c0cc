import pytest

from sources.connectors import ConnectorError
from sources.connectors.mastodon import MastodonConnector
from tests.httpserver import Answer, load_vcr
from tests.sources.conftest import recording

TAG = "/api/v1/timelines/tag/mybank"


def cassette(name, index):
    return load_vcr(recording(f"mastodon/{name}"))[index]


def test_it_reads_a_recorded_tag_timeline_and_follows_min_id(http_server, connect):
    recorded = cassette("test_hashtag_tl.yaml", 2)
    http_server.add("/api/v1/timelines/tag/hoot", [recorded.answer, Answer(200, b"[]")])
    connector = connect(MastodonConnector, query="#hoot", cursor={"min_id": "1"})

    first, empty = list(connector.fetch())

    (item,) = first.items
    assert item.external_id == "117020593741189701"
    assert item.text == "#hoot (hashtag toot)"
    assert item.language == "ja" and item.author_handle == "mastodonpy_test_2"
    assert first.cursor == {"min_id": "117020593741189701"}
    assert http_server.requests[0].query["min_id"] == "1"
    # The Link header's rel="prev" gives the next min_id.
    assert http_server.requests[1].query["min_id"] == "117020593741189701"
    assert empty.items == [] and empty.cursor == {"min_id": "117020593741189701"}


def test_it_cleans_html_and_keeps_edits_boosts_and_failures(http_server, connect):
    body = recording("crafted/mastodon_tag_page.json").read_bytes()
    http_server.add(TAG, [Answer(200, body), Answer(200, b"[]")])

    first, _ = list(connect(MastodonConnector, query="#mybank").fetch())

    boosted, edited = first.items
    assert edited.text == (
        "Mijn pas is geblokkeerd 😡 & niemand neemt op\nbij #mybank\n\n<b>echt</b>"
    )
    assert "alert" not in edited.text
    assert edited.edited_at is not None and edited.edited_at.microsecond == 123000
    assert edited.in_reply_to == "113000000000000001"
    assert edited.author_name == "Klant Één" and edited.author_followers == 12
    assert (edited.likes, edited.reposts) == (4, 1)
    assert boosted.external_id == "112999999999999999"
    assert boosted.text == "cw: money\n\nOriginal post about #mybank"
    assert boosted.author_handle == "orig@other.example"
    assert len(first.parse_failures) == 1 and "not-a-number" in first.parse_failures[0]
    assert first.cursor == {"min_id": "113000000000000003"}


def test_it_reads_edited_statuses_recorded_on_mastodon_social(http_server, connect):
    recorded = cassette("test_entity_status.yaml", 0)
    http_server.add(
        TAG, [Answer(200, b"[" + recorded.answer.body + b"]"), Answer(200, b"[]")]
    )

    first, _ = list(connect(MastodonConnector, query="#mybank").fetch())

    (item,) = first.items
    assert item.edited_at.isoformat() == "2023-05-28T12:09:44+00:00"
    assert item.language == "de"
    assert item.text.startswith("test post for mastodon.py stuff\n\n@halcy you're")
    assert "<" not in item.text


def test_it_skips_and_counts_notifications_without_a_status(http_server, connect):
    recorded = cassette("test_entity_notification.yaml", 0)
    http_server.add("/api/v1/notifications", [recorded.answer, Answer(200, b"[]")])
    connector = connect(
        MastodonConnector, query="@mentions", credentials={"access_token": "m-token"}
    )

    first, _ = list(connector.fetch())

    entries = recorded.json()
    without = [n for n in entries if n["status"] is None]
    assert len(first.items) + len(first.parse_failures) == len(entries)
    assert len(first.parse_failures) == len(without) > 0
    assert first.cursor == {"min_id": "550622655"}
    assert http_server.requests[0].query["types[]"] == "mention"
    assert http_server.requests[0].headers["authorization"] == "Bearer m-token"


def test_it_searches_statuses_with_v2_search(http_server, connect):
    recorded = cassette("test_entity_searchv2.yaml", 2)
    http_server.add(
        "/api/v2/search", [recorded.answer, Answer(200, b'{"statuses": []}')]
    )

    first, _ = list(connect(MastodonConnector, query="halcy").fetch())

    assert [i.external_id for i in first.items] == [
        "116388107849695302",
        "116388149027005349",
    ]
    assert http_server.requests[0].query["type"] == "statuses"
    assert http_server.requests[1].query["min_id"] == "116388149027005349"


def test_it_reports_a_missing_instance_path_as_a_permanent_error(http_server, connect):
    recorded = cassette("test_status_missing.yaml", 0)
    http_server.add(TAG, recorded.answer)

    with pytest.raises(ConnectorError, match="404: Not Found"):
        list(connect(MastodonConnector, query="#mybank").fetch())


def test_it_refuses_a_tag_that_is_not_a_word(connect):
    with pytest.raises(ConnectorError, match="hashtag"):
        list(connect(MastodonConnector, query="#../../admin").fetch())
