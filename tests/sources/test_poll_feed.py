"""Polling a feed end to end (issue 17, items 8 and 10): every entry is stored
once, long ids included; an edit in place reaches the stored mention; nothing
is marked seen unless it was stored."""

from xml.sax.saxutils import escape

import pytest

from sources.connectors.feed import SEEN_LIMIT
from sources.models import Mention, Source, SourceKind
from sources.services import mentions, source_poll
from tests.factories import SourceFactory
from tests.httpserver import Answer

pytestmark = pytest.mark.django_db

LONG_GUID = "https://forum.example/t/" + "storing-bij-mybank-" * 20 + "?c=7"


def rss(*entries: tuple[str, str, str]) -> bytes:
    """A WordPress-like comments feed: guid, title, text; no updated dates."""
    items = "".join(
        f"<item><title>{escape(title)}</title>"
        f"<link>https://blog.example/c/{n}</link>"
        f'<guid isPermaLink="false">{escape(guid)}</guid>'
        "<pubDate>Mon, 02 Sep 2024 08:00:00 +0000</pubDate>"
        f"<description>{escape(text)}</description></item>"
        for n, (guid, title, text) in enumerate(entries)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Reacties</title><link>https://blog.example/</link>{items}"
        "</channel></rss>"
    ).encode()


@pytest.fixture(autouse=True)
def one_attempt(settings):
    settings.WEBCARE_POLL_HTTP_ATTEMPTS = 1


@pytest.fixture
def feed(http_server):
    return SourceFactory(
        kind=SourceKind.FEED, url=f"{http_server.url}/comments", query=""
    )


def serve(http_server, body: bytes) -> None:
    http_server.add(
        "/comments", Answer(200, body, {"Content-Type": "application/rss+xml"})
    )


def test_an_entry_with_an_id_longer_than_200_characters_is_stored_once(
    http_server, feed
):
    assert len(LONG_GUID) > 200
    serve(
        http_server, rss((LONG_GUID, "Vraag", "Mybank app crasht"), ("c-2", "", "Ok"))
    )

    first = source_poll(source_id=feed.pk)
    second = source_poll(source_id=feed.pk)

    assert (first.error, first.new, first.failed) == ("", 2, 0)
    assert (second.new, second.failed) == (0, 0)
    stored = Mention.objects.exclude(external_id="c-2").get(source=feed)
    assert len(stored.external_id) <= 200
    # The original id is kept with the platform's record.
    assert stored.raw["id"] == LONG_GUID
    assert stored.text == "Vraag\n\nMybank app crasht"


def test_the_same_long_id_gives_the_same_stored_id_in_another_source(http_server):
    serve(http_server, rss((LONG_GUID, "Vraag", "Mybank")))
    sources = [
        SourceFactory(kind=SourceKind.FEED, url=f"{http_server.url}/comments")
        for _ in range(2)
    ]

    for source in sources:
        assert source_poll(source_id=source.pk).new == 1

    ids = set(Mention.objects.values_list("external_id", flat=True))
    assert len(ids) == 1


def test_an_item_that_could_not_be_stored_is_offered_again(
    http_server, feed, monkeypatch
):
    serve(http_server, rss(("c-1", "Vraag", "Mybank?"), ("c-2", "Klacht", "Mybank!")))
    real_clean = mentions._clean_item
    refused = []

    def clean_refusing_c2_once(item, source):
        if item.external_id == "c-2" and not refused:
            refused.append(item.external_id)
            return "refused for the test"
        return real_clean(item, source)

    monkeypatch.setattr(mentions, "_clean_item", clean_refusing_c2_once)

    first = source_poll(source_id=feed.pk)
    cursor = Source.objects.get(pk=feed.pk).cursor
    second = source_poll(source_id=feed.pk)

    assert (first.new, first.failed) == (1, 1)
    assert "c-2" not in cursor["seen"]
    assert "c-1" in cursor["seen"]
    assert (second.new, second.failed) == (1, 0)
    assert set(Mention.objects.values_list("external_id", flat=True)) == {
        "c-1",
        "c-2",
    }


def test_an_entry_edited_in_place_reaches_the_mention_with_its_history(
    http_server, feed
):
    serve(http_server, rss(("c-1", "Re: storing", "Mybank is traag")))
    source_poll(source_id=feed.pk)
    before = Mention.objects.get(source=feed)
    # Same guid, new text, no updated date: how WordPress shows an edited comment.
    serve(http_server, rss(("c-1", "Re: storing", "Mybank is traag, nu opgelost")))

    edited = source_poll(source_id=feed.pk)
    again = source_poll(source_id=feed.pk)

    assert (edited.new, edited.updated) == (0, 1)
    assert (again.fetched, again.updated) == (0, 0)
    mention = Mention.objects.get(source=feed)
    assert mention.text == "Re: storing\n\nMybank is traag, nu opgelost"
    assert mention.first_seen_at == before.first_seen_at
    history = mention.raw["_webcare"]["edits"]
    assert [edit["text"] for edit in history] == ["Re: storing\n\nMybank is traag"]


def test_an_edit_that_drops_the_keyword_still_reaches_the_mention(http_server):
    source = SourceFactory(
        kind=SourceKind.FEED,
        url=f"{http_server.url}/comments",
        keywords="mybank",
    )
    serve(http_server, rss(("c-1", "Re", "Mybank laat me in de steek")))
    source_poll(source_id=source.pk)
    serve(http_server, rss(("c-1", "Re", "[verwijderd door de auteur]")))

    result = source_poll(source_id=source.pk)

    assert result.updated == 1
    assert (
        Mention.objects.get(source=source).text == "Re\n\n[verwijderd door de auteur]"
    )


def test_the_feed_cursor_stays_bounded(http_server, feed):
    entries = [(f"c-{n}", "Vraag", f"Mybank {n}") for n in range(SEEN_LIMIT + 50)]
    serve(http_server, rss(*entries))

    source_poll(source_id=feed.pk)

    cursor = Source.objects.get(pk=feed.pk).cursor
    assert len(cursor["seen"]) == SEEN_LIMIT
    assert set(cursor["versions"]) == set(cursor["seen"])
    assert all(len(version) <= 20 for version in cursor["versions"].values())


def test_after_a_refused_entry_the_next_poll_asks_for_the_whole_feed(
    http_server, feed, monkeypatch
):
    # With the page's ETag the server would answer 304 and the refused entry would
    # wait for the next change of the feed.
    http_server.add(
        "/comments",
        Answer(
            200,
            rss(("c-1", "Vraag", "Mybank?"), ("c-2", "Klacht", "Mybank!")),
            {"Content-Type": "application/rss+xml", "ETag": '"v1"'},
        ),
    )
    real_clean = mentions._clean_item

    def clean_refusing_c2(item, source):
        if item.external_id == "c-2":
            return "refused for the test"
        return real_clean(item, source)

    monkeypatch.setattr(mentions, "_clean_item", clean_refusing_c2)
    source_poll(source_id=feed.pk)
    source_poll(source_id=feed.pk)

    first, second = [r for r in http_server.requests if r.path == "/comments"][:2]
    assert "if-none-match" not in {name.lower() for name in second.headers}
    assert Source.objects.get(pk=feed.pk).cursor["etag"] == ""
    assert first.method == second.method == "GET"
