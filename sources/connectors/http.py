"""HTTP plumbing for connectors: the client, retries, rate limits, redaction."""

from __future__ import annotations

import email.utils
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from webcare import outbound

logger = logging.getLogger(__name__)

USER_AGENT = "webcare/1.0 (+https://github.com/webcare)"
RETRY_STATUSES = frozenset({500, 502, 503, 504})
MAX_REDIRECTS = 5
# Query parameters that carry credentials (YouTube key, Graph access_token).
_SECRET_PARAMS = re.compile(
    r"([?&](?:key|access_token|token|client_secret|api_key|appsecret_proof)=)[^&#\s]*",
    re.IGNORECASE,
)


class ConnectorError(Exception):
    """A permanent failure (bad credentials, bad configuration, 4xx).

    The message is safe to show to staff: it never holds a credential.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TransientError(ConnectorError):
    """A failure worth retrying later: 429, 5xx, timeouts, cut-off bodies."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


@dataclass
class RetryPolicy:
    """How often and how long to retry within one request.

    Waits longer than `max_wait` are not slept: a TransientError carrying
    retry_after is raised, so the Celery task retries later instead of
    holding a worker.
    """

    attempts: int = 3
    backoff: float = 1.0
    max_backoff: float = 30.0
    max_wait: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep)
    clock: Callable[[], float] = field(default=time.time)

    def backoff_for(self, attempt: int) -> float:
        return min(self.max_backoff, self.backoff * (2**attempt))


def build_client(
    *,
    timeout: float = 15.0,
    connect_timeout: float = 5.0,
    user_agent: str = USER_AGENT,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """The one client connectors share: public hosts only (webcare.outbound),
    redirects off unless asked for."""
    return outbound.public_client(
        timeout=httpx.Timeout(timeout, connect=connect_timeout),
        headers={"User-Agent": user_agent, "Accept": "application/json, */*;q=0.5"},
        transport=transport,
    )


def redact_url(url: str | httpx.URL) -> str:
    return _SECRET_PARAMS.sub(r"\1[redacted]", str(url))


class _RedactRequestLog(logging.Filter):
    """httpx logs every request's full URL at INFO, with the YouTube key or Graph
    access_token in its query: the log gets the URL with those redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_url(record.getMessage())
        record.args = None
        return True


_httpx_logger = logging.getLogger("httpx")
if not any(isinstance(f, _RedactRequestLog) for f in _httpx_logger.filters):
    _httpx_logger.addFilter(_RedactRequestLog())


def _seconds_until_http_date(value: str, now: float) -> float | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed.timestamp() - now


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def rate_limit_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until the API will take requests again, per its headers.

    Understands Retry-After (seconds or HTTP date), X's x-rate-limit-reset
    (epoch seconds), Mastodon's x-ratelimit-reset (ISO 8601) and Reddit's
    x-ratelimit-reset (seconds from now, a float string).
    """
    retry_after = headers.get("retry-after")
    if retry_after:
        seconds = _float(retry_after)
        if seconds is None:
            seconds = _seconds_until_http_date(retry_after, now)
        if seconds is not None:
            return max(0.0, seconds)
    epoch = _float(headers.get("x-rate-limit-reset"))
    if epoch is not None:
        return max(0.0, epoch - now)
    reset = headers.get("x-ratelimit-reset")
    if reset:
        seconds = _float(reset)
        if seconds is not None:
            return max(0.0, seconds)
        try:
            return max(0.0, datetime.fromisoformat(reset).timestamp() - now)
        except ValueError:
            return None
    return None


def quota_exhausted(headers: Mapping[str, str]) -> bool:
    """Did this (successful) answer use the last request of the window?"""
    for name in ("x-rate-limit-remaining", "x-ratelimit-remaining"):
        remaining = _float(headers.get(name))
        if remaining is not None:
            return remaining < 1
    return False


def send(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    data: Mapping[str, Any] | None = None,
    auth: Any = None,
    follow_redirects: bool = False,
    policy: RetryPolicy | None = None,
    label: str = "source",
) -> httpx.Response:
    """One request with bounded retries; returns any non-retryable response.

    Retries timeouts, connection failures, cut-off bodies and 5xx with
    exponential backoff, and 429 after the wait the API asks for. A 4xx
    other than 429 is returned for the caller to judge. With
    `follow_redirects`, a GET follows redirects on its own scheme, host and
    port only: a third party must not send us anywhere else.
    """
    policy = policy or RetryPolicy()
    current = httpx.URL(url)
    for _hop in range(MAX_REDIRECTS + 1):
        response = _send_with_retries(
            client,
            method,
            current,
            params=params,
            headers=headers,
            data=data,
            auth=auth,
            policy=policy,
            label=label,
        )
        location = response.headers.get("location")
        followed = follow_redirects and method == "GET" and response.is_redirect
        if not (followed and location):
            return response
        target = response.url.join(location)
        if outbound.origin(target) != outbound.origin(response.url):
            raise ConnectorError(
                f"{label}: refused to follow a redirect to another host, port or "
                f"scheme ({redact_url(target.copy_with(query=None))}); set the "
                "source's URL to the new address if it moved"
            )
        # The Location carries its own query.
        current, params = target, None
    raise ConnectorError(f"{label}: more than {MAX_REDIRECTS} redirects")


def _send_with_retries(
    client: httpx.Client,
    method: str,
    url: httpx.URL,
    *,
    params: Mapping[str, Any] | None,
    headers: Mapping[str, str] | None,
    data: Mapping[str, Any] | None,
    auth: Any,
    policy: RetryPolicy,
    label: str,
) -> httpx.Response:
    where = redact_url(url.copy_with(query=None))
    last_problem = ""
    for attempt in range(policy.attempts):
        wait: float | None = None
        try:
            response = _send_bounded(
                client,
                method,
                url,
                params=params,
                headers=headers,
                data=data,
                auth=auth,
            )
        except outbound.HostRefused as error:
            raise ConnectorError(f"{label}: {error}") from None
        except outbound.UnreadableResponse as error:
            raise ConnectorError(f"{label}: {error} ({where})") from None
        except httpx.DecodingError:
            raise ConnectorError(
                f"{label}: the answer's compressed body is broken ({where})"
            ) from None
        except outbound.HostUnresolvable as error:
            last_problem = str(error)
        except httpx.TimeoutException:
            last_problem = "timed out"
        except httpx.TransportError as error:
            # Includes a body cut off before its Content-Length.
            last_problem = f"connection failed ({type(error).__name__})"
        else:
            status = response.status_code
            if status == 429:
                wait = rate_limit_wait(response.headers, policy.clock())
                last_problem = "rate limited (429)"
                if wait is not None and wait > policy.max_wait:
                    raise TransientError(
                        f"{label}: rate limited by {where}, retry in {wait:.0f} s",
                        retry_after=wait,
                        status=429,
                    )
            elif status in RETRY_STATUSES:
                # Only Retry-After counts here: X sends its window reset on
                # every answer, which says nothing about a 503.
                retry_after = {"retry-after": response.headers.get("retry-after", "")}
                wait = rate_limit_wait(retry_after, policy.clock())
                last_problem = f"server error ({status})"
            else:
                _respect_quota(response, policy, label, where)
                return response
        if attempt == policy.attempts - 1:
            break
        if wait is None or wait > policy.max_wait:
            wait = policy.backoff_for(attempt)
        logger.info(
            "%s: %s at %s, retrying in %.1f s", label, last_problem, where, wait
        )
        policy.sleep(wait)
    raise TransientError(
        f"{label}: {last_problem} at {where} after {policy.attempts} attempts",
        retry_after=None,
    )


def _send_bounded(
    client: httpx.Client,
    method: str,
    url: httpx.URL,
    *,
    params: Mapping[str, Any] | None,
    headers: Mapping[str, str] | None,
    data: Mapping[str, Any] | None,
    auth: Any,
) -> httpx.Response:
    """Streamed, so that the body is decoded with a cap (WEBCARE_MAX_RESPONSE_BYTES)."""
    request = client.build_request(
        method, url, params=params, headers=headers, data=data
    )
    response = client.send(
        request,
        auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT,
        follow_redirects=False,
        stream=True,
    )
    try:
        return outbound.bounded_response(response)
    finally:
        response.close()


def _respect_quota(
    response: httpx.Response, policy: RetryPolicy, label: str, where: str
) -> None:
    """Before the next request, wait out an exhausted window (or hand it back)."""
    if not quota_exhausted(response.headers):
        return
    wait = rate_limit_wait(response.headers, policy.clock())
    if not wait:
        return
    if wait > policy.max_wait:
        # The response itself is good; the NEXT call would fail. Raising here
        # would drop it, so only remember to sleep what is allowed.
        logger.info("%s: quota used up at %s for %.0f s", label, where, wait)
        return
    policy.sleep(wait)


# --- Writing: one request, never retried here ------------------------------------------


class NotSent(TransientError):
    """The platform certainly did not take the request (no connection was made,
    or it answered 429 or 503): sending it again later makes no duplicate."""


class OutcomeUnknown(ConnectorError):
    """The request may have reached the platform and done its work, but no answer
    came (a timeout or a connection lost after sending, a 500, 502 or 504). It
    must not simply be sent again: whoever sent it first looks whether it exists."""


# Answers after which the platform may well have done the work.
UNKNOWN_STATUSES = frozenset({500, 502, 504})


def send_once(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    json: Any = None,
    data: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    label: str = "platform",
    clock: Callable[[], float] = time.time,
) -> httpx.Response:
    """A write (a post, a message) sent exactly once: no retries, no redirects.

    Returns any answer below 500 other than 429 for the caller to judge; raises
    NotSent when it surely did not arrive, OutcomeUnknown when it may have.
    """
    where = redact_url(httpx.URL(url).copy_with(query=None))
    request = client.build_request(method, url, json=json, data=data, headers=headers)
    try:
        streamed = client.send(request, follow_redirects=False, stream=True)
    except outbound.HostRefused as error:
        raise ConnectorError(f"{label}: {error}") from None
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
        # Includes outbound.HostUnresolvable: nothing left this machine.
        raise NotSent(f"{label}: could not connect to {where} ({error})") from None
    except (httpx.TimeoutException, httpx.TransportError) as error:
        raise OutcomeUnknown(
            f"{label}: no answer from {where} after sending ({type(error).__name__})"
        ) from None
    try:
        response = outbound.bounded_response(streamed)
    except (outbound.UnreadableResponse, httpx.TransportError, httpx.DecodingError):
        raise OutcomeUnknown(
            f"{label}: the answer from {where} was cut off or unreadable"
        ) from None
    finally:
        streamed.close()
    status = response.status_code
    if status in (429, 503):
        wait = rate_limit_wait(response.headers, clock())
        raise NotSent(
            f"{label}: {where} asked to wait ({status})",
            retry_after=wait,
            status=status,
        )
    if status in UNKNOWN_STATUSES:
        raise OutcomeUnknown(f"{label}: {where} answered {status}", status=status)
    return response
