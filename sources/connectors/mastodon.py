"""Mastodon: a hashtag timeline, a search, or the account's mentions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .base import (
    Connector,
    ConnectorError,
    MentionItem,
    Page,
    TransientError,
    as_int,
    clean_text,
    parse_datetime,
)

_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?([a-z]+)"?')
PAGE_SIZE = 40


class MastodonConnector(Connector):
    """Pages forward in time with min_id, oldest page first.

    query "#tag" reads /api/v1/timelines/tag/<tag>; "@mentions" reads the
    account's mention notifications (needs access_token); anything else is a
    status search with /api/v2/search. `url` is the instance, e.g.
    https://mastodon.social. Ids are snowflakes: numeric order is time order.
    """

    kind = "mastodon"

    def auth_headers(self) -> dict[str, str]:
        token = self.credentials.get("access_token")
        return {"Authorization": f"Bearer {token}"} if token else {}

    def fetch(self) -> Iterator[Page]:
        if not self.query:
            raise ConnectorError("mastodon: the source has no tag or search query")
        min_id = self.cursor.get("min_id")
        for page_number in range(self.max_pages):
            path, params = self._request()
            if min_id:
                params["min_id"] = min_id
            response = self.send("GET", f"{self.base_url}{path}", params=params)
            body = _json(response)
            entries = body.get("statuses", []) if isinstance(body, dict) else body
            if not isinstance(entries, list):
                raise ConnectorError("mastodon: the answer is not a list of statuses")
            items, failures, newest = self._parse(entries)
            # The "prev" link names the newest id of this page: the next page
            # of newer entries starts after it.
            link_min = _link_min_id(response.headers.get("link", ""))
            next_min = _max_id(min_id, newest, link_min)
            yield Page(
                items=items,
                cursor={"min_id": next_min} if next_min else dict(self.cursor),
                parse_failures=failures,
            )
            if not entries or next_min == min_id or page_number == self.max_pages - 1:
                return
            min_id = next_min

    def _request(self) -> tuple[str, dict[str, Any]]:
        if self.query.startswith("#"):
            tag = self.query[1:].strip()
            if not re.fullmatch(r"\w+", tag):
                raise ConnectorError(
                    "mastodon: a hashtag may hold letters and digits only"
                )
            return f"/api/v1/timelines/tag/{tag}", {"limit": PAGE_SIZE}
        if self.query == "@mentions":
            if not self.credentials.get("access_token"):
                raise ConnectorError("mastodon: reading mentions needs an access token")
            return "/api/v1/notifications", {"limit": PAGE_SIZE, "types[]": "mention"}
        return "/api/v2/search", {
            "q": self.query,
            "type": "statuses",
            "limit": PAGE_SIZE,
            "resolve": "false",
        }

    def _parse(self, entries: list) -> tuple[list[MentionItem], list[str], str | None]:
        items: list[MentionItem] = []
        failures: list[str] = []
        newest: str | None = None
        for entry in entries:
            entry_id = str(entry.get("id") or "") if isinstance(entry, dict) else ""
            newest = _max_id(newest, entry_id)
            status = entry
            if isinstance(entry, dict) and "type" in entry and "account" in entry:
                # A notification: the status may be gone (deleted, or hidden
                # from this account), which leaves "status": null.
                status = entry.get("status")
                if not isinstance(status, dict):
                    failures.append(
                        f"mastodon: notification {entry_id or 'without id'} "
                        "has no status (deleted or not visible)"
                    )
                    continue
            try:
                items.append(_item(status))
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                failures.append(
                    f"mastodon: status {entry_id or 'without id'} skipped: "
                    f"{type(error).__name__} {error}"[:300]
                )
        items.sort(key=lambda item: int(item.external_id))
        return items, failures, newest


def _item(status: dict) -> MentionItem:
    # A boost carries no text of its own: the boosted status is the mention.
    status = status.get("reblog") or status
    status_id = str(status["id"])
    if not status_id.isdigit():
        raise ValueError(f"id {status_id!r} is not numeric")
    account = status.get("account") or {}
    warning = clean_text(status.get("spoiler_text"))
    body = clean_text(status.get("content"))
    return MentionItem(
        external_id=status_id,
        text="\n\n".join(part for part in (warning, body) if part),
        url=str(status.get("url") or status.get("uri") or ""),
        author_id=str(account.get("id") or ""),
        author_handle=str(account.get("acct") or account.get("username") or ""),
        author_name=clean_text(account.get("display_name")),
        author_followers=(
            as_int(account["followers_count"]) if "followers_count" in account else None
        ),
        published_at=parse_datetime(status.get("created_at")),
        edited_at=parse_datetime(status.get("edited_at")),
        language=str(status.get("language") or ""),
        in_reply_to=str(status.get("in_reply_to_id") or ""),
        likes=as_int(status.get("favourites_count")),
        reposts=as_int(status.get("reblogs_count")),
        replies=as_int(status.get("replies_count")),
        raw=status,
    )


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        raise TransientError("mastodon: the answer is not valid JSON") from None


def _link_min_id(header: str) -> str | None:
    for url, rel in _LINK.findall(header):
        if rel == "prev":
            values = parse_qs(urlsplit(url).query).get("min_id")
            if values:
                return values[0]
    return None


def _max_id(*ids: str | None) -> str | None:
    numeric = [int(i) for i in ids if i and str(i).isdigit()]
    return str(max(numeric)) if numeric else None
