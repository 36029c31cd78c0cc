"""A loopback HTTP server for tests: real sockets, canned answers, a request log.

    server = LoopbackServer()
    server.add("/2/tweets/search/recent", 200, body=b"{...}")
    server.add("/feed.xml", [Answer(500), Answer(200, body=...)])  # in turn
    ... connector.fetch() against server.url ...
    server.requests[0].query["since_id"]

Recorded VCR (YAML) and Betamax (JSON) cassettes can be served as they were
recorded, with gzip bodies decoded and stale Content-Encoding/Length dropped.
"""

from __future__ import annotations

import base64
import gzip
import json
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

# Hop-by-hop or body-describing headers that the server sets itself.
_DROPPED = {"content-encoding", "content-length", "transfer-encoding", "connection"}


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] | list[tuple[str, str]] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (timeouts)
    truncate_to: int | None = None  # announce the full length, send fewer bytes
    # Sent as Content-Encoding with the body as it is (a gzip bomb); recorded
    # headers of that name are dropped because their bodies are stored decoded.
    content_encoding: str = ""
    # Seconds between the body's bytes: each arrives well inside a read timeout.
    trickle: float = 0.0


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    query_lists: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


class LoopbackServer:
    """ThreadingHTTPServer on 127.0.0.1, port chosen by the OS."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Answer]] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(
        self,
        path: str,
        answers: Answer | Iterable[Answer] | int = 200,
        *,
        body: bytes | str | dict | list = b"",
        headers: Mapping[str, str] | None = None,
        method: str = "GET",
    ) -> None:
        """Answer requests for `path` (query ignored) with the given answers in
        turn; the last one repeats. An int status with `body` makes one answer."""
        if isinstance(answers, int):
            answers = Answer(answers, _bytes(body), dict(headers or {}))
        if isinstance(answers, Answer):
            answers = [answers]
        self.routes[(method.upper(), path)] = list(answers)

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next_answer(self, method: str, path: str) -> Answer | None:
        with self._lock:
            answers = self.routes.get((method, path))
            if not answers:
                return None
            return answers.pop(0) if len(answers) > 1 else answers[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                lists = parse_qs(parts.query, keep_blank_values=True)
                with server._lock:
                    server.requests.append(
                        Request(
                            method=self.command,
                            path=parts.path,
                            query={k: v[-1] for k, v in lists.items()},
                            query_lists=lists,
                            headers={k.lower(): v for k, v in self.headers.items()},
                            body=self.rfile.read(length) if length else b"",
                        )
                    )
                answer = server._next_answer(self.command, parts.path)
                if answer is None:
                    answer = Answer(404, b'{"error": "no such route in the test"}')
                if answer.delay:
                    time.sleep(answer.delay)
                self.send_response(answer.status)
                pairs = (
                    answer.headers.items()
                    if isinstance(answer.headers, Mapping)
                    else answer.headers
                )
                for name, value in pairs:
                    if name.lower() not in _DROPPED:
                        self.send_header(name, value)
                if answer.content_encoding:
                    self.send_header("Content-Encoding", answer.content_encoding)
                body = answer.body if answer.status not in (204, 304) else b""
                self.send_header("Content-Length", str(len(body)))
                if answer.truncate_to is not None:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                    body = body[: answer.truncate_to]
                self.end_headers()
                pieces = (
                    [body[i : i + 1] for i in range(len(body))]
                    if answer.trickle
                    else [body]
                )
                try:
                    for piece in pieces:
                        self.wfile.write(piece)
                        self.wfile.flush()
                        time.sleep(answer.trickle)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_GET = do_POST = do_DELETE = do_HEAD = _handle

        return Handler


def _bytes(body: bytes | str | dict | list) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


# -- recorded cassettes ---------------------------------------------------------


@dataclass
class Recorded:
    method: str
    uri: str
    answer: Answer

    @property
    def path(self) -> str:
        return urlsplit(self.uri).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.uri).query, keep_blank_values=True)

    def json(self) -> object:
        return json.loads(self.answer.body)


def _header_pairs(headers: Mapping[str, object]) -> list[tuple[str, str]]:
    pairs = []
    for name, values in headers.items():
        for value in values if isinstance(values, list) else [values]:
            pairs.append((name, str(value)))
    return pairs


def _plain_body(body: bytes, headers: list[tuple[str, str]]) -> bytes:
    # VCR keeps gzip bodies compressed (as !!binary) but some cassettes store
    # them already decoded under the same "content-encoding: gzip" header.
    encoding = {k.lower(): v for k, v in headers}.get("content-encoding", "")
    if "gzip" in encoding.lower() and body[:2] == b"\x1f\x8b":
        return gzip.decompress(body)
    return body


def load_vcr(path: Path) -> list[Recorded]:
    """The interactions of a VCR.py YAML cassette (PyYAML decodes !!binary)."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    recorded = []
    for interaction in data["interactions"]:
        request, response = interaction["request"], interaction["response"]
        raw = response["body"]["string"]
        body = raw if isinstance(raw, bytes) else raw.encode("utf-8")
        headers = _header_pairs(response.get("headers") or {})
        answer = Answer(response["status"]["code"], _plain_body(body, headers), headers)
        recorded.append(Recorded(request["method"], request["uri"], answer))
    return recorded


def load_betamax(path: Path) -> list[Recorded]:
    """The interactions of a Betamax JSON cassette (Reddit's praw uses these)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    recorded = []
    for interaction in data["interactions"]:
        request, response = interaction["request"], interaction["response"]
        stored = response["body"]
        if "base64_string" in stored:
            body = base64.b64decode(stored["base64_string"])
        else:
            body = stored.get("string", "").encode("utf-8")
        headers = _header_pairs(response.get("headers") or {})
        answer = Answer(response["status"]["code"], _plain_body(body, headers), headers)
        recorded.append(Recorded(request["method"], request["uri"], answer))
    return recorded
