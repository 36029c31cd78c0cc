"""Ingest throughput: mentions per second through the whole storing path.

X-v2-like search pages (JSON bytes, 100 tweets each, with user expansions,
replies, re-delivered overlaps) go through the x_search connector's parser and
then mentions_store (clean, dedupe, upsert authors, thread, store, sample
reach). Triage, which a real store queues after commit, is not measured here
(the JSON says "triage_included": false). The rate is printed beside a plain
bulk_create of the same rows in the same run; the ratio of the two is the figure. Peak Python memory (tracemalloc)
is measured for two run sizes: items stream through in bounded batches, so the
peak must not grow with the number of items.

    createdb -h 127.0.0.1 -U postgres webcare_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/webcare_bench \
        .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/webcare_bench \
        .venv/bin/python bench/ingest.py [--items 100000]

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webcare.settings")
# A bench must not mail anyone, whatever the environment says.
os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from sources.connectors import build_client  # noqa: E402
from sources.connectors.x_search import XSearchConnector  # noqa: E402
from sources.models import Author, Mention, ReachSample, Source, SourceKind  # noqa: E402
from sources.services import mentions as store_module  # noqa: E402
from sources.services import mentions_store  # noqa: E402

# Measured here is storing; triage has its own benches (bench/triage.py,
# bench/triage_db.py) and would run inline without a broker. The JSON line says so
# (triage_included), so the figure is not read as the whole path to a case.
store_module._triage_after_commit = lambda mention_ids: None
TRIAGE_INCLUDED = False

PAGE_SIZE = 100
AUTHORS = 5000
# Each page re-delivers this many tweets of the page before (overlapping polls).
OVERLAP = 5
BENCH_SOURCES = ("bench:ingest", "bench:bulk-insert")
START = datetime(2024, 1, 1, tzinfo=UTC)
WORDS = [
    "@oranjebank",
    "mijn",
    "pinpas",
    "werkt",
    "niet",
    "meer",
    "sinds",
    "gisteren,",
    "wat",
    "nu?",
    "De",
    "app",
    "geeft",
    "een",
    "foutmelding",
    "bij",
    "het",
    "inloggen",
    "en",
    "de",
    "klantenservice",
    "is",
    "onbereikbaar.",
    "Graag",
    "snel",
    "reactie",
    "want",
    "ik",
    "moet",
    "vandaag",
    "betalen.",
]


def tweet_id(n: int) -> str:
    return str(1_700_000_000_000_000_000 + n)


def tweet(n: int) -> dict:
    author = n % AUTHORS
    data = {
        "id": tweet_id(n),
        "author_id": f"7{author:09d}",
        "created_at": (START + timedelta(seconds=n))
        .isoformat()
        .replace("+00:00", ".000Z"),
        "lang": "nl" if n % 5 else "en",
        "text": " ".join(WORDS[(n % 7) :] + [f"#{n}"]) + " &amp; meer",
        "public_metrics": {
            "like_count": n % 40,
            "retweet_count": n % 9,
            "quote_count": n % 3,
            "reply_count": n % 5,
        },
        "conversation_id": tweet_id(n),
    }
    if n > PAGE_SIZE and n % 10 < 3:
        # A reply to an earlier tweet; some without conversation_id, so the
        # parent's conversation is looked up.
        parent = n - PAGE_SIZE - (n % 17)
        data["referenced_tweets"] = [{"type": "replied_to", "id": tweet_id(parent)}]
        if n % 2:
            data.pop("conversation_id")
        else:
            data["conversation_id"] = tweet_id(parent)
    return data


def page(number: int, total: int) -> bytes:
    first = number * PAGE_SIZE
    numbers = list(range(max(0, first - OVERLAP), min(total, first + PAGE_SIZE)))
    tweets = [tweet(n) for n in numbers]
    users = {
        t["author_id"]: {
            "id": t["author_id"],
            "username": f"klant{t['author_id']}",
            "name": f"Klant {t['author_id'][-4:]}",
            "public_metrics": {"followers_count": int(t["author_id"]) % 9000},
        }
        for t in tweets
    }
    return json.dumps(
        {
            "data": tweets[::-1],  # newest first, as X answers
            "includes": {"users": list(users.values())},
            "meta": {"result_count": len(tweets)},
        }
    ).encode()


def pages(total: int) -> Iterator[bytes]:
    for number in range((total + PAGE_SIZE - 1) // PAGE_SIZE):
        yield page(number, total)


def parsed(connector: XSearchConnector, bodies) -> Iterator:
    for body in bodies:
        items, failures = connector._parse(json.loads(body))
        assert not failures, failures
        yield from items


def bench_source(name: str) -> Source:
    source, _ = Source.objects.get_or_create(
        name=name,
        defaults={"kind": SourceKind.X_SEARCH, "query": "bench", "is_active": False},
    )
    return source


def clean() -> None:
    """Remove every row an earlier run left (fast SQL deletes, no cascade walk)."""
    sources = list(Source.objects.filter(name__in=BENCH_SOURCES).values_list("pk"))
    ids = [pk for (pk,) in sources]
    if ids:
        marks = ", ".join(["%s"] * len(ids))
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {ReachSample._meta.db_table} WHERE mention_id IN "
                f"(SELECT id FROM {Mention._meta.db_table} "
                f"WHERE source_id IN ({marks}))",
                ids,
            )
            cursor.execute(
                f"DELETE FROM {Mention._meta.db_table} WHERE source_id IN ({marks})",
                ids,
            )
    Author.objects.filter(
        platform=SourceKind.X_SEARCH, handle__startswith="klant7"
    ).delete()
    Source.objects.filter(pk__in=ids).update(cursor={}, last_item_at=None)


def run_store(connector, total: int, bodies=None) -> tuple[float, int, int]:
    source = bench_source(BENCH_SOURCES[0])
    started = time.perf_counter()
    result = mentions_store(
        source=source, items=parsed(connector, bodies or pages(total))
    )
    elapsed = time.perf_counter() - started
    stored = Mention.objects.filter(source=source).count()
    assert result.failed == 0, result.errors
    assert result.new == stored == total, (result, stored, total)
    return elapsed, result.new, result.unchanged


def run_bulk_insert(connector, total: int, bodies) -> float:
    source = bench_source(BENCH_SOURCES[1])
    rows = [
        Mention(
            source=source,
            external_id=item.external_id,
            url=item.url,
            text=item.text,
            language=item.language,
            published_at=item.published_at,
            in_reply_to=item.in_reply_to,
            conversation_key=f"x_search:{item.conversation_key or item.external_id}",
            likes=item.likes,
            reposts=item.reposts,
            replies=item.replies,
            raw=item.raw,
        )
        for item in {i.external_id: i for i in parsed(connector, bodies)}.values()
    ]
    assert len(rows) == total
    started = time.perf_counter()
    Mention.objects.bulk_create(rows, batch_size=500)
    return time.perf_counter() - started


def peak_mb(connector, total: int) -> float:
    clean()
    gc.collect()
    tracemalloc.start()
    run_store(connector, total)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    total = args.items
    small = total // 2
    # DEBUG keeps a log of every query (SQL text included): not what is measured.
    settings.DEBUG = False
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    with build_client() as client:
        connector = XSearchConnector(
            query="bench",
            url="http://127.0.0.1:9",
            cursor={},
            credentials={"bearer_token": "bench"},
            client=client,
        )
        clean()
        bodies = list(pages(total))  # generated outside the timed part
        delivered = sum(len(json.loads(body)["data"]) for body in bodies)
        elapsed, new, repeated = run_store(connector, total, bodies)
        rate = new / elapsed
        print(
            f"store path: {delivered} items delivered ({repeated} re-delivered), "
            f"{new} mentions in {elapsed:.1f} s: {rate:,.0f} mentions/s"
        )
        threaded = (
            Mention.objects.filter(source__name=BENCH_SOURCES[0])
            .exclude(in_reply_to="")
            .count()
        )
        print(
            f"  replies threaded: {threaded}, authors: "
            f"{Author.objects.filter(handle__startswith='klant7').count()}"
        )
        bulk_elapsed = run_bulk_insert(connector, total, bodies)
        bulk_rate = total / bulk_elapsed
        print(
            f"plain bulk insert of the same rows: {bulk_elapsed:.1f} s: "
            f"{bulk_rate:,.0f} rows/s"
        )
        del bodies
        peak_small = peak_mb(connector, small)
        peak_large = peak_mb(connector, total)
        print(
            f"peak Python memory (tracemalloc): {small} items {peak_small:.1f} MB, "
            f"{total} items {peak_large:.1f} MB"
        )
        clean()
    print(
        json.dumps(
            {
                "bench": "ingest",
                "database": connection.vendor,
                "items": total,
                "items_delivered": delivered,
                "mentions_per_s": round(rate),
                "bulk_insert_per_s": round(bulk_rate),
                "ratio_to_bulk_insert": round(rate / bulk_rate, 3),
                "triage_included": TRIAGE_INCLUDED,
                f"peak_mb_{small // 1000}k": round(peak_small, 1),
                f"peak_mb_{total // 1000}k": round(peak_large, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
