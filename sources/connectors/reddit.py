"""Reddit: a search, or any listing such as a subreddit's comments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from .base import (
    ConnectorError,
    MentionItem,
    NewestFirstConnector,
    as_int,
    clean_text,
    parse_datetime,
)

REMOVED_TEXTS = frozenset({"[deleted]", "[removed]"})
AUTH_URL = "https://www.reddit.com/api/v1/access_token"


class RedditConnector(NewestFirstConnector):
    """Listings newest first, paged back with `after` fullnames to the mark.

    query: search words (/search?sort=new), or a listing path that starts with
    "/", e.g. "/r/mybank/comments" or "/message/mentions". Not `before=`: a
    before-fullname that gets deleted makes every later listing empty.
    Credentials: access_token, or client_id + client_secret for an app-only
    token (token_url overrides where it is fetched).
    """

    kind = "reddit"
    default_base_url = "https://oauth.reddit.com"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._token: str | None = self.credentials.get("access_token")

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"bearer {self._token}"} if self._token else {}

    def _ensure_token(self) -> None:
        client_id = self.credentials.get("client_id")
        secret = self.credentials.get("client_secret")
        if self._token or not (client_id and secret):
            return
        response = self.send(
            "POST",
            self.credentials.get("token_url") or AUTH_URL,
            data={"grant_type": "client_credentials"},
            auth=httpx.BasicAuth(client_id, secret),
        )
        try:
            self._token = response.json()["access_token"]
        except (ValueError, KeyError, TypeError):
            raise ConnectorError(
                "reddit: the token answer holds no access token"
            ) from None
        self.credentials["access_token"] = self._token  # so redact() hides it

    def list_page(self, token: str | None) -> tuple[list[dict], str | None]:
        if not self.query:
            raise ConnectorError("reddit: the source has no search query or listing")
        self._ensure_token()
        params: dict[str, Any] = {"limit": 100, "raw_json": 1}
        if self.query.startswith("/"):
            path = self.query.rstrip("/")
        else:
            path = "/search"
            params.update(q=self.query, sort="new", t="week", type="link,comment")
        if token:
            params["after"] = token
        body = self.get_json(f"{self.base_url}{path}.json", params=params)
        if not isinstance(body, dict) or body.get("kind") != "Listing":
            raise ConnectorError("reddit: the answer is not a Listing")
        data = body.get("data") or {}
        return list(data.get("children") or []), data.get("after") or None

    def raw_time(self, raw: dict) -> datetime | None:
        return parse_datetime((raw.get("data") or {}).get("created_utc"))

    def describe_raw(self, raw: Any) -> str:
        data = raw.get("data") if isinstance(raw, dict) else None
        return str((data or {}).get("name") or "without name")

    def parse_raw(self, raw: dict, failures: list[str]) -> list[MentionItem]:
        kind, data = raw["kind"], raw["data"]
        if kind not in ("t1", "t3"):
            return []  # messages, subreddits: not mentions
        name = str(data["name"])
        published = parse_datetime(data["created_utc"])
        if published is None:
            raise ValueError("created_utc is missing or not a number")
        if kind == "t3":
            title = clean_text(data.get("title"))
            body = str(data.get("selftext") or "")
            text = "\n\n".join(p for p in (title, clean_text(body)) if p)
            conversation = name
            parent = ""
        else:
            body = str(data.get("body") or "")
            text = clean_text(body)
            conversation = str(data.get("link_id") or "")
            parent = str(data.get("parent_id") or "")
        author = str(data.get("author") or "")
        deleted = body.strip() in REMOVED_TEXTS or author == "[deleted]"
        edited = data.get("edited")
        permalink = str(data.get("permalink") or data.get("context") or "")
        return [
            MentionItem(
                external_id=name,
                text="" if deleted and body.strip() in REMOVED_TEXTS else text,
                url=f"https://www.reddit.com{permalink}"
                if permalink.startswith("/")
                else "",
                author_id=str(data.get("author_fullname") or ""),
                author_handle="" if author == "[deleted]" else author,
                published_at=published,
                # "edited" is false, or the epoch seconds of the edit.
                edited_at=parse_datetime(edited)
                if edited not in (False, None)
                else None,
                deleted=deleted,
                in_reply_to=parent,
                conversation_key=conversation,
                likes=as_int(data.get("score")),
                replies=as_int(data.get("num_comments")),
                raw=data,
            )
        ]
