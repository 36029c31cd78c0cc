"""What bench/faults.py injects faults with: a hostile HTTP server on 127.0.0.1 (feeds,
webhook receivers), a Redis server of its own, and Celery workers it can kill.

Nothing here talks to anything but 127.0.0.1, and nothing stops a server it did not
start: the machine's Redis on 6379 is never touched.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(predicate, *, timeout: float, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


# --- The HTTP server: feeds, hostile answers, webhook receivers ----------------------


def feed_body(prefix: str, count: int) -> bytes:
    """An RSS feed of `count` entries with ids `<prefix>-<n>`."""
    start = datetime.now(UTC) - timedelta(hours=1)
    items = "".join(
        f"<item><guid isPermaLink='false'>{prefix}-{number}</guid>"
        f"<title>Pinpas werkt niet ({prefix} {number})</title>"
        f"<link>https://blog.example.com/{prefix}/{number}</link>"
        f"<description>Bij de bank lukt betalen niet, bericht {number}.</description>"
        f"<pubDate>{format_datetime(start + timedelta(seconds=number))}</pubDate>"
        "</item>"
        for number in range(count)
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>{prefix}</title><link>https://blog.example.com/</link>"
        f"<description>bench</description>{items}</channel></rss>"
    ).encode()


def gzip_bomb(decoded_bytes: int) -> bytes:
    """A gzip stream of `decoded_bytes` zeros (a 230th of that on the wire: level 1,
    which compresses 256 MiB in under a second)."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    parts = [compressor.compress(block) for _ in range(decoded_bytes >> 20)]
    return b"".join(parts) + compressor.flush()


@dataclass
class Route:
    """How one path answers. `mode`: "plain", "endless" (chunked, never ends),
    "trickle" (one byte every two seconds, each well inside a read timeout)."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # before the first answer's headers
    later_delay: float | None = None  # for every later request (None: `delay`)
    mode: str = "plain"


@dataclass
class Hit:
    path: str
    method: str
    at: float
    delivery: str = ""  # X-Webcare-Delivery of a webhook POST


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A client that hangs up (a killed worker, a refused bomb) is expected.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FaultServer:
    """ThreadingHTTPServer on 127.0.0.1 with per-path routes and a request log."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        ).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url + path

    def hits_to(self, prefix: str) -> list[Hit]:
        with self._lock:
            return [hit for hit in self.hits if hit.path.startswith(prefix)]

    def deliveries(self, prefix: str) -> Counter:
        """Webhook POSTs received under `prefix`, per delivery id."""
        return Counter(hit.delivery for hit in self.hits_to(prefix) if hit.delivery)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def handle_one(self) -> None:
                path = self.path.split("?", 1)[0]
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                route = server.routes.get(path) or Route(404, b"no such route")
                with server._lock:
                    earlier = sum(1 for hit in server.hits if hit.path == path)
                    server.hits.append(
                        Hit(
                            path,
                            self.command,
                            time.monotonic(),
                            self.headers.get("X-Webcare-Delivery", ""),
                        )
                    )
                delay = route.delay
                if earlier and route.later_delay is not None:
                    delay = route.later_delay
                time.sleep(delay)
                with contextlib.suppress(ConnectionError):
                    self.answer(route)

            def answer(self, route: Route) -> None:
                self.send_response(route.status)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                if route.mode == "endless":
                    self.send_header("Content-Type", "application/rss+xml")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    chunk = b"<item>" + b"x" * 65_000 + b"</item>"
                    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
                    started = time.monotonic()
                    # Until the client hangs up (or ten minutes, for a bench left
                    # running).
                    while time.monotonic() - started < 600:
                        self.wfile.write(framed)
                    return
                if route.mode == "trickle":
                    self.send_header("Content-Type", "application/rss+xml")
                    self.send_header("Content-Length", "1000000")
                    self.end_headers()
                    started = time.monotonic()
                    while time.monotonic() - started < 600:
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(2)
                    return
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)
                self.wfile.flush()

            do_GET = do_POST = do_HEAD = handle_one

        return Handler


def garbage(size: int, seed: int = 16) -> bytes:
    return random.Random(seed).randbytes(size)


# --- The SMTP server -------------------------------------------------------------------


def mail_server():
    """tests/smtpserver.py's MailServer, slow in one of two ways per recipient.

    For an address with "+accepted" the message is kept as soon as its data arrives
    and the 250 comes `delay` seconds later: a server that queued the mail before
    the client died (a real MTA does). For any other address the server waits first
    and keeps the message only if the client is still there to hear the 250
    (aiosmtpd cancels the handler when the connection drops)."""
    import asyncio
    from email import message_from_bytes

    from tests.smtpserver import MailServer

    class FaultMailServer(MailServer):
        arrived = 0

        async def handle_DATA(self, server, session, envelope):
            self.arrived += 1
            self.receiving.set()
            message = message_from_bytes(envelope.content)
            accepted = any("+accepted@" in r for r in envelope.rcpt_tos)
            if accepted:
                self.messages.append(message)
            await asyncio.sleep(self.delay)
            if not accepted:
                self.messages.append(message)
            return "250 OK"

    return FaultMailServer()


# --- Redis of our own ------------------------------------------------------------------


class OwnRedis:
    """redis-server on a free loopback port, in a directory of its own."""

    def __init__(self, workdir: Path, *, appendonly: bool = False) -> None:
        self.port = free_port()
        self.appendonly = appendonly
        self.directory = workdir / f"redis-{self.port}"
        self.directory.mkdir()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            "redis-server",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.directory),
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
        ]
        if self.appendonly:
            command += ["--appendfsync", "always"]
        with open(self.directory / "redis.log", "ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        if not wait_until(self.ping, timeout=10):
            raise SystemExit(f"redis-server on port {self.port} did not start")

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def ping(self) -> bool:
        try:
            return bool(self.client().ping())
        except Exception:
            return False

    def stop(self) -> None:
        """As an operator's restart does: SHUTDOWN (the AOF, if any, is flushed;
        without persistence everything in memory is gone)."""
        if self.process is None or self.process.poll() is not None:
            return
        # redis-py raises as the connection drops.
        with contextlib.suppress(Exception):
            self.client().shutdown(nosave=not self.appendonly)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def queued(self, queue: str = "celery") -> int:
        return int(self.client().llen(queue))


# --- Celery workers ------------------------------------------------------------------


class Worker:
    """bench/faults_worker.py in a process group of its own, logging to a file."""

    def __init__(
        self,
        name: str,
        environment: dict,
        workdir: Path,
        *,
        concurrency: int = 2,
        queues: str = "",
    ) -> None:
        self.name = name
        # Stopped by whoever started it, not at the end of the scenario in front.
        self.background = False
        self.log = workdir / f"worker-{name}.log"
        command = [
            sys.executable,
            str(ROOT / "bench" / "faults_worker.py"),
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            f"--queues={queues or f'celery,faults-{name}'}",
            f"--hostname={name}@faults",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.peak_kb: dict[int, int] = {}

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> None:
        ready = wait_until(
            lambda: " ready." in self.text() or self.process.poll() is not None,
            timeout=timeout,
        )
        if not ready or self.process.poll() is not None:
            raise SystemExit(
                f"worker {self.name} did not start:\n{self.text()[-3000:]}"
            )

    def alive(self) -> bool:
        return self.process.poll() is None

    def pids(self) -> list[int]:
        """The worker and its pool processes (its process group)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.process.pid:  # the process group
                pids.append(int(entry.name))
        return pids

    def sample_memory(self) -> None:
        """Each process's peak resident set (VmHWM) so far, kept past its exit."""
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peak = int(line.split()[1])
                    self.peak_kb[pid] = max(self.peak_kb.get(pid, 0), peak)

    def peak_mb(self) -> float:
        self.sample_memory()
        return round(max(self.peak_kb.values(), default=0) / 1024, 1)

    def kill(self) -> None:
        """SIGKILL to the worker and every pool process at once: a node lost."""
        self.sample_memory()
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """A warm shutdown (SIGTERM to the main process: running tasks finish), as a
        deploy does."""
        if not self.alive():
            return
        self.sample_memory()
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
