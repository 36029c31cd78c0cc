import pytest

from sources.connectors import ConnectorError
from sources.connectors.feed import FeedConnector
from tests.conftest import shared_data
from tests.httpserver import Answer
from tests.sources.conftest import recording


def serve(http_server, name, body, content_type="application/xml", **headers):
    http_server.add(
        f"/{name}", Answer(200, body, {"Content-Type": content_type, **headers})
    )


def fetch_one(connect, http_server, name, **kwargs):
    connector = connect(FeedConnector, url=f"{http_server.url}/{name}", **kwargs)
    pages = list(connector.fetch())
    assert len(pages) == 1
    return pages[0]


def test_it_reads_a_google_alerts_feed_as_plain_text(http_server, connect):
    serve(http_server, "alerts", recording("feeds/google_alerts_atom.xml").read_bytes())

    page = fetch_one(connect, http_server, "alerts")

    assert len(page.items) == 20
    assert page.parse_failures == []
    assert all("<b>" not in item.text for item in page.items)
    assert all(item.published_at.tzinfo is not None for item in page.items)
    assert all(item.url.startswith("https://www.google.com/url") for item in page.items)
    assert page.cursor["seen"] == sorted(
        page.cursor["seen"], key=page.cursor["seen"].index
    )
    assert len(page.cursor["seen"]) == 20


def test_it_keeps_only_entries_that_mention_a_keyword(http_server, connect):
    serve(http_server, "news", recording("crafted/feed_keywords.xml").read_bytes())

    page = fetch_one(connect, http_server, "news", keywords=["mybank"])

    assert [item.external_id for item in page.items] == ["news-3", "news-1"]
    assert page.items[1].url == "https://news.example/1"
    first = page.items[1]
    assert first.text.startswith("Storing bij MyBänk & betalen 💳")
    assert "script" not in first.text and "alert" not in first.text
    assert set(page.cursor["seen"]) == {"news-1", "news-2", "news-3"}


def test_it_does_not_yield_entries_it_has_seen(http_server, connect):
    serve(http_server, "news", recording("crafted/feed_keywords.xml").read_bytes())
    cursor = {"seen": ["news-1"], "latest": "2024-09-02T07:30:00+00:00"}

    page = fetch_one(connect, http_server, "news", cursor=cursor)

    # news-2 is new; news-3 is months older than the newest seen: old news.
    assert [item.external_id for item in page.items] == ["news-2"]
    assert page.cursor["latest"] == "2024-09-02T07:30:00+00:00"


def test_it_asks_conditionally_and_reports_not_modified(http_server, connect):
    http_server.add("/news", Answer(304, b"", {"ETag": '"v1"'}))
    cursor = {"etag": '"v1"', "last_modified": "Mon, 02 Sep 2024 08:00:00 GMT"}

    page = fetch_one(connect, http_server, "news", cursor=cursor)

    assert page.not_modified is True
    assert page.items == []
    assert page.cursor == cursor
    sent = http_server.requests[0].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "Mon, 02 Sep 2024 08:00:00 GMT"


def test_it_keeps_the_validators_for_the_next_poll(http_server, connect):
    serve(
        http_server,
        "news",
        recording("crafted/feed_keywords.xml").read_bytes(),
        ETag='"abc"',
        **{"Last-Modified": "Mon, 02 Sep 2024 08:00:00 GMT"},
    )

    page = fetch_one(connect, http_server, "news")

    assert page.cursor["etag"] == '"abc"'
    assert page.cursor["last_modified"] == "Mon, 02 Sep 2024 08:00:00 GMT"


@pytest.mark.parametrize(
    ("name", "content_type", "entries", "bozo"),
    [
        ("InvalidDateFormat.xml", "application/xml", 2, True),
        ("rss_item_link_corrupted_ampersands.xml", "application/xml", 1, True),
        ("youtube_atom.xml", "application/atom+xml", 15, True),
        ("euc-kr-item.xml", "application/xml", 1, False),
        # Channel-level problems only: no entries, but no crash either.
        ("hellip.xml", "application/xml", 0, True),
        ("http_high_bit_date.xml", "text/xml", 0, True),
    ],
)
def test_it_keeps_the_entries_of_ill_formed_feeds(
    http_server, connect, name, content_type, entries, bozo
):
    serve(http_server, name, recording(f"feeds/{name}").read_bytes(), content_type)

    page = fetch_one(connect, http_server, name)

    assert len(page.items) == entries
    assert len(page.parse_failures) == (1 if bozo else 0)
    assert all(item.external_id for item in page.items)


def test_it_reports_the_problem_of_an_ill_formed_feed_once(http_server, connect):
    serve(http_server, "broken", recording("crafted/feed_illformed.xml").read_bytes())

    page = fetch_one(connect, http_server, "broken")

    assert [item.external_id for item in page.items][:1] == ["broken-1"]
    assert page.items[0].text.startswith("MyBank outage \u2026 again")
    assert len(page.parse_failures) == 1
    assert "ill-formed" in page.parse_failures[0]


def test_it_decodes_russian_koi8r_without_a_declaration(http_server, connect):
    pytest.importorskip("charset_normalizer")
    serve(http_server, "koi8r", recording("feeds/koi8r.xml").read_bytes())

    page = fetch_one(connect, http_server, "koi8r")

    assert page.items[0].text.startswith("Как пережить новогоднюю ночь")
    assert len(page.parse_failures) == 1


def test_it_resolves_relative_links_against_the_feed_url(http_server, connect):
    serve(
        http_server,
        "relative",
        recording("feeds/http_relative_xml_base.xml").read_bytes(),
    )

    page = fetch_one(connect, http_server, "relative")

    assert len(page.items) == 1
    assert "href" not in page.items[0].text


def test_it_reads_rdf_and_discourse_rss(http_server, connect):
    serve(http_server, "rdf", recording("feeds/rss1.0withModules.xml").read_bytes())
    serve(http_server, "posts.rss", recording("discourse/posts.rss").read_bytes())

    rdf = fetch_one(connect, http_server, "rdf")
    discourse = fetch_one(connect, http_server, "posts.rss")

    assert rdf.items and rdf.parse_failures == []
    assert len(discourse.items) == 50
    assert all("-post-" in item.external_id for item in discourse.items)
    assert discourse.items[0].published_at <= discourse.items[-1].published_at


def test_it_rejects_an_answer_that_is_no_feed(http_server, connect):
    serve(
        http_server, "html", b"\x00\x01 not xml at all \xff", "application/octet-stream"
    )

    with pytest.raises(ConnectorError):
        fetch_one(connect, http_server, "html")


def test_it_reads_the_shared_huffpost_feed(http_server, connect):
    path = shared_data("feeds/HuffPostCanada.xml")
    serve(http_server, "huff", path.read_bytes())

    page = fetch_one(connect, http_server, "huff")

    assert len(page.items) == 2
    assert all(item.text == item.text.strip() for item in page.items)


def test_it_follows_a_redirect_on_the_same_host(http_server, connect):
    http_server.add("/old", Answer(301, headers={"Location": "/new"}))
    serve(http_server, "new", recording("crafted/feed_keywords.xml").read_bytes())

    page = fetch_one(connect, http_server, "old")

    assert page.items
    assert [request.path for request in http_server.requests] == ["/old", "/new"]


def test_it_refuses_a_redirect_to_another_host(http_server, connect):
    # The feed's server is a third party: it must not send us to another
    # host (here "localhost", which is not the configured 127.0.0.1).
    port = http_server.url.rsplit(":", 1)[1]
    http_server.add(
        "/moved", Answer(302, headers={"Location": f"http://localhost:{port}/inner"})
    )
    serve(http_server, "inner", recording("crafted/feed_keywords.xml").read_bytes())
    connector = connect(FeedConnector, url=f"{http_server.url}/moved")

    with pytest.raises(ConnectorError, match="another host"):
        list(connector.fetch())
    assert [request.path for request in http_server.requests] == ["/moved"]


def keyword_feed(description_2: str) -> bytes:
    body = recording("crafted/feed_keywords.xml").read_text()
    return body.replace("Nothing about banks; shopping only.", description_2).encode()


def test_it_offers_an_entry_again_only_when_its_content_changed(http_server, connect):
    serve(http_server, "news", recording("crafted/feed_keywords.xml").read_bytes())
    first = fetch_one(connect, http_server, "news")
    http_server.add(
        "/news", Answer(200, keyword_feed("Edited: now about shopping and banks."))
    )

    second = fetch_one(connect, http_server, "news", cursor=first.cursor)

    assert [item.external_id for item in second.items] == ["news-2"]
    assert "Edited" in second.items[0].text
    third = fetch_one(connect, http_server, "news", cursor=second.cursor)
    assert third.items == []


def test_an_entry_skipped_for_its_words_is_offered_once_edited_to_mention_us(
    http_server, connect
):
    serve(http_server, "news", recording("crafted/feed_keywords.xml").read_bytes())
    first = fetch_one(connect, http_server, "news", keywords=["mybank"])
    http_server.add("/news", Answer(200, keyword_feed("Update: MyBank reageert.")))

    second = fetch_one(
        connect, http_server, "news", keywords=["mybank"], cursor=first.cursor
    )

    assert [item.external_id for item in first.items] == ["news-3", "news-1"]
    assert [item.external_id for item in second.items] == ["news-2"]


def test_a_cursor_of_the_old_form_offers_nothing_twice(http_server, connect):
    serve(http_server, "news", recording("crafted/feed_keywords.xml").read_bytes())
    cursor = {"seen": ["news-1", "news-2", "news-3"], "latest": None}

    page = fetch_one(connect, http_server, "news", cursor=cursor)

    assert page.items == []
    assert set(page.cursor["versions"]) == {"news-1", "news-2", "news-3"}


def test_an_id_longer_than_200_characters_becomes_a_stable_short_one(
    http_server, connect
):
    long_id = "urn:forum:" + "x" * 300
    body = (
        recording("crafted/feed_keywords.xml")
        .read_text()
        .replace("<guid>news-1</guid>", f"<guid>{long_id}</guid>")
        .encode()
    )
    serve(http_server, "news", body)

    first = fetch_one(connect, http_server, "news")
    again = fetch_one(connect, http_server, "news")

    hashed = [i.external_id for i in first.items if i.external_id.startswith("id-")]
    assert len(hashed) == 1 and len(hashed[0]) <= 200
    assert hashed == [i.external_id for i in again.items if i.external_id in hashed]
    assert hashed[0] in first.cursor["seen"]


def test_a_body_naming_a_local_file_is_not_read_from_our_disk(
    http_server, connect, tmp_path
):
    # Given bytes, feedparser first tries them as a path to open.
    secret = tmp_path / "secret.xml"
    secret.write_text(
        "<rss><channel><item><guid>s</guid><title>Mybank secret</title>"
        "</item></channel></rss>"
    )
    serve(http_server, "news", str(secret).encode(), content_type="text/plain")
    connector = connect(FeedConnector, url=f"{http_server.url}/news", query="")
    try:
        items = [item for page in connector.fetch() for item in page.items]
    except ConnectorError:
        items = []
    assert [item.text for item in items if "secret" in item.text] == []


def test_a_broken_compressed_body_is_a_connector_error(http_server, connect):
    http_server.add(
        "/news",
        Answer(
            200,
            b"not gzip at all",
            {"Content-Type": "application/xml"},
            content_encoding="gzip",
        ),
    )
    connector = connect(FeedConnector, url=f"{http_server.url}/news")
    with pytest.raises(ConnectorError, match="compressed body is broken"):
        list(connector.fetch())
