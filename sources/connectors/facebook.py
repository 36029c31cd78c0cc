"""Facebook Graph API: a page's feed with its latest comments, or one post's comments."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .base import (
    ConnectorError,
    MentionItem,
    NewestFirstConnector,
    as_int,
    parse_datetime,
)

COMMENT_FIELDS = (
    "id,message,created_time,from,parent{id},like_count,comment_count,permalink_url"
)
POST_FIELDS = (
    "id,message,story,created_time,updated_time,permalink_url,from,shares,"
    "reactions.summary(total_count).limit(0),comments.summary(true).limit(0)"
)
# Graph error codes that mean "too many calls": retry later, not a config error.
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613})


class FacebookConnector(NewestFirstConnector):
    """Pages a Graph edge newest first by following paging.next to the mark.

    query: a page id (its feed; each post's newest comments come inline) or
    "<object id>/comments" (that post's comments). `url` or base_url is the
    Graph root with its version, e.g. https://graph.facebook.com/v19.0.
    paging.next URLs are followed only on the configured Graph host; the
    access token is stripped from them before they are kept in a cursor.
    """

    kind = "facebook"
    default_base_url = "https://graph.facebook.com/v19.0"
    official_host = "graph.facebook.com"

    def error_detail(self, body: Any) -> str:
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            return f"{error.get('type') or 'error'} {error.get('code', '')}: " + str(
                error.get("message") or ""
            )
        return ""

    def is_transient(self, status: int, body: Any) -> bool:
        error = body.get("error") if isinstance(body, dict) else None
        return isinstance(error, dict) and (
            error.get("code") in RATE_LIMIT_CODES or bool(error.get("is_transient"))
        )

    def list_page(self, token: str | None) -> tuple[list[dict], str | None]:
        access_token = self.credentials.get("access_token")
        if not access_token:
            raise ConnectorError("facebook: no access token configured")
        if not self.query:
            raise ConnectorError("facebook: the source names no page or post")
        if token:
            url, params = self._next_request(token)
        elif self.query.endswith("/comments"):
            url = f"{self.base_url}/{self.query}"
            params = {
                "fields": COMMENT_FIELDS,
                "filter": "stream",
                "order": "reverse_chronological",
                "limit": 100,
            }
        else:
            url = f"{self.base_url}/{self.query}/feed"
            comments = (
                f"comments.order(reverse_chronological).limit(25){{{COMMENT_FIELDS}}}"
            )
            params = {"fields": f"{POST_FIELDS},{comments}", "limit": 25}
        body = self.get_json(url, params={**params, "access_token": access_token})
        if not isinstance(body, dict):
            raise ConnectorError("facebook: the answer is not a JSON object")
        next_url = (body.get("paging") or {}).get("next")
        return list(body.get("data") or []), self._keepable(
            next_url
        ) if next_url else None

    def _keepable(self, next_url: str) -> str:
        """The next URL, checked against our Graph host and without the token."""
        parts = urlsplit(next_url)
        base = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https"):
            raise ConnectorError("facebook: refused a paging URL that is not HTTP")
        if parts.netloc != base.netloc and parts.hostname != self.official_host:
            raise ConnectorError(
                f"facebook: refused to follow a paging URL to another host ({parts.hostname})"
            )
        query = [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k != "access_token"
        ]
        return urlunsplit(
            (parts.scheme, parts.netloc, parts.path, urlencode(query), "")
        )

    def _next_request(self, kept_url: str) -> tuple[str, dict[str, str]]:
        # The official host becomes the configured one (a test server, a
        # proxy); any other host was refused before the URL was kept.
        parts = urlsplit(self._keepable(kept_url))
        base = urlsplit(self.base_url)
        url = urlunsplit((base.scheme, base.netloc, parts.path, "", ""))
        return url, dict(parse_qsl(parts.query, keep_blank_values=True))

    def raw_time(self, raw: dict) -> datetime | None:
        return parse_datetime(raw.get("created_time"))

    def parse_raw(self, raw: dict, failures: list[str]) -> list[MentionItem]:
        if self.query.endswith("/comments"):
            post_id = self.query.rsplit("/", 1)[0]
            return self._comments([raw], post_id, failures)
        post_id = str(raw["id"])
        author = raw.get("from") or {}
        reactions = ((raw.get("reactions") or {}).get("summary") or {}).get(
            "total_count"
        )
        comments = raw.get("comments") or {}
        post = MentionItem(
            external_id=post_id,
            text=str(raw.get("message") or raw.get("story") or ""),
            url=str(raw.get("permalink_url") or f"https://www.facebook.com/{post_id}"),
            author_id=str(author.get("id") or ""),
            author_name=str(author.get("name") or ""),
            published_at=_required_time(raw),
            conversation_key=post_id,
            likes=as_int(reactions),
            reposts=as_int((raw.get("shares") or {}).get("count")),
            replies=as_int((comments.get("summary") or {}).get("total_count")),
            raw={k: v for k, v in raw.items() if k != "comments"},
        )
        return [post, *self._comments(comments.get("data") or [], post_id, failures)]

    def _comments(
        self, comments: list, post_id: str, failures: list[str]
    ) -> list[MentionItem]:
        items = []
        for comment in comments:
            if not isinstance(comment, dict) or not comment.get("id"):
                failures.append(f"facebook: a comment on {post_id} has no id, skipped")
                continue
            author = comment.get("from") or {}
            items.append(
                MentionItem(
                    external_id=str(comment["id"]),
                    text=str(comment.get("message") or ""),
                    url=str(comment.get("permalink_url") or ""),
                    author_id=str(author.get("id") or ""),
                    author_name=str(author.get("name") or ""),
                    published_at=_required_time(comment),
                    in_reply_to=str((comment.get("parent") or {}).get("id") or post_id),
                    conversation_key=post_id,
                    likes=as_int(comment.get("like_count")),
                    replies=as_int(comment.get("comment_count")),
                    raw=comment,
                )
            )
        return items


def _required_time(raw: dict) -> datetime:
    # Graph writes "+0000" without a colon; fromisoformat reads it on 3.11+.
    published = parse_datetime(raw.get("created_time"))
    if published is None:
        raise ValueError(f"created_time {raw.get('created_time')!r} is not a date")
    return published
