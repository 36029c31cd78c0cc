"""X (Twitter) API v2 recent search."""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

from .base import (
    Connector,
    ConnectorError,
    MentionItem,
    Page,
    as_int,
    parse_datetime,
)

TWEET_FIELDS = (
    "created_at,author_id,conversation_id,public_metrics,lang,"
    "referenced_tweets,in_reply_to_user_id"
)
USER_FIELDS = "username,name,public_metrics"


class XSearchConnector(Connector):
    """GET /2/tweets/search/recent with since_id and next_token paging.

    X pages newest first and has no "oldest first" option. The cursor is:
    - since_id: the newest tweet of the last COMPLETED run; searches ask for
      tweets after it;
    - next_token + pending_newest_id while a run is under way.
    Pages before the last keep the old since_id and the token of the next
    page: if the worker dies after storing page 2, the next run resumes at
    page 3 with the same since_id. Had page 1 already moved since_id to its
    newest id, the older tweets on pages 3.. would be skipped for ever. Only
    the last page sets since_id to the newest id of the run's first page.
    """

    kind = "x_search"
    default_base_url = "https://api.twitter.com"

    def auth_headers(self) -> dict[str, str]:
        token = self.credentials.get("bearer_token")
        if not token:
            raise ConnectorError("x_search: no bearer token configured")
        return {"Authorization": f"Bearer {token}"}

    def error_detail(self, body: Any) -> str:
        if isinstance(body, dict):
            errors = body.get("errors")
            if isinstance(errors, list) and errors and isinstance(errors[0], dict):
                return str(errors[0].get("message") or errors[0].get("detail") or "")
            return str(body.get("detail") or body.get("title") or "")
        return ""

    def fetch(self) -> Iterator[Page]:
        if not self.query:
            raise ConnectorError("x_search: the source has no search query")
        since_id = self.cursor.get("since_id")
        token = self.cursor.get("next_token")
        pending = self.cursor.get("pending_newest_id") if token else None
        for page_number in range(self.max_pages):
            try:
                body = self._search(since_id, token)
            except ConnectorError as error:
                # A stale next_token is refused with 400: start the run over.
                if not (token and page_number == 0 and error.status == 400):
                    raise
                token, pending = None, None
                body = self._search(since_id, None)
            meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
            if pending is None:
                pending = meta.get("newest_id")
            token = meta.get("next_token")
            items, failures = self._parse(body)
            last_page = page_number == self.max_pages - 1
            # Out of pages on a later run: go on from here next time. On a
            # first run (no since_id) older history is not walked.
            if token and (not last_page or since_id):
                cursor = {
                    "since_id": since_id,
                    "next_token": token,
                    "pending_newest_id": pending,
                }
            else:
                cursor = {"since_id": _newest(pending, since_id)}
            yield Page(items=items, cursor=cursor, parse_failures=failures)
            if not token or last_page:
                return

    def _search(self, since_id: str | None, token: str | None) -> dict:
        params = {
            "query": self.query,
            "max_results": 100,
            "expansions": "author_id",
            "tweet.fields": TWEET_FIELDS,
            "user.fields": USER_FIELDS,
        }
        if since_id:
            params["since_id"] = since_id
        if token:
            params["next_token"] = token
        body = self.get_json(f"{self.base_url}/2/tweets/search/recent", params=params)
        if not isinstance(body, dict):
            raise ConnectorError("x_search: the answer is not a JSON object")
        return body

    def _parse(self, body: dict) -> tuple[list[MentionItem], list[str]]:
        includes = (
            body.get("includes") if isinstance(body.get("includes"), dict) else {}
        )
        users = {
            str(user.get("id")): user
            for user in includes.get("users") or []
            if isinstance(user, dict)
        }
        items: list[MentionItem] = []
        failures: list[str] = []
        for tweet in body.get("data") or []:
            try:
                items.append(self._item(tweet, users))
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                tweet_id = tweet.get("id") if isinstance(tweet, dict) else None
                failures.append(
                    f"x_search: tweet {tweet_id or 'without id'} skipped: "
                    f"{type(error).__name__} {error}"[:300]
                )
        items.sort(key=lambda item: int(item.external_id))
        return items, failures

    def _item(self, tweet: dict, users: dict[str, dict]) -> MentionItem:
        tweet_id = str(tweet["id"])
        if not tweet_id.isdigit():
            raise ValueError(f"id {tweet_id!r} is not numeric")
        author_id = str(tweet.get("author_id") or "")
        # Expansions can be partial: an author_id whose user is not included.
        user = users.get(author_id) or {}
        username = str(user.get("username") or "")
        metrics = tweet.get("public_metrics") or {}
        user_metrics = user.get("public_metrics") or {}
        replied_to = next(
            (
                str(ref.get("id"))
                for ref in tweet.get("referenced_tweets") or []
                if isinstance(ref, dict) and ref.get("type") == "replied_to"
            ),
            "",
        )
        return MentionItem(
            external_id=tweet_id,
            # X escapes &, < and > in text; it is not HTML otherwise.
            text=html.unescape(str(tweet.get("text") or "")),
            url=f"https://x.com/{username or 'i/web'}/status/{tweet_id}",
            author_id=author_id,
            author_handle=username,
            author_name=str(user.get("name") or ""),
            author_followers=(
                as_int(user_metrics["followers_count"])
                if "followers_count" in user_metrics
                else None
            ),
            published_at=parse_datetime(tweet.get("created_at")),
            language=str(tweet.get("lang") or ""),
            in_reply_to=replied_to,
            conversation_key=str(tweet.get("conversation_id") or ""),
            likes=as_int(metrics.get("like_count")),
            reposts=as_int(metrics.get("retweet_count"))
            + as_int(metrics.get("quote_count")),
            replies=as_int(metrics.get("reply_count")),
            raw=tweet,
        )


def _newest(*ids: str | None) -> str | None:
    numeric = [int(i) for i in ids if i and str(i).isdigit()]
    return str(max(numeric)) if numeric else None
