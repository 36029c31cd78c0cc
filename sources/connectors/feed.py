"""RSS, Atom and RDF feeds: blogs, news sites, forum and alert feeds."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import charset_normalizer
import feedparser
import httpx

from .base import (
    Connector,
    ConnectorError,
    MentionItem,
    Page,
    clean_text,
    jsonable,
    keyword_matcher,
    parse_datetime,
)

# Enough to cover any feed's window; older ids fall off the end.
SEEN_LIMIT = 1000
# Entries dated this long before the newest one seen are old news, even if
# their id is new (a feed that changed its id scheme would re-post them all).
BACKDATE_ALLOWANCE = timedelta(days=7)
MAX_REDIRECTS = 5


class FeedConnector(Connector):
    """Fetches a feed with a conditional GET and yields its new entries.

    Ill-formed feeds (feedparser's "bozo") still give their entries; the
    problem is reported once in parse_failures.
    """

    kind = "feed"

    def fetch(self) -> Iterator[Page]:
        headers = {"Accept": "application/rss+xml, application/atom+xml, */*;q=0.5"}
        if self.cursor.get("etag"):
            headers["If-None-Match"] = self.cursor["etag"]
        if self.cursor.get("last_modified"):
            headers["If-Modified-Since"] = self.cursor["last_modified"]
        response = self._get_on_own_host(headers)
        if response.status_code == 304:
            yield Page(items=[], cursor=dict(self.cursor), not_modified=True)
            return
        if response.status_code != 200:
            raise ConnectorError(f"feed: the server answered {response.status_code}")
        content_type = response.headers.get("content-type", "")
        parsed = feedparser.parse(
            response.content, response_headers={"content-type": content_type}
        )
        failures: list[str] = []
        if parsed.get("bozo"):
            problem = parsed.get("bozo_exception")
            failures.append(
                f"feed: ill-formed ({type(problem).__name__}: {problem}), "
                "entries parsed leniently"[:300]
            )
            if isinstance(problem, feedparser.CharacterEncodingOverride):
                parsed = _reparse_with_sniffed_encoding(response.content, parsed)
        if not parsed.entries and not parsed.get("version") and not parsed.feed:
            raise ConnectorError("feed: the answer is not a feed")

        seen = list(self.cursor.get("seen") or [])
        seen_set = set(seen)
        latest = parse_datetime(self.cursor.get("latest"))
        matches = keyword_matcher(self.keywords)
        items: list[MentionItem] = []
        for entry in parsed.entries:
            try:
                item = self._item(entry, str(response.url))
            except (KeyError, TypeError, ValueError) as error:
                failures.append(f"feed: entry skipped: {error}"[:300])
                continue
            if item.external_id in seen_set:
                continue
            seen.append(item.external_id)
            seen_set.add(item.external_id)
            at = item.published_at
            if latest and at and at < latest - BACKDATE_ALLOWANCE:
                continue
            if not matches(item.text):
                continue
            items.append(item)
        newest = max(
            [i.published_at for i in items if i.published_at]
            + ([latest] if latest else []),
            default=None,
        )
        cursor: dict[str, Any] = {
            "etag": response.headers.get("etag", ""),
            "last_modified": response.headers.get("last-modified", ""),
            "seen": seen[-SEEN_LIMIT:],
            "latest": newest.isoformat() if newest else None,
        }
        items.sort(key=lambda i: i.published_at or datetime.max.replace(tzinfo=UTC))
        yield Page(items=items, cursor=cursor, parse_failures=failures)

    def _get_on_own_host(self, headers: dict[str, str]) -> httpx.Response:
        """GET the feed, following redirects only on the configured host.

        A feed's server is a third party: its redirect must not make us fetch
        from another host (an internal address, a metadata service).
        """
        url = httpx.URL(self.base_url)
        for _hop in range(MAX_REDIRECTS + 1):
            response = self.send("GET", str(url), headers=headers)
            location = response.headers.get("location")
            if not (response.is_redirect and location):
                return response
            target = response.url.join(location)
            if target.scheme not in ("http", "https") or target.host != url.host:
                raise ConnectorError(
                    "feed: refused to follow a redirect to another host "
                    f"({target.host or target.scheme}); set the source's URL to "
                    "the new address if it moved"
                )
            url = target
        raise ConnectorError(f"feed: more than {MAX_REDIRECTS} redirects")

    def _item(self, entry: Any, base_url: str) -> MentionItem:
        title = clean_text(entry.get("title"))
        body = ""
        if entry.get("content"):
            body = entry["content"][0].get("value", "")
        body = clean_text(body or entry.get("summary") or entry.get("description"))
        text = "\n\n".join(part for part in (title, body) if part)
        # Links may be relative to the feed's own address.
        link = urljoin(base_url, entry.get("link") or "")
        external_id = entry.get("id") or entry.get("link") or ""
        if not external_id:
            if not text:
                raise ValueError("no id, link or text")
            external_id = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
        author = entry.get("author_detail") or {}
        published = _entry_time(entry, "published")
        updated = _entry_time(entry, "updated")
        return MentionItem(
            external_id=str(external_id)[:500],
            text=text,
            url=link if link.startswith(("http://", "https://")) else "",
            author_handle=clean_text(entry.get("author") or "")[:200],
            author_name=clean_text(author.get("name") or "")[:200],
            published_at=published or updated,
            edited_at=updated
            if published and updated and updated > published
            else None,
            language=str(entry.get("language") or "")[:20],
            raw=jsonable(dict(entry)),
        )


def _entry_time(entry: Any, name: str) -> datetime | None:
    parsed = entry.get(f"{name}_parsed")
    if parsed:
        try:
            return datetime(*parsed[:6], tzinfo=UTC)
        except (TypeError, ValueError):
            pass
    return parse_datetime(entry.get(name))


def _reparse_with_sniffed_encoding(content: bytes, parsed: Any) -> Any:
    """Undeclared legacy encodings (KOI8-R, windows-1251) come out as mojibake
    when feedparser falls back to windows-1252: sniff and parse again."""
    best = charset_normalizer.from_bytes(content).best()
    if best is None or best.encoding == parsed.get("encoding"):
        return parsed
    again = feedparser.parse(
        content,
        response_headers={"content-type": f"application/xml; charset={best.encoding}"},
    )
    return again if again.entries or not parsed.entries else parsed
