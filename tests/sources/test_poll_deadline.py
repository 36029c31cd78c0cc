"""A body trickled a byte at a time, each byte well inside the read timeout, ends
the poll at WEBCARE_MAX_RESPONSE_SECONDS with a readable error (bench/faults.py,
hostile_sources, "trickle"): not at the task's time limit as an internal error."""

import time

import httpx
import pytest

from sources.models import Mention, Source, SourceKind
from sources.services import source_poll
from tests.factories import SourceFactory
from tests.httpserver import Answer
from webcare import outbound

pytestmark = pytest.mark.django_db

FEED = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
    b"<title>Reacties</title><link>https://blog.example/</link>"
    b"<item><title>Vraag</title><link>https://blog.example/c/1</link>"
    b"<guid>c-1</guid><pubDate>Mon, 02 Sep 2024 08:00:00 +0000</pubDate>"
    b"<description>Mybank app crasht</description></item></channel></rss>"
)


@pytest.fixture(autouse=True)
def one_attempt(settings):
    settings.WEBCARE_POLL_HTTP_ATTEMPTS = 1
    settings.WEBCARE_MAX_RESPONSE_SECONDS = 1


def test_it_ends_a_poll_whose_answer_trickles_at_the_deadline(http_server):
    # About 8 s for the whole feed at this pace; each byte inside the 15 s timeout.
    http_server.add(
        "/comments",
        Answer(200, FEED, {"Content-Type": "application/rss+xml"}, trickle=0.025),
    )
    source = SourceFactory(kind=SourceKind.FEED, url=f"{http_server.url}/comments")

    started = time.monotonic()
    result = source_poll(source_id=source.pk)
    elapsed = time.monotonic() - started

    assert elapsed < 4
    assert "the answer took longer than 1 s" in result.error
    assert "internal error" not in result.error
    source = Source.objects.get(pk=source.pk)
    assert source.locked_until is None
    assert source.consecutive_failures == 1
    assert "the answer took longer than 1 s" in source.last_error
    assert source.cursor == {}
    assert not Mention.objects.filter(source=source).exists()


def test_a_prompt_answer_is_stored_as_before(http_server):
    http_server.add(
        "/comments", Answer(200, FEED, {"Content-Type": "application/rss+xml"})
    )
    source = SourceFactory(kind=SourceKind.FEED, url=f"{http_server.url}/comments")

    result = source_poll(source_id=source.pk)

    assert (result.error, result.new) == ("", 1)


class _Slow(httpx.SyncByteStream):
    def __init__(self, pieces: int, pause: float):
        self.pieces, self.pause, self.read = pieces, pause, 0

    def __iter__(self):
        for _ in range(self.pieces):
            time.sleep(self.pause)
            self.read += 1
            yield b"x"


def test_read_body_gives_up_after_its_seconds_not_at_the_end_of_the_body():
    stream = _Slow(pieces=100, pause=0.02)
    response = httpx.Response(200, stream=stream)

    with pytest.raises(outbound.UnreadableResponse, match="longer than 0.2 s"):
        outbound.read_body(response, seconds=0.2)

    assert stream.read < 30


def test_an_error_excerpt_of_a_trickled_body_stops_at_the_deadline(settings):
    settings.WEBCARE_MAX_RESPONSE_SECONDS = 0.2
    stream = _Slow(pieces=100, pause=0.02)
    response = httpx.Response(
        500, headers={"content-type": "text/plain"}, stream=stream
    )

    assert outbound.error_excerpt(response) == "(body not readable)"
    assert stream.read < 30
