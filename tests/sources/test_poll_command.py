from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from sources.models import Mention, Source, SourceKind
from tests.factories import SourceFactory
from tests.sources.conftest import recording

pytestmark = pytest.mark.django_db

SEARCH = "/2/tweets/search/recent"


@pytest.fixture(autouse=True)
def credentials(settings, http_server):
    # The loopback server stands in for the X API: the token's configured host.
    settings.WEBCARE_CONNECTOR_CREDENTIALS = {
        **settings.WEBCARE_CONNECTOR_CREDENTIALS,
        "x_search": {"bearer_token": "command-test-token", "base_url": http_server.url},
    }
    settings.WEBCARE_POLL_HTTP_ATTEMPTS = 1


def poll(*args):
    out = StringIO()
    call_command("poll_sources", *args, stdout=out)
    return out.getvalue()


def test_it_polls_due_sources_and_prints_counts(http_server):
    http_server.add(
        SEARCH, 200, body=recording("twitter/search_tweets_query.json").read_bytes()
    )
    due = SourceFactory(name="X zoekopdracht", url=http_server.url, query="bank")
    SourceFactory(
        name="Not due", url=http_server.url, next_poll_at=timezone.now() + timedelta(1)
    )

    output = poll()

    stored = Mention.objects.filter(source=due).count()
    assert stored > 0
    assert output.strip() == (
        f"source {due.pk} X zoekopdracht: fetched {stored}, new {stored}, "
        "updated 0, failed 0"
    )
    assert len(http_server.requests) == 1


def test_all_polls_every_active_source_and_source_polls_one(http_server):
    http_server.add(SEARCH, 200, body=recording("crafted/x_empty.json").read_bytes())
    later = timezone.now() + timedelta(hours=1)
    one = SourceFactory(url=http_server.url, next_poll_at=later)
    two = SourceFactory(url=http_server.url, next_poll_at=later)
    SourceFactory(url=http_server.url, is_active=False)
    SourceFactory(kind=SourceKind.MANUAL)

    everything = poll("--all")
    just_one = poll("--source", str(two.pk))

    assert f"source {one.pk} " in everything and f"source {two.pk} " in everything
    assert everything.count("fetched 0, new 0") == 2
    assert just_one.startswith(f"source {two.pk} ")
    assert len(http_server.requests) == 3


def test_a_broken_source_is_reported_and_the_others_still_polled(http_server):
    http_server.add(
        SEARCH, 200, body=recording("twitter/search_tweets_query.json").read_bytes()
    )
    # A feed: it has no API host of its own, so it may be on a closed port.
    broken = SourceFactory(
        name="A broken", kind=SourceKind.FEED, url="http://127.0.0.1:9", query=""
    )
    good = SourceFactory(name="B good", url=http_server.url, query="bank")
    out = StringIO()

    with pytest.raises(CommandError, match="1 of 2 sources failed"):
        call_command("poll_sources", stdout=out)

    output = out.getvalue()
    assert f"source {broken.pk} A broken: fetched 0" in output
    assert "error: feed: connection failed" in output
    assert f"source {good.pk} B good: fetched" in output
    assert Mention.objects.filter(source=good).count() > 0
    assert Source.objects.get(pk=broken.pk).consecutive_failures == 1


def test_an_unknown_source_id_is_an_error():
    with pytest.raises(CommandError, match="No source with id 999"):
        poll("--source", "999")


def test_nothing_due_says_so():
    assert poll() == "No source to poll.\n"
