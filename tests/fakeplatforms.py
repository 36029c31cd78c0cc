"""Fakes of the platforms' write APIs on 127.0.0.1, for publishing tests.

Each keeps the posts it accepted, answers in the documented shape, and can be told
what to do with the next write: accept it and then drop the connection without an
answer (the case "exactly once" is about), drop it before accepting, refuse it, or
ask to wait (429 with Retry-After), or accept it and answer only after
`slow_write_seconds` ("slow": a worker killed meanwhile never hears it). Benches set
`shares` instead, a share of all writes for each mode drawn at random (seeded).

    platform = FakeMastodon()
    platform.next_writes = ["accept_then_drop"]
    ... publish against platform.url ...
    assert len(platform.posts) == 1
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class FakePlatform:
    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.requests: list[
            tuple[str, str, dict, dict]
        ] = []  # method, path, headers, body
        # What the coming writes do, in turn; then "accept".
        self.next_writes: list[str] = []
        # Once next_writes is empty: each write's mode drawn with these shares
        # ({"accept_then_drop": 0.1, ...}), the rest "accept".
        self.shares: dict[str, float] = {}
        self.random = random.Random(12)
        self.retry_after = "120"  # the 429's Retry-After
        self.slow_write_seconds = 5.0  # how long a "slow" write waits to answer
        self.write_delay = 0.0  # before every answer to a write (a busy platform)
        self.modes: Counter = Counter()  # the writes met, per mode
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def writes(self) -> list[tuple[str, str, dict, dict]]:
        return [r for r in self.requests if r[0] == "POST"]

    def _next_mode(self) -> str:
        if self.next_writes:
            return self.next_writes.pop(0)
        draw = self.random.random()
        for mode, share in self.shares.items():
            if draw < share:
                return mode
            draw -= share
        return "accept"

    # -- what a subclass answers ----------------------------------------------------

    def create(self, path: str, headers: dict, body: dict) -> tuple[int, object]:
        raise NotImplementedError

    def read(self, path: str, query: dict) -> tuple[int, object]:
        raise NotImplementedError

    def _handler(self):
        platform = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _answer(self, status: int, body: object, headers: dict | None = None):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _drop(self):
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

            def do_GET(self):
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                with platform.lock:
                    platform.requests.append(("GET", parts.path, headers, query))
                    status, body = platform.read(parts.path, query)
                self._answer(status, body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                headers = {k.lower(): v for k, v in self.headers.items()}
                path = urlsplit(self.path).path
                with platform.lock:
                    platform.requests.append(("POST", path, headers, body))
                    mode = platform._next_mode()
                    platform.modes[mode] += 1
                    if mode == "drop":
                        status = None
                    elif mode == "rate_limit":
                        status, answer = 429, {"error": "Too many requests"}
                    elif mode == "refuse":
                        status, answer = (
                            422,
                            {"error": "Validation failed: Text is invalid"},
                        )
                    else:
                        status, answer = platform.create(path, headers, body)
                # Outside the lock: other writes and reads go on meanwhile.
                delay = platform.write_delay
                if mode == "slow":
                    delay += platform.slow_write_seconds
                if delay:
                    time.sleep(delay)
                # A client that hung up meanwhile (a killed worker) hears nothing.
                with contextlib.suppress(OSError):
                    if status is None or mode == "accept_then_drop":
                        self._drop()
                    elif status == 429:
                        self._answer(
                            status, answer, {"Retry-After": platform.retry_after}
                        )
                    else:
                        self._answer(status, answer)

        return Handler


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class FakeMastodon(FakePlatform):
    """POST /api/v1/statuses (with Idempotency-Key), GET verify_credentials, an
    account's statuses and /api/v2/search with resolve."""

    account_id = "1091"

    def __init__(self) -> None:
        super().__init__()
        self.by_key: dict[str, dict] = {}
        # Statuses of other instances, found by URL (search with resolve=true).
        self.remote: dict[str, str] = {}

    def create(self, path, headers, body):
        if path != "/api/v1/statuses":
            return 404, {"error": "Record not found"}
        key = headers.get("idempotency-key")
        if key and key in self.by_key:
            return 200, self.by_key[key]
        number = str(110000000000 + len(self.posts))
        status = {
            "id": number,
            "url": f"{self.url}/@webcare/{number}",
            "created_at": _now(),
            "in_reply_to_id": body.get("in_reply_to_id"),
            "visibility": body.get("visibility", "public"),
            # Mastodon answers HTML.
            "content": "<p>"
            + str(body.get("status", "")).replace("&", "&amp;")
            + "</p>",
            "account": {"id": self.account_id, "acct": "webcare"},
        }
        self.posts.append(status)
        if key:
            self.by_key[key] = status
        return 200, status

    def read(self, path, query):
        if path == "/api/v1/accounts/verify_credentials":
            return 200, {"id": self.account_id, "acct": "webcare"}
        if path == f"/api/v1/accounts/{self.account_id}/statuses":
            return 200, list(reversed(self.posts))[: int(query.get("limit", 20))]
        if path == "/api/v2/search":
            found = self.remote.get(query.get("q", ""))
            return 200, {
                "accounts": [],
                "hashtags": [],
                "statuses": [{"id": found, "url": query.get("q")}] if found else [],
            }
        return 404, {"error": "Record not found"}


class FakeDiscourse(FakePlatform):
    """POST /posts.json (replies and private messages), GET /user_actions.json and
    GET /posts/{id}.json."""

    username = "webcare_bank"

    def create(self, path, headers, body):
        if path != "/posts.json":
            return 404, {"errors": ["not found"]}
        if headers.get("api-key") != "disc-key" or headers.get("api-username") != (
            self.username
        ):
            return 403, {
                "errors": ["You are not permitted to view the requested resource."]
            }
        private = body.get("archetype") == "private_message"
        topic_id = 9000 + len(self.posts) if private else int(body["topic_id"])
        post_number = (
            1
            if private
            else 2 + sum(1 for post in self.posts if post["topic_id"] == topic_id)
        )
        post = {
            "id": 70000 + len(self.posts),
            "topic_id": topic_id,
            "post_number": post_number,
            "topic_slug": "pinpas-kwijt",
            "reply_to_post_number": body.get("reply_to_post_number"),
            "raw": body.get("raw"),
            "username": self.username,
            "created_at": _now(),
            "private": private,
            "title": body.get("title", ""),
            "target_recipients": body.get("target_recipients", ""),
        }
        self.posts.append(post)
        return 200, post

    def read(self, path, query):
        if path.startswith("/posts/") and path.endswith(".json"):
            wanted_id = path[len("/posts/") : -len(".json")]
            for post in self.posts:
                if str(post["id"]) == wanted_id:
                    return 200, post
            return 404, {"errors": ["not found"]}
        if path != "/user_actions.json":
            return 404, {"errors": ["not found"]}
        wanted = set(query.get("filter", "").split(","))
        actions = [
            {
                "action_type": 12 if post["private"] else 5,
                "post_id": post["id"],
                "topic_id": post["topic_id"],
                "post_number": post["post_number"],
                "reply_to_post_number": post["reply_to_post_number"],
                "slug": post["topic_slug"],
                "title": post["title"],
                "created_at": post["created_at"],
                "username": post["username"],
            }
            for post in reversed(self.posts)
        ]
        return 200, {
            "user_actions": [a for a in actions if str(a["action_type"]) in wanted]
        }
