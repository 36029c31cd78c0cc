"""Publishing the team's replies on the platforms they answer (issue 12).

A publisher writes one post as the team's account and, when the answer to that
write was lost, looks among the account's recent posts for it: a write is never
simply sent again (sources.connectors.http.send_once). Like the connectors it never
touches the database, takes its credentials from the environment only
(WEBCARE_CONNECTOR_CREDENTIALS) and sends them only to the configured API origin,
through the client that refuses non-public addresses.

Each follows its platform's documented API:
- Mastodon: POST /api/v1/statuses (status, in_reply_to_id, visibility; "direct"
  for a private message, addressed by mentioning the customer), with an
  Idempotency-Key (the instance keeps it an hour); a post on another instance is
  first looked up on the team's instance (GET /api/v2/search, resolve=true).
  Found again with GET /api/v1/accounts/:id/statuses.
- Discourse: POST /posts.json (topic_id, raw, reply_to_post_number; for a private
  message archetype=private_message, target_recipients and a title), with the
  Api-Key and Api-Username headers. Found again with GET /user_actions.json.
Feeds and blogs have no write API: the agent posts by hand and records the link.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings

from webcare import outbound

from .connectors.base import clean_text, parse_datetime, url_origin
from .connectors.http import (
    ConnectorError,
    NotSent,
    OutcomeUnknown,
    RetryPolicy,
    build_client,
    send,
    send_once,
)

__all__ = [
    "ConnectorError",
    "NotSent",
    "OutcomeUnknown",
    "Post",
    "Published",
    "Publisher",
    "build_client",
    "comparable",
    "can_publish",
    "is_own_post",
    "own_accounts",
    "publisher_for",
]

# A post found among the account's own is ours when it was made no earlier than
# this before the attempt (the platform's clock against ours).
CLOCK_SLACK = timedelta(minutes=2)


@dataclass(frozen=True)
class Post:
    """One reply as the platform needs it."""

    text: str
    private: bool = False
    # The post answered, as the source stored it.
    in_reply_to: str = ""  # its id on the platform (on the source's instance)
    in_reply_to_url: str = ""
    conversation: str = ""  # the thread (Discourse: the topic id)
    reply_to_number: int | None = None  # Discourse: the post's number in the topic
    recipient: str = ""  # a private message's addressee (handle or username)
    recipient_origin: str = ""  # where that handle belongs (the instance or forum)
    title: str = ""  # a private message's subject, where the platform needs one
    key: str = ""  # stable per reply: the platform's idempotency key, where it has one


@dataclass(frozen=True)
class Published:
    external_id: str
    url: str


def comparable(text: str) -> str:
    """A text as two copies of one post compare: spaces and case aside."""
    return " ".join((text or "").split()).casefold()


class Publisher:
    kind = ""
    # Does the platform recognise a repeated write (an idempotency key)? If not, a
    # reply whose answer was lost is never sent again automatically.
    idempotent = False
    # Credentials that must be set for this kind to publish at all.
    required: tuple[str, ...] = ()

    def __init__(self, *, credentials: dict, client: httpx.Client):
        self.credentials = dict(credentials)
        self.base_url = str(credentials.get("base_url") or "").rstrip("/")
        if not self.base_url or url_origin(self.base_url) is None:
            raise ConnectorError(f"{self.kind}: no API base URL is configured")
        missing = [name for name in self.required if not credentials.get(name)]
        if missing:
            raise ConnectorError(
                f"{self.kind}: publishing needs {', '.join(missing)} in the environment"
            )
        self.client = client

    # -- what each platform implements ------------------------------------------

    def publish(self, post: Post) -> Published:
        raise NotImplementedError

    def find(self, post: Post, *, since: datetime) -> list[Published]:
        """Posts among the account's recent ones, made after `since`, that are
        this reply (the same post answered, the same words), newest first."""
        raise NotImplementedError

    # -- shared ----------------------------------------------------------------------

    def headers(self) -> dict[str, str]:
        return {}

    def redact(self, text: str) -> str:
        for key, value in self.credentials.items():
            if key != "base_url" and value and len(str(value)) >= 4:
                text = text.replace(str(value), "[redacted]")
        return text

    def write(self, path: str, body: dict, headers: dict | None = None) -> Any:
        """One write, never repeated here; a refusal is a ConnectorError in words."""
        try:
            response = send_once(
                self.client,
                "POST",
                f"{self.base_url}{path}",
                json=body,
                headers={**self.headers(), **(headers or {})},
                label=self.kind,
            )
        except ConnectorError as error:
            error.args = (self.redact(str(error)),)
            raise
        return self._judge(response)

    def read(self, path: str, params: dict | None = None) -> Any:
        """A read: retried like a poll's, since reading twice does no harm."""
        try:
            response = send(
                self.client,
                "GET",
                f"{self.base_url}{path}",
                params=params,
                headers=self.headers(),
                policy=RetryPolicy(attempts=2, max_wait=5),
                label=self.kind,
            )
        except ConnectorError as error:
            error.args = (self.redact(str(error)),)
            raise
        return self._judge(response)

    def _judge(self, response: httpx.Response) -> Any:
        try:
            body = json.loads(response.content)
        except ValueError:
            body = None
        if response.status_code >= 400:
            detail = self.error_detail(body)
            message = f"{self.kind}: the platform refused ({response.status_code})"
            if detail:
                message += f": {outbound.excerpt(detail)}"
            raise ConnectorError(self.redact(message), status=response.status_code)
        if body is None:
            raise OutcomeUnknown(
                f"{self.kind}: the platform answered {response.status_code} "
                "with a body that is not JSON"
            )
        return body

    def error_detail(self, body: Any) -> str:
        if isinstance(body, dict):
            for key in ("error", "errors", "message", "detail"):
                value = body.get(key)
                if isinstance(value, list):
                    value = "; ".join(str(part) for part in value)
                if isinstance(value, str) and value:
                    return value
        return ""


class MastodonPublisher(Publisher):
    kind = "mastodon"
    required = ("access_token",)
    idempotent = True  # Idempotency-Key, kept by the instance for an hour

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials['access_token']}"}

    def _status_id_here(self, post: Post) -> str:
        """The answered post's id on the team's instance: the stored id when the
        source reads that instance, else looked up by its URL."""
        if not post.in_reply_to:
            return ""
        if not post.in_reply_to_url or url_origin(post.in_reply_to_url) == url_origin(
            self.base_url
        ):
            return post.in_reply_to
        found = self.read(
            "/api/v2/search",
            {"q": post.in_reply_to_url, "resolve": "true", "type": "statuses"},
        )
        statuses = found.get("statuses") if isinstance(found, dict) else None
        if not statuses or not isinstance(statuses[0], dict):
            raise ConnectorError(
                "mastodon: the post answered cannot be found from the team's instance"
            )
        return str(statuses[0].get("id") or "")

    def _recipient(self, post: Post) -> str:
        """The addressee as the team's instance knows it: a handle local to
        another instance is qualified with that instance's host."""
        handle = post.recipient.strip().lstrip("@")
        if not handle:
            raise ConnectorError("mastodon: a direct message needs a recipient")
        if "@" not in handle:
            home = httpx.URL(post.recipient_origin or self.base_url).host
            if home and home != httpx.URL(self.base_url).host:
                handle = f"{handle}@{home}"
        return handle

    def _text(self, post: Post) -> str:
        # A direct message reaches whoever it mentions: it starts with the
        # customer's handle, and with nobody else's.
        if not post.private:
            return post.text
        handle = self._recipient(post)
        if re.match(rf"@{re.escape(handle)}(?!\S)", post.text, re.IGNORECASE):
            return post.text
        return f"@{handle} {post.text}"

    def publish(self, post: Post) -> Published:
        body = {
            "status": self._text(post),
            "visibility": "direct" if post.private else "public",
        }
        reply_to = self._status_id_here(post)
        if reply_to:
            body["in_reply_to_id"] = reply_to
        headers = {"Idempotency-Key": post.key} if post.key else {}
        status = self.write("/api/v1/statuses", body, headers)
        if not isinstance(status, dict) or not status.get("id"):
            raise OutcomeUnknown("mastodon: the answer names no status")
        return Published(str(status["id"]), str(status.get("url") or ""))

    def find(self, post: Post, *, since: datetime) -> list[Published]:
        me = self.read("/api/v1/accounts/verify_credentials")
        if not isinstance(me, dict) or not me.get("id"):
            raise ConnectorError("mastodon: the team's account cannot be read")
        statuses = self.read(
            f"/api/v1/accounts/{me['id']}/statuses", {"limit": 40, "exclude_reblogs": 1}
        )
        reply_to = self._status_id_here(post)
        text = comparable(clean_text(self._text(post)))
        found = []
        for status in statuses if isinstance(statuses, list) else []:
            if not isinstance(status, dict) or not status.get("id"):
                continue
            created = parse_datetime(status.get("created_at"))
            if created is None or created < since - CLOCK_SLACK:
                continue
            if str(status.get("in_reply_to_id") or "") != reply_to:
                continue
            if comparable(clean_text(status.get("content"))) == text:
                found.append(Published(str(status["id"]), str(status.get("url") or "")))
        return found


class DiscoursePublisher(Publisher):
    kind = "discourse"
    required = ("api_key", "api_username")

    def headers(self) -> dict[str, str]:
        return {
            "Api-Key": str(self.credentials["api_key"]),
            "Api-Username": str(self.credentials["api_username"]),
        }

    def _on_this_forum(self, url: str) -> bool:
        return not url or url_origin(url) == url_origin(self.base_url)

    def publish(self, post: Post) -> Published:
        # Topic numbers and usernames belong to one forum: the team's account
        # answers only on its own.
        if not self._on_this_forum(post.in_reply_to_url) or not self._on_this_forum(
            post.recipient_origin
        ):
            raise ConnectorError(
                "discourse: the post is on another forum than the team's account"
            )
        if post.private:
            if not post.recipient:
                raise ConnectorError("discourse: a private message needs a recipient")
            body = {
                "archetype": "private_message",
                "target_recipients": post.recipient,
                "title": post.title,
                "raw": post.text,
            }
        else:
            if not post.conversation.isdigit():
                raise ConnectorError("discourse: the reply needs the post's topic")
            body = {"topic_id": int(post.conversation), "raw": post.text}
            if post.reply_to_number:
                body["reply_to_post_number"] = post.reply_to_number
        created = self.write("/posts.json", body)
        if not isinstance(created, dict) or not created.get("id"):
            raise OutcomeUnknown("discourse: the answer names no post")
        return Published(str(created["id"]), self._url(created))

    def _url(self, post: dict) -> str:
        slug = re.sub(r"[^\w-]", "", str(post.get("topic_slug") or "-")) or "-"
        return (
            f"{self.base_url}/t/{slug}/{post.get('topic_id')}/{post.get('post_number')}"
        )

    def find(self, post: Post, *, since: datetime) -> list[Published]:
        listed = self.read(
            "/user_actions.json",
            {
                "username": self.credentials["api_username"],
                "filter": "12" if post.private else "4,5",
            },
        )
        actions = listed.get("user_actions") if isinstance(listed, dict) else None
        found = []
        for action in actions if isinstance(actions, list) else []:
            if not isinstance(action, dict) or not str(action.get("post_id")).isdigit():
                continue
            created = parse_datetime(action.get("created_at"))
            if created is None or created < since - CLOCK_SLACK:
                continue
            if post.private:
                mine = str(action.get("title") or "") == post.title
            else:
                mine = str(action.get("topic_id")) == post.conversation and (
                    action.get("reply_to_post_number") or None
                ) == (post.reply_to_number or None)
            # The same place is not enough (two replies to one post): the words.
            if mine and self._raw_of(action["post_id"]) == comparable(post.text):
                found.append(
                    Published(
                        str(action["post_id"]),
                        self._url(
                            {
                                "topic_slug": action.get("slug"),
                                "topic_id": action.get("topic_id"),
                                "post_number": action.get("post_number"),
                            }
                        ),
                    )
                )
        return found

    def _raw_of(self, post_id) -> str:
        post = self.read(f"/posts/{int(post_id)}.json")
        return comparable(str(post.get("raw") or "")) if isinstance(post, dict) else ""


PUBLISHERS: dict[str, type[Publisher]] = {
    publisher.kind: publisher for publisher in (MastodonPublisher, DiscoursePublisher)
}


def publisher_for(kind: str, *, client: httpx.Client) -> Publisher:
    """The publisher of a source kind, with the environment's credentials; a
    ConnectorError in words when the kind cannot publish (yet)."""
    if kind not in PUBLISHERS:
        raise ConnectorError(
            f"{kind}: replies cannot be published from webcare; post it by hand "
            "and record the link"
        )
    credentials = dict(settings.WEBCARE_CONNECTOR_CREDENTIALS.get(kind) or {})
    return PUBLISHERS[kind](credentials=credentials, client=client)


def own_accounts(kind: str) -> frozenset[str]:
    """The team's own accounts on a platform (ids and handles, lower case), from
    WEBCARE_OWN_ACCOUNTS: their posts are ours, never a customer's mention."""
    return frozenset(
        name.casefold().lstrip("@")
        for name in settings.WEBCARE_OWN_ACCOUNTS.get(kind, ())
    )


# Platforms of many instances or forums: an id or a bare handle means something only
# on the instance it was read from.
INSTANCE_KINDS = frozenset({"mastodon", "discourse"})


def is_own_post(kind: str, *, source_url: str, author_id: str, handle: str) -> bool:
    """Is this post by the team's own account? On a platform of instances, an id or
    a bare handle counts only on the team's own instance (the configured API base
    URL); a handle qualified with its instance ("webcare@bank.social") anywhere."""
    own = own_accounts(kind)
    if not own:
        return False
    handle = handle.casefold().strip().lstrip("@")
    if kind not in INSTANCE_KINDS:
        return author_id.casefold() in own or handle in own
    credentials = settings.WEBCARE_CONNECTOR_CREDENTIALS.get(kind) or {}
    home = url_origin(str(credentials.get("base_url") or ""))
    here = url_origin(source_url)
    at_home = home is not None and here == home
    if "@" not in handle and here is not None:
        handle = f"{handle}@{httpx.URL(source_url).host}"
    qualified = {name for name in own if "@" in name}
    if at_home:
        home_host = httpx.URL(str(credentials["base_url"])).host
        qualified |= {f"{name}@{home_host}" for name in own if "@" not in name}
        if author_id.casefold() in own:
            return True
    return handle in qualified


def can_publish(kind: str) -> bool:
    """Is this kind's publishing configured (a publisher and its credentials)?"""
    publisher = PUBLISHERS.get(kind)
    credentials = settings.WEBCARE_CONNECTOR_CREDENTIALS.get(kind) or {}
    return (
        publisher is not None
        and url_origin(str(credentials.get("base_url") or "")) is not None
        and all(credentials.get(name) for name in publisher.required)
    )
