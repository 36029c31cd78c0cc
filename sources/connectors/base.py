"""The connector interface: items, pages, errors and the base class.

A connector fetches what a source published since its cursor and turns it into
plain MentionItem records. It never touches the database: the storing service
saves each Page's items and then the Page's cursor, in that order, so a crash
between pages resumes from the last stored page.
"""

from __future__ import annotations

import html
import json
import re
import time
import unicodedata
from collections.abc import (
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import nh3

from webcare import outbound

from .http import ConnectorError, RetryPolicy, TransientError, send

__all__ = [
    "MAX_EXTERNAL_ID",
    "Connector",
    "ConnectorError",
    "MentionItem",
    "NewestFirstConnector",
    "Page",
    "TransientError",
    "clean_text",
    "keyword_matcher",
    "parse_datetime",
    "url_origin",
]

# The longest external id the store takes (Mention.external_id): a connector
# whose platform has longer ids shortens them itself, stably.
MAX_EXTERNAL_ID = 200

# Settings in a kind's credentials dict that are not secret: never redacted,
# never withheld.
NOT_SECRET = frozenset({"base_url"})


@dataclass(frozen=True)
class MentionItem:
    external_id: str
    text: str
    url: str = ""
    author_id: str = ""
    author_handle: str = ""
    author_name: str = ""
    author_followers: int | None = None
    published_at: datetime | None = None
    edited_at: datetime | None = None
    deleted: bool = False
    language: str = ""
    in_reply_to: str = ""
    conversation_key: str = ""
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    raw: dict = field(default_factory=dict)


@dataclass
class Page:
    items: list[MentionItem]
    cursor: dict
    parse_failures: list[str] = field(default_factory=list)
    not_modified: bool = False


# Block-level endings become line breaks before tags are stripped, so that
# "<p>a</p><p>b</p>" reads "a\n\nb" and not "ab".
_BLOCK_END = re.compile(
    r"<br\s*/?>|</(?:p|div|li|blockquote|h[1-6]|tr|pre|aside)\s*>", re.IGNORECASE
)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def clean_text(value: str | None) -> str:
    """Plain text from untrusted HTML: tags stripped by nh3, entities decoded.

    The result is text, not markup: whoever shows it must escape it again.
    """
    if not value:
        return ""
    with_breaks = _BLOCK_END.sub(
        lambda m: m.group(0) + ("\n" if m.group(0)[:3].lower() == "<br" else "\n\n"),
        value,
    )
    stripped = nh3.clean(with_breaks, tags=set(), attributes={})
    text = html.unescape(stripped)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()


def parse_datetime(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO 8601 (Z, +0000, +00:00) or epoch seconds."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(float(value), tz=UTC)
        parsed = datetime.fromisoformat(str(value).strip())
    except (ValueError, OverflowError, OSError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def keyword_matcher(keywords: Iterable[str]) -> Callable[[str], bool]:
    """A predicate: does a text mention one of the keywords as a whole word?

    Accent- and case-insensitive. Whole words, because a bank called "ING"
    must not match every "shopping". No keywords means everything matches.
    """
    folded = [_fold(k).strip() for k in keywords if k and k.strip()]
    if not folded:
        return lambda text: True
    pattern = re.compile(
        "|".join(rf"(?<!\w){re.escape(k)}(?!\w)" for k in folded), re.UNICODE
    )
    return lambda text: bool(pattern.search(_fold(text or "")))


def jsonable(value: Any) -> Any:
    """A JSON-serialisable copy (feedparser gives struct_time and bytes)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if isinstance(value, time.struct_time):
            return datetime(*value[:6], tzinfo=UTC).isoformat()
        return [jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def url_origin(url: str) -> str | None:
    """scheme://host:port of an http(s) URL, port made explicit; else None.

    Parsed by httpx, the client that sends the request, so that a trick such
    as "https://api.twitter.com@evil.example/" names the host it really goes to.
    """
    try:
        parsed = httpx.URL((url or "").strip())
    except (httpx.InvalidURL, TypeError, ValueError):
        return None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return None
    host = f"[{parsed.host}]" if ":" in parsed.host else parsed.host
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return f"{parsed.scheme}://{host}:{port}"


def as_int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


class Connector:
    """Fetches new items of one source since its cursor.

    Subclasses set `kind` and `default_base_url` and implement `fetch()`.
    Credentials come in as a dict and never appear in messages: every
    ConnectorError raised through `get_json` has them redacted. Which
    credentials may go with a source's URL is decided by `credentials_for()`.
    """

    kind: str = ""
    default_base_url: str = ""

    def __init__(
        self,
        *,
        query: str,
        url: str,
        cursor: dict,
        credentials: dict,
        client: httpx.Client,
        keywords: Sequence[str] = (),
        max_pages: int = 10,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.query = (query or "").strip()
        self.url = (url or "").strip()
        self.cursor = dict(cursor or {})
        self.credentials = dict(credentials or {})
        self.client = client
        self.keywords = tuple(keywords)
        self.max_pages = max(1, int(max_pages))
        self.retry = retry or RetryPolicy()
        self.base_url = (
            self.url or self.credentials.get("base_url") or self.default_base_url
        ).rstrip("/")
        if not self.base_url:
            raise ConnectorError(f"{self.kind} source has no URL configured")

    @classmethod
    def credentials_for(
        cls, *, url: str, credentials: Mapping[str, Any]
    ) -> tuple[dict, str]:
        """The credentials that may go to the API a source's URL names, and a
        note saying why any were withheld ("" when none were).

        A kind's credentials belong to one API origin (scheme, host and port):
        their own "base_url" if configured, else `default_base_url`. Source.url
        is edited by staff and API clients, so it must never carry the
        environment's token to a host of their choosing.

        A platform with one API (X, YouTube, Facebook, Reddit) has a default
        base URL: another host is refused with ConnectorError, because calls
        without credentials would only fail there and a refusal shows the
        misconfiguration at once. Kinds without one (feeds, Mastodon,
        Discourse) read whichever instance the source names; their optional
        credentials belong to one configured instance, so another instance is
        read without them (public timelines and forums need none).
        """
        configured = str(credentials.get("base_url") or "").strip()
        allowed = url_origin(configured or cls.default_base_url)
        if configured and allowed is None:
            raise ConnectorError(
                f"{cls.kind}: the configured API base URL is not an http(s) URL"
            )
        target = (url or "").strip() or configured or cls.default_base_url
        origin = url_origin(target)
        if not target or (allowed is not None and origin == allowed):
            # Without any URL the connector itself refuses to start.
            return dict(credentials), ""
        refusal = (
            f"{origin or 'the source URL'} is not the configured API host for "
            f"{cls.kind}; credentials are only sent to "
            f"{allowed or 'the host of a configured base_url'}"
        )
        if cls.default_base_url:
            raise ConnectorError(refusal)
        kept = {k: v for k, v in credentials.items() if k in NOT_SECRET}
        withheld = any(v for k, v in credentials.items() if k not in NOT_SECRET)
        return kept, (f"polled without credentials: {refusal}" if withheld else "")

    def fetch(self) -> Iterator[Page]:
        raise NotImplementedError

    def cursor_after_store(self, page: Page, refused: Collection[str]) -> dict:
        """The cursor to save once a page is stored, given the external ids of
        its items that the store refused. The page's own cursor by default;
        a connector whose cursor lists ids it has seen takes those out."""
        return page.cursor

    # -- helpers for subclasses -------------------------------------------

    def secrets(self) -> list[str]:
        return [
            str(value)
            for key, value in self.credentials.items()
            if key not in NOT_SECRET and value and len(str(value)) >= 4
        ]

    def redact(self, text: str) -> str:
        for secret in self.secrets():
            text = text.replace(secret, "[redacted]")
        return text

    def auth_headers(self) -> dict[str, str]:
        return {}

    def error_detail(self, body: Any) -> str:
        """The API's own error message, if the body has one (subclasses refine)."""
        if isinstance(body, dict):
            error = body.get("error")
            if isinstance(error, dict):
                return str(error.get("message") or error.get("type") or "")
            if isinstance(error, str):
                return error
            for key in ("detail", "message", "title"):
                if isinstance(body.get(key), str):
                    return body[key]
        return ""

    def is_transient(self, status: int, body: Any) -> bool:
        """Is this 4xx answer worth retrying later (a quota in disguise)?"""
        return False

    def send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, Any] | None = None,
        auth: Any = None,
        follow_redirects: bool = False,
    ) -> httpx.Response:
        all_headers = {**self.auth_headers(), **(headers or {})}
        try:
            response = send(
                self.client,
                method,
                url,
                params=params,
                headers=all_headers,
                data=data,
                auth=auth,
                follow_redirects=follow_redirects,
                policy=self.retry,
                label=self.kind,
            )
        except ConnectorError as error:
            error.args = (self.redact(str(error)),)
            raise
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = None
            detail = self.error_detail(body)
            message = f"{self.kind}: the API answered {response.status_code}"
            if detail:
                # A third party's text: short, one line, no control characters.
                message += f": {outbound.excerpt(detail)}"
            if self.is_transient(response.status_code, body):
                raise TransientError(self.redact(message), status=response.status_code)
            raise ConnectorError(self.redact(message), status=response.status_code)
        return response

    def get_json(self, url: str, **kwargs: Any) -> Any:
        response = self.send("GET", url, **kwargs)
        try:
            return json.loads(response.content)
        except ValueError:
            # A proxy's HTML page or a cut-off body: worth another try later.
            raise TransientError(
                f"{self.kind}: the API answered {response.status_code} "
                "with a body that is not valid JSON"
            ) from None


class NewestFirstConnector(Connector):
    """For APIs that list newest first and have no "since" parameter.

    A run pages back until it reaches the high-water mark saved by the last
    run (the newest published_at and the ids published at that instant).
    Intermediate pages keep the OLD mark plus the token of the next page: if
    the run dies after storing page 2, the next run resumes at page 3 and
    still stops at the old mark, so nothing between the two is lost. Only
    the last page carries the new mark (the newest item of the whole run).
    """

    def list_page(self, token: str | None) -> tuple[list[dict], str | None]:
        raise NotImplementedError

    def parse_raw(self, raw: dict, failures: list[str]) -> list[MentionItem]:
        """The items in one listed object; report unusable parts in failures."""
        raise NotImplementedError

    def raw_time(self, raw: dict) -> datetime | None:
        raise NotImplementedError

    def describe_raw(self, raw: Any) -> str:
        if isinstance(raw, dict):
            return str(raw.get("id") or raw.get("name") or "without id")
        return "that is not an object"

    def fetch(self) -> Iterator[Page]:
        mark = parse_datetime(self.cursor.get("newest_at"))
        mark_ids = set(self.cursor.get("newest_ids") or [])
        token = self.cursor.get("resume_token")
        if token:
            pending = parse_datetime(self.cursor.get("pending_at"))
            pending_ids = set(self.cursor.get("pending_ids") or [])
        else:
            pending, pending_ids = mark, set(mark_ids)
        seen: set[str] = set()
        for page_number in range(self.max_pages):
            try:
                raws, next_token = self.list_page(token)
            except ConnectorError as error:
                # A saved resume token may have expired: start over from the
                # mark (storing is idempotent, repeats are harmless).
                if not (token and page_number == 0 and error.status == 400):
                    raise
                token, pending, pending_ids = None, mark, set(mark_ids)
                raws, next_token = self.list_page(None)
            items: list[MentionItem] = []
            failures: list[str] = []
            reached_mark = False
            for raw in raws:
                when = self.raw_time(raw) if isinstance(raw, dict) else None
                if mark is not None and when is not None and when <= mark:
                    reached_mark = True
                try:
                    parsed = self.parse_raw(raw, failures)
                except (KeyError, TypeError, ValueError, AttributeError) as error:
                    failures.append(
                        f"{self.kind}: item {self.describe_raw(raw)} skipped: "
                        f"{type(error).__name__} {error}"[:300]
                    )
                    continue
                for item in parsed:
                    if item.external_id in seen:
                        continue
                    seen.add(item.external_id)
                    at = item.published_at
                    if (
                        mark is not None
                        and at is not None
                        and (at < mark or (at == mark and item.external_id in mark_ids))
                    ):
                        continue
                    items.append(item)
                    if at is not None and (pending is None or at > pending):
                        pending, pending_ids = at, {item.external_id}
                    elif at is not None and at == pending:
                        pending_ids.add(item.external_id)
            items.sort(key=_time_key)
            done = reached_mark or not next_token
            out_of_pages = page_number == self.max_pages - 1
            # Out of pages on a later run: save where to go on next time. On a
            # first run (no mark yet) do not walk the whole history instead.
            if done or (out_of_pages and mark is None):
                cursor = _mark_cursor(pending, pending_ids)
            else:
                cursor = {
                    "newest_at": mark.isoformat() if mark else None,
                    "newest_ids": sorted(mark_ids),
                    "resume_token": next_token,
                    "pending_at": pending.isoformat() if pending else None,
                    "pending_ids": sorted(pending_ids),
                }
            yield Page(items=items, cursor=cursor, parse_failures=failures)
            if done or out_of_pages:
                return
            token = next_token


def _mark_cursor(newest: datetime | None, ids: set[str]) -> dict[str, Any]:
    if newest is None:
        return {}
    return {"newest_at": newest.isoformat(), "newest_ids": sorted(ids)}


def _time_key(item: MentionItem) -> tuple[float, str]:
    at = item.published_at
    return (at.timestamp() if at else float("inf"), item.external_id)
