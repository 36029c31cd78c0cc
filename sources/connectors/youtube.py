"""YouTube Data API v3: comment threads of a video or a channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .base import (
    ConnectorError,
    MentionItem,
    NewestFirstConnector,
    as_int,
    parse_datetime,
)


class YouTubeConnector(NewestFirstConnector):
    """commentThreads.list in time order, paged with pageToken to the mark.

    The API has no "since" filter, so the run stops at the newest publishedAt
    of the previous run (kept in the cursor). Pages can repeat threads of the
    page before; each id is yielded once per run. query: "video:<id>",
    "channel:<id>" or a bare id (channel ids start with UC). Credential: api_key.
    """

    kind = "youtube"
    default_base_url = "https://www.googleapis.com/youtube/v3"

    def error_detail(self, body: Any) -> str:
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            reasons = [
                e.get("reason")
                for e in error.get("errors") or []
                if isinstance(e, dict)
            ]
            reason = f" ({', '.join(r for r in reasons if r)})" if any(reasons) else ""
            return f"{error.get('message') or 'error'}{reason}"
        return ""

    def list_page(self, token: str | None) -> tuple[list[dict], str | None]:
        key = self.credentials.get("api_key")
        if not key:
            raise ConnectorError("youtube: no API key configured")
        scope, _, target = self.query.rpartition(":")
        target = target.strip()
        if not target:
            raise ConnectorError("youtube: the source names no video or channel")
        if scope == "channel" or (not scope and target.startswith("UC")):
            filter_param = {"allThreadsRelatedToChannelId": target}
        else:
            filter_param = {"videoId": target}
        params: dict[str, Any] = {
            "part": "snippet,replies",
            "order": "time",
            "maxResults": 100,
            "textFormat": "plainText",
            "key": key,
            **filter_param,
        }
        if token:
            params["pageToken"] = token
        body = self.get_json(f"{self.base_url}/commentThreads", params=params)
        if not isinstance(body, dict):
            raise ConnectorError("youtube: the answer is not a JSON object")
        return list(body.get("items") or []), body.get("nextPageToken") or None

    def raw_time(self, raw: dict) -> datetime | None:
        top = ((raw.get("snippet") or {}).get("topLevelComment") or {}).get("snippet")
        return parse_datetime((top or {}).get("publishedAt"))

    def parse_raw(self, raw: dict, failures: list[str]) -> list[MentionItem]:
        thread_id = str(raw["id"])
        snippet = raw["snippet"]
        top = snippet["topLevelComment"]
        items = [
            _comment(top, thread_id, parent="", replies=snippet.get("totalReplyCount"))
        ]
        for reply in (raw.get("replies") or {}).get("comments") or []:
            items.append(_comment(reply, thread_id, parent=thread_id, replies=0))
        return items


def _comment(
    comment: dict, thread_id: str, *, parent: str, replies: Any
) -> MentionItem:
    snippet = comment["snippet"]
    comment_id = str(comment["id"])
    published = parse_datetime(snippet["publishedAt"])
    updated = parse_datetime(snippet.get("updatedAt"))
    video = snippet.get("videoId") or ""
    channel = (snippet.get("authorChannelId") or {}).get("value") or ""
    return MentionItem(
        external_id=comment_id,
        # textOriginal is what the author typed; textDisplay is HTML.
        text=str(snippet.get("textOriginal") or ""),
        url=f"https://www.youtube.com/watch?v={video}&lc={comment_id}" if video else "",
        author_id=str(channel),
        author_handle=_handle(snippet.get("authorChannelUrl")),
        author_name=str(snippet.get("authorDisplayName") or ""),
        published_at=published,
        edited_at=updated if updated and published and updated > published else None,
        in_reply_to=str(snippet.get("parentId") or parent),
        conversation_key=thread_id,
        likes=as_int(snippet.get("likeCount")),
        replies=as_int(replies),
        raw=comment,
    )


def _handle(channel_url: Any) -> str:
    # Newer channel URLs end in the @handle; older ones only hold the id.
    tail = str(channel_url or "").rstrip("/").rsplit("/", 1)[-1]
    return tail if tail.startswith("@") else ""
