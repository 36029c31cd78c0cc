from pathlib import Path

import pytest

from sources.connectors import RetryPolicy, build_client
from tests.httpserver import LoopbackServer

RECORDINGS = Path(__file__).resolve().parent / "recordings"


def recording(relative: str) -> Path:
    """A response copied into tests/sources/recordings (see ORIGIN.txt)."""
    return RECORDINGS / relative


class Sleeps(list):
    """A sleep function for RetryPolicy that records instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(autouse=True)
def private_hosts_allowed(settings):
    # The loopback server stands in for every platform; the tests of the refusal
    # of internal hosts (test_source_hosts.py) turn this off again.
    settings.WEBCARE_ALLOW_PRIVATE_HOSTS = True


@pytest.fixture
def http_server():
    server = LoopbackServer()
    yield server
    server.close()


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def retry(sleeps):
    # A fixed clock so recorded rate-limit resets give known waits.
    return RetryPolicy(attempts=3, backoff=0.5, max_wait=60, sleep=sleeps)


@pytest.fixture
def client():
    with build_client(timeout=0.3, connect_timeout=0.3) as http_client:
        yield http_client


@pytest.fixture
def connect(http_server, client, retry):
    """Build a connector of a class against the loopback server."""

    def make(connector_class, **kwargs):
        kwargs.setdefault("url", http_server.url)
        kwargs.setdefault("cursor", {})
        kwargs.setdefault("credentials", {})
        kwargs.setdefault("query", "")
        return connector_class(client=client, retry=retry, **kwargs)

    return make
