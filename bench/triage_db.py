"""Throughput of mention_triage over stored mentions, routing included.

    DATABASE_URL=postgres://... .venv/bin/python bench/triage_db.py [--count 500]

Stores `count` mentions (texts from bench/data/triage_eval.jsonl) in a source of
its own, triages them one by one as the task does (classify, decide, open or
join cases, escalate), prints mentions per second, then deletes what it made
unless --keep. The database must be migrated. Last line: one JSON object.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webcare.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from cases.models import Case  # noqa: E402
from sources.models import Author, Mention, Source, SourceKind  # noqa: E402
from sources.triage.services import mentions_triage  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--batch", type=int, default=100, help="ids per task call")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    texts = [
        json.loads(line)["text"]
        for line in (ROOT / "bench" / "data" / "triage_eval.jsonl").open()
        if line.strip()
    ]
    stamp = f"{time.time_ns()}"
    source = Source.objects.create(
        name=f"bench triage_db {stamp}",
        kind=SourceKind.MANUAL,
        is_active=False,
    )
    # Few authors and conversations, so joining an open case is measured too.
    authors = Author.objects.bulk_create(
        Author(
            platform=SourceKind.MANUAL, platform_id=f"bench-{stamp}-{n}", handle=f"b{n}"
        )
        for n in range(max(args.count // 5, 1))
    )
    now = timezone.now()
    with transaction.atomic():
        mentions = Mention.objects.bulk_create(
            Mention(
                source=source,
                external_id=f"{stamp}-{n}",
                author=authors[n % len(authors)],
                text=texts[n % len(texts)],
                conversation_key=f"bench:{stamp}:{n % (args.count // 3 or 1)}",
                published_at=now,
                likes=n % 7,
            )
            for n in range(args.count)
        )
    ids = [m.pk for m in mentions]
    if None in ids:  # backends that do not return ids from bulk_create
        ids = list(source.mentions.order_by("id").values_list("id", flat=True))

    started = time.perf_counter()
    totals = {"triaged": 0, "skipped": 0, "failed": 0}
    for start in range(0, len(ids), args.batch):
        result = mentions_triage(mention_ids=ids[start : start + args.batch])
        totals["triaged"] += result.triaged
        totals["skipped"] += result.skipped
        totals["failed"] += result.failed
    elapsed = time.perf_counter() - started

    statuses = {}
    for status in source.mentions.values_list("triage_status", flat=True):
        statuses[status] = statuses.get(status, 0) + 1
    cases = Case.objects.filter(mentions__source=source).distinct().count()
    if not args.keep:
        with transaction.atomic():
            case_ids = list(
                Case.objects.filter(mentions__source=source).values_list(
                    "id", flat=True
                )
            )
            # Audit events are append-only per row; a bulk delete of bench data is
            # the one place they go, with their cases.
            Case.objects.filter(pk__in=case_ids).delete()
            source.mentions.all().delete()
            Author.objects.filter(pk__in=[a.pk for a in authors]).delete()
            source.delete()

    print(
        f"{totals['triaged']} mentions triaged in {elapsed:.2f}s on {connection.vendor}"
    )
    print(f"outcomes: {statuses}; cases opened: {cases}")
    print(
        json.dumps(
            {
                "bench": "triage_db",
                "database": connection.vendor,
                "mentions": args.count,
                "triaged": totals["triaged"],
                "failed": totals["failed"],
                "seconds": round(elapsed, 3),
                "mentions_per_second": round(totals["triaged"] / elapsed, 1)
                if elapsed
                else None,
                "ms_per_mention": round(elapsed / max(totals["triaged"], 1) * 1000, 2),
                "cases": cases,
                "statuses": statuses,
            }
        )
    )


if __name__ == "__main__":
    main()
