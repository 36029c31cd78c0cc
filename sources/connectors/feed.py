"""RSS, Atom and RDF feeds: blogs, news sites, forum and alert feeds."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Collection, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urljoin

import charset_normalizer
import feedparser

from .base import (
    MAX_EXTERNAL_ID,
    Connector,
    ConnectorError,
    MentionItem,
    Page,
    clean_text,
    jsonable,
    keyword_matcher,
    parse_datetime,
)

# Enough to cover any feed's window; older ids fall off the end. With ids of at
# most MAX_EXTERNAL_ID characters and 16-character versions, the cursor stays
# under about 250 kB whatever a feed sends.
SEEN_LIMIT = 1000
FINGERPRINT_LENGTH = 16
# Entries dated this long before the newest one seen are old news, even if
# their id is new (a feed that changed its id scheme would re-post them all).
BACKDATE_ALLOWANCE = timedelta(days=7)


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
        # A feed's server is a third party: its redirects stay on its origin.
        response = self.send(
            "GET", self.base_url, headers=headers, follow_redirects=True
        )
        if response.status_code == 304:
            yield Page(items=[], cursor=dict(self.cursor), not_modified=True)
            return
        if response.status_code != 200:
            raise ConnectorError(f"feed: the server answered {response.status_code}")
        content_type = response.headers.get("content-type", "")
        # A file-like object: given bytes, feedparser first tries them as a path to
        # open, so a body of "/etc/…" or "/dev/zero" would be read from our disk.
        parsed = feedparser.parse(
            io.BytesIO(response.content),
            response_headers={"content-type": content_type},
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

        # The cursor remembers every id it has decided on ("seen", oldest first)
        # and, per id, a fingerprint of the content it saw ("versions"): an entry
        # edited in place (same guid, new text, often no new date) is offered
        # again. A version starts with "-" when the entry was left out (old news,
        # no keyword): an edit may still make it worth keeping.
        previous = _versions(self.cursor)
        versions = dict(previous)
        latest = parse_datetime(self.cursor.get("latest"))
        matches = keyword_matcher(self.keywords)
        items: list[MentionItem] = []
        for entry in parsed.entries:
            try:
                item = self._item(entry, str(response.url))
            except (KeyError, TypeError, ValueError) as error:
                failures.append(f"feed: entry skipped: {error}"[:300])
                continue
            fingerprint = _fingerprint(item)
            known = versions.pop(item.external_id, None)
            # Popped and put back: what the feed still carries stays in the cursor.
            if known == fingerprint or known == f"-{fingerprint}":
                versions[item.external_id] = known
                continue
            if known and not known.startswith("-"):
                # An edit of a kept entry reaches its mention whatever it now says.
                versions[item.external_id] = fingerprint
                items.append(item)
                continue
            at = item.published_at
            wanted = not (latest and at and at < latest - BACKDATE_ALLOWANCE) and (
                matches(item.text)
            )
            if known == "" and wanted:
                # A cursor of the old form knew the id but not what it said:
                # assume it was stored as it is now rather than offer it twice.
                versions[item.external_id] = fingerprint
                continue
            versions[item.external_id] = fingerprint if wanted else f"-{fingerprint}"
            if wanted:
                items.append(item)
        newest = max(
            [i.published_at for i in items if i.published_at]
            + ([latest] if latest else []),
            default=None,
        )
        kept = list(versions)[-SEEN_LIMIT:]
        cursor: dict[str, Any] = {
            "etag": response.headers.get("etag", ""),
            "last_modified": response.headers.get("last-modified", ""),
            "seen": kept,
            "versions": {external_id: versions[external_id] for external_id in kept},
            "latest": newest.isoformat() if newest else None,
        }
        items.sort(key=lambda i: i.published_at or datetime.max.replace(tzinfo=UTC))
        yield Page(items=items, cursor=cursor, parse_failures=failures)

    def cursor_after_store(self, page: Page, refused: Collection[str]) -> dict:
        """The page's cursor without what the store refused: an entry is marked
        seen (or its edit taken) only once it is stored, so the next poll offers
        it again."""
        if not refused:
            return page.cursor
        previous = _versions(self.cursor)
        versions = dict(page.cursor.get("versions") or {})
        for external_id in refused:
            if external_id in previous:
                versions[external_id] = previous[external_id]
            else:
                versions.pop(external_id, None)
        seen = [i for i in page.cursor.get("seen") or [] if i in versions]
        # No validators either: with this page's ETag the server would answer 304
        # and the refused entry would wait for the next change of the feed.
        return {
            **page.cursor,
            "etag": "",
            "last_modified": "",
            "seen": seen,
            "versions": versions,
        }

    def _item(self, entry: Any, base_url: str) -> MentionItem:
        title = clean_text(entry.get("title"))
        body = ""
        if entry.get("content"):
            body = entry["content"][0].get("value", "")
        body = clean_text(body or entry.get("summary") or entry.get("description"))
        text = "\n\n".join(part for part in (title, body) if part)
        # Links may be relative to the feed's own address.
        link = urljoin(base_url, entry.get("link") or "")
        # Stripped as the store strips it, so the cursor names what is stored.
        external_id = (
            str(entry.get("id") or "").strip() or str(entry.get("link") or "").strip()
        )
        if not external_id:
            if not text:
                raise ValueError("no id, link or text")
            external_id = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
        elif len(external_id) > MAX_EXTERNAL_ID:
            # Forum and tracking links run to hundreds of characters. A digest of
            # the whole id is stable and short, so it is stored once and stays
            # unique per source; the original is kept in raw ("id" or "link").
            digest = hashlib.sha256(external_id.encode("utf-8", "replace"))
            external_id = "id-sha256:" + digest.hexdigest()
        author = entry.get("author_detail") or {}
        published = _entry_time(entry, "published")
        updated = _entry_time(entry, "updated")
        return MentionItem(
            external_id=external_id,
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


def _versions(cursor: dict) -> dict[str, str]:
    """The ids a cursor has seen, oldest first, each with its version.

    A cursor of the old form kept ids only: their version is "" (unknown).
    The cursor is only ours to read after a round trip through the database,
    so anything else in it is ignored.
    """
    seen = cursor.get("seen")
    stored = cursor.get("versions")
    stored = stored if isinstance(stored, dict) else {}
    versions: dict[str, str] = {}
    for external_id in seen if isinstance(seen, list) else []:
        if isinstance(external_id, str):
            version = stored.get(external_id)
            versions[external_id] = version if isinstance(version, str) else ""
    return versions


def _fingerprint(item: MentionItem) -> str:
    """A short digest of what is stored of an entry: a change is an edit."""
    digest = hashlib.sha256(item.text.encode("utf-8", "replace")).hexdigest()
    return digest[:FINGERPRINT_LENGTH]


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
        io.BytesIO(content),
        response_headers={"content-type": f"application/xml; charset={best.encoding}"},
    )
    return again if again.entries or not parsed.entries else parsed
