import pytest

from sources.connectors import ConnectorError
from sources.connectors.youtube import YouTubeConnector
from tests.httpserver import Answer
from tests.sources.conftest import recording

PATH = "/commentThreads"
KEY = {"api_key": "yt-key-secret"}


def body(name):
    return recording(name).read_bytes()


def test_it_pages_with_page_token_and_dedupes_repeated_threads(http_server, connect):
    http_server.add(
        PATH,
        [
            Answer(200, body("youtube/comment_threads_by_video_paged_1.json")),
            Answer(200, body("youtube/comment_threads_by_video_paged_2.json")),
        ],
    )
    connector = connect(YouTubeConnector, query="video:F1UP7wRCPH8", credentials=KEY)

    first, second = list(connector.fetch())

    assert len(first.items) == 5
    assert second.items == []  # page 2 repeats page 1's ids
    google = next(
        i for i in first.items if i.external_id == "UgyZ1jqkHKYvi1-ruOZ4AaABAg"
    )
    assert google.text == "Google.com"  # textOriginal, not the <a> of textDisplay
    assert google.author_id == "UCzj-CjKYmGlZ7vTL-vOe57A"
    assert google.conversation_key == google.external_id
    assert second.cursor == {
        "newest_at": "2019-11-26T15:51:44+00:00",
        "newest_ids": ["UgyZ1jqkHKYvi1-ruOZ4AaABAg"],
    }
    sent = http_server.requests
    assert (
        sent[0].query["videoId"] == "F1UP7wRCPH8" and "pageToken" not in sent[0].query
    )
    assert sent[1].query["pageToken"].startswith("QURTSl9p")
    assert sent[0].query["order"] == "time"


def test_it_stops_at_the_last_seen_published_time(http_server, connect):
    http_server.add(
        PATH, 200, body=body("youtube/comment_threads_by_video_paged_1.json")
    )
    cursor = {
        "newest_at": "2019-11-17T11:34:48+00:00",
        "newest_ids": ["UgysQP-vp089eFP0Stl4AaABAg"],
    }

    (page,) = list(
        connect(
            YouTubeConnector, query="F1UP7wRCPH8", cursor=cursor, credentials=KEY
        ).fetch()
    )

    assert [i.external_id for i in page.items] == [
        "Ugy4OzAuz5uJuFt3FH54AaABAg",
        "UgyZ1jqkHKYvi1-ruOZ4AaABAg",
    ]
    assert len(http_server.requests) == 1  # the mark was reached: no page 2
    assert page.cursor["newest_at"] == "2019-11-26T15:51:44+00:00"


def test_it_reads_a_channels_threads_with_chinese_text(http_server, connect):
    http_server.add(PATH, 200, body=body("youtube/comment_threads_all_to_me.json"))

    (page,) = list(
        connect(
            YouTubeConnector, query="UCa-vrCLQHviTOVnEKDOdetQ", credentials=KEY
        ).fetch()
    )

    assert len(page.items) == 4
    assert (
        http_server.requests[0].query["allThreadsRelatedToChannelId"]
        == "UCa-vrCLQHviTOVnEKDOdetQ"
    )
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in i.text) for i in page.items)


def test_it_yields_replies_and_marks_edits(http_server, connect):
    http_server.add(PATH, 200, body=body("crafted/youtube_replies_edited.json"))

    (page,) = list(
        connect(YouTubeConnector, query="video:vid1", credentials=KEY).fetch()
    )

    top, reply = page.items
    assert top.text == "Waarom <b>kan</b> ik niet inloggen? 😢"
    assert top.edited_at.isoformat() == "2024-09-02T08:10:00+00:00"
    assert top.author_handle == "@klant" and top.replies == 1
    assert reply.in_reply_to == "UgxNEW" and reply.conversation_key == "UgxNEW"
    assert reply.edited_at is None
    assert len(page.parse_failures) == 1 and "UgxBROKEN" in page.parse_failures[0]


def test_it_reports_a_bad_key_without_showing_it(http_server, connect):
    http_server.add(PATH, 400, body=body("youtube/error_response.json"))

    with pytest.raises(ConnectorError) as raised:
        list(connect(YouTubeConnector, query="video:x", credentials=KEY).fetch())

    assert "keyInvalid" in str(raised.value)
    assert "yt-key-secret" not in str(raised.value)
    assert http_server.requests[0].query["key"] == "yt-key-secret"
