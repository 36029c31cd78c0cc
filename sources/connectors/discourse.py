"""Discourse forums: new posts in recently active (or matching) topics."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .base import (
    Connector,
    ConnectorError,
    MentionItem,
    Page,
    as_int,
    clean_text,
    keyword_matcher,
    parse_datetime,
)

# How many topics' "last post number seen" the cursor remembers.
TOPIC_MEMORY = 500
_GUID = re.compile(r"-post-(\d+)$")


def post_id_from_guid(guid: str) -> str:
    """The global post id in a Discourse RSS guid like "forum.example-post-20102"."""
    match = _GUID.search(guid or "")
    return match.group(1) if match else ""


class DiscourseConnector(Connector):
    """Lists topics by activity, then fetches each active topic's new posts.

    query empty: /latest.json (all recent activity); otherwise /search.json
    with the query, newest first. The cursor remembers, per topic, the
    highest post_number stored. Post numbers have gaps (deleted posts), so
    "new" means a higher post_number, never a count. The external id is the
    forum-wide post id, the same number as in RSS guids "<host>-post-<id>".
    Credentials (optional): api_key and api_username for private forums.
    """

    kind = "discourse"

    def auth_headers(self) -> dict[str, str]:
        key = self.credentials.get("api_key")
        if not key:
            return {}
        return {
            "Api-Key": key,
            "Api-Username": self.credentials.get("api_username", "system"),
        }

    def error_detail(self, body: Any) -> str:
        if isinstance(body, dict) and isinstance(body.get("errors"), list):
            return "; ".join(str(e) for e in body["errors"][:3])
        return super().error_detail(body)

    def fetch(self) -> Iterator[Page]:
        known: dict[str, int] = {
            str(k): int(v) for k, v in (self.cursor.get("topics") or {}).items()
        }
        active = self._active_topics(known)
        matches = keyword_matcher(self.keywords)
        for count, (topic_id, highest) in enumerate(active):
            if count >= self.max_pages:
                break
            seen_up_to = known.pop(topic_id, 0)
            posts, failures = self._new_posts(topic_id, seen_up_to, highest)
            items = [item for item in posts if matches(item.text)]
            # Re-inserted last: the topics quiet longest are forgotten first.
            known[topic_id] = max([seen_up_to] + [_number(i) for i in posts])
            while len(known) > TOPIC_MEMORY:
                known.pop(next(iter(known)))
            yield Page(
                items=items, cursor={"topics": dict(known)}, parse_failures=failures
            )

    def _active_topics(self, known: dict[str, int]) -> list[tuple[str, int]]:
        if self.query:
            body = self.get_json(
                f"{self.base_url}/search.json",
                params={"q": f"{self.query} order:latest"},
            )
            topics = body.get("topics") if isinstance(body, dict) else None
        else:
            body = self.get_json(
                f"{self.base_url}/latest.json", params={"order": "activity"}
            )
            topics = (
                (body.get("topic_list") or {}).get("topics")
                if isinstance(body, dict)
                else None
            )
        if not isinstance(topics, list):
            raise ConnectorError("discourse: the answer holds no topic list")
        active = []
        for topic in topics:
            if not isinstance(topic, dict) or not str(topic.get("id", "")).isdigit():
                continue
            topic_id = str(topic["id"])
            highest = as_int(
                topic.get("highest_post_number") or topic.get("posts_count")
            )
            if highest == 0 or highest > known.get(topic_id, 0):
                active.append((topic_id, highest))
        # Oldest activity first, so a run that stops early leaves the newest.
        active.reverse()
        return active

    def _new_posts(
        self, topic_id: str, seen_up_to: int, highest: int
    ) -> tuple[list[MentionItem], list[str]]:
        items: dict[int, MentionItem] = {}
        failures: list[str] = []
        ids_by_number: dict[int, str] = {}
        after = seen_up_to
        # A topic answers in chunks of about 20 posts; a few chunks per run.
        for _chunk in range(5):
            params = {"post_number": after, "asc": "true"} if after else {}
            body = self.get_json(
                f"{self.base_url}/t/{topic_id}/posts.json", params=params
            )
            stream = body.get("post_stream") if isinstance(body, dict) else None
            posts = stream.get("posts") if isinstance(stream, dict) else None
            if not isinstance(posts, list):
                raise ConnectorError(
                    f"discourse: topic {topic_id} answered without posts"
                )
            for post in posts:
                if isinstance(post, dict) and str(post.get("id", "")).isdigit():
                    ids_by_number[as_int(post.get("post_number"))] = str(post["id"])
            for post in posts:
                try:
                    item = self._item(post, topic_id, ids_by_number)
                except (KeyError, TypeError, ValueError, AttributeError) as error:
                    post_id = post.get("id") if isinstance(post, dict) else None
                    failures.append(
                        f"discourse: post {post_id or 'without id'} in topic {topic_id} "
                        f"skipped: {type(error).__name__} {error}"[:300]
                    )
                    continue
                if _number(item) > seen_up_to:
                    items[_number(item)] = item
            top = max([after, *items], default=after)
            if top <= after or top >= highest:
                break
            after = top
        # Discourse answers in either order (descending when clamped).
        return [items[number] for number in sorted(items)], failures

    def _item(
        self, post: dict, topic_id: str, ids_by_number: dict[int, str]
    ) -> MentionItem:
        post_id = str(post["id"])
        number = int(post["post_number"])
        if not post_id.isdigit():
            raise ValueError(f"id {post_id!r} is not numeric")
        reply_to = post.get("reply_to_post_number")
        path = (
            post.get("post_url")
            or f"/t/{post.get('topic_slug') or '-'}/{topic_id}/{number}"
        )
        deleted = bool(post.get("deleted_at") or post.get("user_deleted"))
        created = parse_datetime(post.get("created_at"))
        return MentionItem(
            external_id=post_id,
            text=clean_text(post.get("cooked")),
            url=f"{self.base_url}{path}",
            author_id=str(post.get("user_id") or ""),
            author_handle=str(post.get("username") or ""),
            author_name=str(post.get("name") or post.get("display_username") or ""),
            published_at=created,
            # Version 1 is the original; each edit adds one.
            edited_at=parse_datetime(post.get("updated_at"))
            if as_int(post.get("version")) > 1
            else None,
            deleted=deleted,
            # Only the parent's post number is given; its id is known when it
            # came in the same answer (raw keeps reply_to_post_number).
            in_reply_to=ids_by_number.get(as_int(reply_to), "") if reply_to else "",
            conversation_key=topic_id,
            likes=_likes(post),
            replies=as_int(post.get("reply_count")),
            raw=post,
        )


def _likes(post: dict) -> int:
    for action in post.get("actions_summary") or []:
        if isinstance(action, dict) and action.get("id") == 2:
            return as_int(action.get("count"))
    return as_int(post.get("like_count"))


def _number(item: MentionItem) -> int:
    return as_int(item.raw.get("post_number"))
