"""Requests to URLs that staff or API clients choose (sources, webhooks).

Such a URL could make our workers call 127.0.0.1 (Redis), the cloud metadata
service or the office network, and hand the answer back in an error message. So:
public hosts only, checked when the URL is saved and again on every connection
(DNS may change), connecting to the very address that was checked; answers are
read with a cap on decoded bytes and on time, and only a short clean excerpt of an
error kept.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
import ssl
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from django.conf import settings
from django.utils.translation import gettext as _

DEFAULT_PORTS = {"http": 80, "https": 443}
# Only what read_body can decode in bounded steps: no br, no zstd.
ACCEPT_ENCODING = "gzip, deflate"
EXCERPT_CHARS = 200
RAW_SLACK = 64 * 1024
_NOT_TEXT = re.compile(r"[^\x20-\x7e\u00a0-\ud7ff\ue000-\ufffd]+")
# NAT64 (RFC 6052) carries an IPv4 address in its last 32 bits.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class HostRefused(Exception):
    """The host is, or resolves to, an address that is not public."""


class HostUnresolvable(httpx.ConnectError):
    """No address for the host (yet): a connection error, worth retrying."""


class UnreadableResponse(Exception):
    """An answer too large once decoded, too slow to arrive, or in an encoding we
    did not ask for."""


def private_hosts_allowed() -> bool:
    # Read per call: tests and closed networks turn it on.
    return bool(settings.WEBCARE_ALLOW_PRIVATE_HOSTS)


def is_public_address(address: str) -> bool:
    """Globally reachable unicast, also for every IPv4 address an IPv6 one carries
    (mapped, 6to4, Teredo, NAT64), which may lead back inside."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            candidates = [ip.ipv4_mapped]
        if ip.sixtofour is not None:
            candidates.append(ip.sixtofour)
        if ip.teredo is not None:
            candidates.extend(ip.teredo)
        if ip in _NAT64:
            candidates.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    # is_global is False for loopback, private, link-local, CGNAT (100.64/10),
    # unspecified and most reserved ranges; some multicast ranges count as global.
    return all(
        c.is_global and not (c.is_multicast or c.is_reserved or c.is_unspecified)
        for c in candidates
    )


def resolve(host: str, port: int) -> list[str]:
    """The host's addresses in the resolver's order (an IP literal is itself)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise HostUnresolvable(
            _("%(host)s does not resolve") % {"host": host}
        ) from error
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def checked_addresses(host: str, port: int) -> list[str]:
    """The addresses to connect to; HostRefused if any is not public (a name with
    one internal address is not trusted with the others)."""
    addresses = resolve(host, port)
    if not private_hosts_allowed() and not all(map(is_public_address, addresses)):
        raise HostRefused(
            _(
                "The host %(host)s is or resolves to an internal address; "
                "only public hosts are allowed."
            )
            % {"host": host}
        )
    return addresses


def url_problem(url: str) -> str | None:
    """Why a URL must not be saved, or None. A name that does not resolve yet is
    allowed: every request resolves and checks again."""
    try:
        parsed = httpx.URL((url or "").strip())
    except (httpx.InvalidURL, TypeError, ValueError):
        return _("This is not a valid URL.")
    if not parsed.host:
        return None
    port = parsed.port or DEFAULT_PORTS.get(parsed.scheme, 80)
    try:
        checked_addresses(parsed.host, port)
    except HostUnresolvable:
        return None
    except HostRefused as error:
        return str(error)
    return None


def origin(url: httpx.URL) -> tuple[str, str, int]:
    return (url.scheme, url.host, url.port or DEFAULT_PORTS.get(url.scheme, 0))


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle takes megabytes and milliseconds: once per process.
    return httpx.create_ssl_context()


class PublicTransport(httpx.BaseTransport):
    """Resolves each request's host once, refuses non-public addresses and
    connects to the checked address itself: no second lookup that DNS rebinding
    could answer differently. Host header, TLS SNI and certificate check keep the
    name. One pool per name, so a TLS connection made for one name never carries
    a request for another."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._pools: dict[str, httpx.HTTPTransport] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        # The ASCII (IDNA) form: what DNS, SNI and the certificate know.
        host = url.raw_host.decode("ascii")
        addresses = checked_addresses(host, origin(url)[2])
        pool = self._pools.get(host)
        if pool is None:
            options = {"verify": _tls_context(), **self._options}
            pool = self._pools[host] = httpx.HTTPTransport(**options)
        last_error: httpx.ConnectError | None = None
        for address in addresses:
            pinned = httpx.Request(
                request.method,
                url.copy_with(host=address),
                headers=request.headers,  # keeps Host: the name
                stream=request.stream,
                extensions={**request.extensions, "sni_hostname": host},
            )
            try:
                return pool.handle_request(pinned)
            except httpx.ConnectError as error:
                last_error = error
        assert last_error is not None
        raise last_error

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()


def public_client(
    *,
    timeout: httpx.Timeout,
    headers: dict[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """A client for third parties' URLs. No redirects (callers decide), and no
    proxies from the environment: they would bypass the PublicTransport."""
    return httpx.Client(
        timeout=timeout,
        headers={"Accept-Encoding": ACCEPT_ENCODING, **(headers or {})},
        follow_redirects=False,
        transport=transport or PublicTransport(),
        trust_env=False,
    )


def max_response_bytes() -> int:
    return int(settings.WEBCARE_MAX_RESPONSE_BYTES)


def max_response_seconds() -> float:
    return float(settings.WEBCARE_MAX_RESPONSE_SECONDS)


def _decoder(encoding: str) -> Callable[[bytes, int], bytes]:
    """decode(raw, room): at most room bytes of decoded output per call. httpx's
    own decoders inflate a whole chunk at once: a 64 kB chunk of a gzip bomb
    becomes 64 MB in memory."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return lambda raw, room: raw
    if encoding in ("gzip", "x-gzip", "deflate"):
        # 32 + MAX_WBITS: a gzip or zlib header, detected.
        inflate = zlib.decompressobj(zlib.MAX_WBITS | 32)

        def decode(raw: bytes, room: int) -> bytes:
            try:
                piece = inflate.decompress(raw, max(room, 1))
            except zlib.error as error:
                raise httpx.DecodingError(str(error)) from error
            if inflate.eof and inflate.unused_data:
                # Past the end of the stream zlib keeps every further byte, never
                # counted as decoded: an endless trailer would fill the memory.
                raise httpx.DecodingError("data after the end of the compressed body")
            return piece

        return decode
    raise UnreadableResponse(
        _("the answer came in an encoding we did not ask for (%(encoding)s)")
        % {"encoding": encoding[:40]}
    )


def _decoded_chunks(
    response: httpx.Response, limit: int, seconds: float | None = None
) -> Iterator[bytes]:
    if response.is_stream_consumed:
        # Built with its content (MockTransport, tests): already decoded.
        yield response.content[: limit + 1]
        return
    decode = _decoder(response.headers.get("content-encoding", ""))
    seconds = max_response_seconds() if seconds is None else seconds
    # The read timeout counts per read: a byte every few seconds never trips it
    # and would hold the worker until the task's time limit. This bounds the whole
    # body (give or take one read timeout: it is checked as each piece arrives).
    give_up_at = time.monotonic() + seconds
    seen = read = 0
    for raw in response.iter_raw():
        if time.monotonic() > give_up_at:
            raise UnreadableResponse(
                _("the answer took longer than %(seconds)s s")
                % {"seconds": f"{seconds:g}"}
            )
        read += len(raw)
        # One more byte than the limit allows tells "too large" from "just fits".
        piece = decode(raw, limit + 1 - seen)
        seen += len(piece)
        yield piece
        if seen > limit:
            return
        # Compressed bytes count too: a stream of empty deflate blocks inflates to
        # nothing, however long it runs. (Gzip of incompressible data is a little
        # larger than the data: hence the slack.)
        if read > limit + RAW_SLACK:
            raise UnreadableResponse(
                _("the answer is larger than %(limit)s bytes") % {"limit": limit}
            )


def read_body(
    response: httpx.Response,
    *,
    limit: int | None = None,
    seconds: float | None = None,
) -> bytes:
    """The decoded body of a streamed response; UnreadableResponse past `limit`
    bytes (WEBCARE_MAX_RESPONSE_BYTES by default), without holding more, or when
    it takes longer than `seconds` (WEBCARE_MAX_RESPONSE_SECONDS by default)."""
    limit = max_response_bytes() if limit is None else limit
    body = bytearray()
    for piece in _decoded_chunks(response, limit, seconds):
        body += piece
        if len(body) > limit:
            raise UnreadableResponse(
                _("the answer is larger than %(limit)s bytes") % {"limit": limit}
            )
    return bytes(body)


def bounded_response(
    response: httpx.Response,
    *,
    limit: int | None = None,
    seconds: float | None = None,
) -> httpx.Response:
    """A read copy of a streamed response, its body decoded with a cap on size
    and on time."""
    body = read_body(response, limit=limit, seconds=seconds)
    headers = [
        (name, value)
        for name, value in response.headers.multi_items()
        if name.lower() not in ("content-encoding", "content-length")
    ]
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=body,
        request=response.request,
        extensions=response.extensions,
    )


def excerpt(text: str, chars: int = EXCERPT_CHARS) -> str:
    """A third party's text made safe to keep: no control characters, one line,
    at most `chars` characters."""
    return " ".join(_NOT_TEXT.sub(" ", text).split())[:chars]


def error_excerpt(response: httpx.Response) -> str:
    """A short, text-only excerpt of a failed (streamed) response; the rest of
    the body is never read, and never inflated."""
    content_type = response.headers.get("content-type", "").lower()
    if content_type and not (
        content_type.startswith("text/") or "json" in content_type
    ):
        return f"({content_type.split(';')[0].strip()[:50]} body not kept)"
    limit = EXCERPT_CHARS * 4
    try:
        head = b"".join(_decoded_chunks(response, limit))
    except (UnreadableResponse, httpx.DecodingError):
        return "(body not readable)"
    return excerpt(head[:limit].decode("utf-8", "replace"))
