"""Publishing: replies published exactly once through fakes of Mastodon and Discourse
on 127.0.0.1 that drop connections and ask to wait (issue 12).

    .venv/bin/python bench/publish.py [--replies 1000] [--short] [--threads 4]

Never touches the database it is pointed at: with a PostgreSQL DATABASE_URL it creates
(and afterwards drops) a database of the same name with `_publish` appended; otherwise
an SQLite file in a temporary directory. It migrates, makes one case per reply (a
mention on Mastodon or in a Discourse topic, a tenth of them answered privately) and
queues every reply, as `case_reply(publish=True)` does. The fakes take a share of the
writes and then drop the connection without an answer (`--drop-after`), drop a share
before taking it (`--drop-before`) and answer a share with 429 and Retry-After 1 s
(`--rate-limit`). The application's own services do the rest: `reply_publish` for
every reply (each delivered twice on PostgreSQL, so `--threads` threads race on the
claim), then, as beat's `publish_due_replies` does, `replies_publishing_sweep` every
quarter second hands due replies to `reply_publish` and unconfirmed ones to
`reply_reconcile`, until every reply is settled (published, failed, or unconfirmed
and left to the agent in words) or `--timeout` passes.

Waiting for the platform to show a post (FIRST_CHECK_AFTER, 20 s) and the checks'
backoff (30 s and more) are shortened in this process only: the fakes show a post at
once, and the code paths are production's.

What counts:
- duplicates: posts on the fakes beyond one per reply (each reply's text carries
  its own marker);
- lost: a reply marked published whose post is not on the platform (or is another
  reply's), or a reply neither published, failed nor left unconfirmed with a message;
- unsettled: replies still queued, publishing or waiting for a check at the end.
Exit status 1 when anything was duplicated, lost or left unsettled. The last line is
one JSON object.

`--follow-ups SHARE` adds a second reply, a minute later in the agent's time, to the
same post for that share of the Discourse cases (off by default: see the report of
issue 12 on Discourse's look-up by topic and post number).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.owndb import drop_database, own_database  # noqa: E402

MARKER = re.compile(r"\[w(\d+)\]")
SWEEP_EVERY = 0.25  # seconds; beat runs publish_due_replies every minute
DISCOURSE_USERNAME = "webcare_bank"  # as FakeDiscourse checks
DISCOURSE_KEY = "disc-key"


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=1000, help="replies to publish")
    parser.add_argument("--short", action="store_true", help="100 replies")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="worker threads (default 4 on PostgreSQL; 0, in the main thread, on "
        "SQLite)",
    )
    parser.add_argument("--drop-after", type=float, default=0.10, help="share")
    parser.add_argument("--drop-before", type=float, default=0.05, help="share")
    parser.add_argument("--rate-limit", type=float, default=0.05, help="share")
    parser.add_argument("--retry-after", type=int, default=1, help="429's seconds")
    parser.add_argument("--private", type=float, default=0.10, help="share private")
    parser.add_argument("--follow-ups", type=float, default=0.0, help="see above")
    parser.add_argument("--timeout", type=float, default=300, help="seconds at most")
    arguments = parser.parse_args()
    if arguments.short:
        arguments.replies = 100
    return arguments


# --- The database -------------------------------------------------------------------


def setup_django(database_url: str, mastodon, discourse) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="webcare.settings",
        DATABASE_URL=database_url,
        DEBUG="true",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        LOG_LEVEL="ERROR",
        # The fakes are on 127.0.0.1, which production refuses.
        WEBCARE_ALLOW_PRIVATE_HOSTS="true",
        MASTODON_ACCESS_TOKEN="masto-token",  # noqa: S106 (a fake's)
        MASTODON_API_BASE_URL=mastodon.url,
        DISCOURSE_API_KEY=DISCOURSE_KEY,
        DISCOURSE_API_USERNAME=DISCOURSE_USERNAME,
        DISCOURSE_API_BASE_URL=discourse.url,
    )
    # No broker: nothing may land in a shared queue (a webhook would run eagerly).
    for name in ("CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER", "CACHE_URL"):
        os.environ.pop(name, None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def shorten_waits() -> None:
    """The fakes show a post at once: look for it after a fifth of a second, and
    look again soon, instead of after 20 s and 30 s, 60 s, ..."""
    from cases.services import publishing

    publishing.FIRST_CHECK_AFTER = timedelta(seconds=0.2)
    publishing._backoff = lambda attempt: timedelta(seconds=0.2 * max(1, attempt))


# --- Data ---------------------------------------------------------------------------


def seed(
    count: int,
    *,
    mastodon_url: str,
    discourse_url: str,
    private: float,
    follow_ups: float,
) -> dict[int, int]:
    """One case per reply, alternately on Mastodon and in a Discourse topic of its
    own, each reply queued; {reply id: marker}."""
    import random

    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from cases.models import Case, CaseStatus, PublishStatus, Reply, Team
    from sources.models import Author, Mention, Source, SourceKind

    rng = random.Random(12)
    now = timezone.now()
    with transaction.atomic():
        team = Team.objects.create(name="Publish bench")
        agent = get_user_model().objects.create(
            username="publish-bench", first_name="Anna", is_staff=True
        )
        sources = {
            SourceKind.MASTODON: Source.objects.create(
                name="Mastodon", kind=SourceKind.MASTODON, url=mastodon_url
            ),
            SourceKind.DISCOURSE: Source.objects.create(
                name="Forum", kind=SourceKind.DISCOURSE, url=discourse_url
            ),
        }
        kinds = [
            SourceKind.MASTODON if number % 2 == 0 else SourceKind.DISCOURSE
            for number in range(count)
        ]
        authors = Author.objects.bulk_create(
            Author(
                platform=kind,
                platform_id=f"bench-{number}",
                handle=f"klant{number}"
                + ("@mastodon.social" if number % 2 == 0 else ""),
            )
            for number, kind in enumerate(kinds)
        )
        cases = Case.objects.bulk_create(
            Case(
                subject=f"Pinpas {number}",
                status=CaseStatus.OPEN,
                team=team,
                customer=author,
                channel=kind,
            )
            for number, (kind, author) in enumerate(zip(kinds, authors, strict=True))
        )
        mentions = []
        for number, (kind, author, case) in enumerate(
            zip(kinds, authors, cases, strict=True)
        ):
            if kind == SourceKind.MASTODON:
                external_id = str(113000000 + number)
                mentions.append(
                    Mention(
                        source=sources[kind],
                        external_id=external_id,
                        url=f"{mastodon_url}/@{author.handle}/{external_id}",
                        author=author,
                        text="Mijn pinpas doet het niet",
                        conversation_key=f"mastodon:{external_id}",
                        case=case,
                    )
                )
            else:
                topic = 2000 + number
                mentions.append(
                    Mention(
                        source=sources[kind],
                        external_id=str(500000 + number),
                        url=f"{discourse_url}/t/pinpas-kwijt/{topic}/3",
                        author=author,
                        text="Pinpas kwijt, wat nu?",
                        conversation_key=f"discourse:{topic}",
                        raw={"post_number": 3, "topic_id": topic},
                        case=case,
                    )
                )
        mentions = Mention.objects.bulk_create(mentions)
        rows = []
        for kind, case, mention in zip(kinds, cases, mentions, strict=True):
            rows.append((kind, case, mention, rng.random() < private))
            if kind == SourceKind.DISCOURSE and rng.random() < follow_ups:
                rows.append((kind, case, mention, False))
        replies = Reply.objects.bulk_create(
            Reply(
                case=case,
                agent=agent,
                in_reply_to=mention,
                channel=kind,
                is_private=is_private,
                text=f"Vervelend! Stuur je ons een DM met je postcode? [w{marker}] ^Anna",
                signature="Anna",
                sent_at=now,
                publish_status=PublishStatus.QUEUED,
                publish_due_at=now,
            )
            for marker, (kind, case, mention, is_private) in enumerate(rows)
        )
    return {reply.pk: marker for marker, reply in enumerate(replies)}


# --- The run ------------------------------------------------------------------------


class Driver:
    """The tasks' function calls, from a queue, in `threads` threads (or the main
    thread), fed by the sweep as beat's publish_due_replies feeds Celery."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.queue: queue.Queue = queue.Queue()
        self.pending: Counter = Counter()  # (task, id) queued or running
        self.outcomes: Counter = Counter()
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.sweeps = 0
        self.lapsed = 0

    def put(self, task: str, reply_id: int) -> None:
        with self.lock:
            self.pending[task, reply_id] += 1
        self.queue.put((task, reply_id))

    def run_one(self, task: str, reply_id: int) -> None:
        from cases.services.publishing import reply_publish, reply_reconcile

        call = reply_publish if task == "publish" else reply_reconcile
        try:
            status = call(reply_id).status
        except Exception as error:  # a task that raises is a finding, not a crash
            status = "error"
            self.errors.append(f"{task} {reply_id}: {type(error).__name__}: {error}")
        with self.lock:
            self.outcomes[task, status] += 1
            self.pending[task, reply_id] -= 1
            if self.pending[task, reply_id] <= 0:
                del self.pending[task, reply_id]

    def work(self) -> None:
        from django.db import connection

        try:
            while not self.stopping.is_set():
                try:
                    task, reply_id = self.queue.get(timeout=0.1)
                except queue.Empty:
                    continue
                self.run_one(task, reply_id)
        finally:
            connection.close()

    def drain(self) -> None:
        while True:
            try:
                task, reply_id = self.queue.get_nowait()
            except queue.Empty:
                return
            self.run_one(task, reply_id)

    def sweep(self) -> None:
        from cases.services.publishing import replies_publishing_sweep

        report = replies_publishing_sweep()
        self.sweeps += 1
        self.lapsed += report.lapsed
        for task, ids in (("publish", report.publish), ("reconcile", report.check)):
            for reply_id in ids:
                # Beat would queue it again each minute; one copy in flight is enough.
                if (task, reply_id) not in self.pending:
                    self.put(task, reply_id)


def unsettled_count() -> int:
    from cases.models import PublishStatus, Reply

    return Reply.objects.filter(
        publish_status__in=[
            PublishStatus.QUEUED,
            PublishStatus.PUBLISHING,
            PublishStatus.UNCONFIRMED,
        ],
        publish_due_at__isnull=False,
    ).count()


def publish_all(
    driver: Driver, reply_ids: list[int], *, twice: bool, timeout: float
) -> float:
    """Every reply queued (twice: a redelivered task), then sweeps until all are
    settled; the seconds it took."""
    started = time.monotonic()
    for reply_id in reply_ids:
        driver.put("publish", reply_id)
        if twice:
            driver.put("publish", reply_id)
    threads = [
        threading.Thread(target=driver.work, daemon=True) for _ in range(driver.threads)
    ]
    for thread in threads:
        thread.start()
    deadline = started + timeout
    while time.monotonic() < deadline:
        if not threads:
            driver.drain()
        else:
            time.sleep(SWEEP_EVERY)
        with driver.lock:
            idle = not driver.pending
        if idle and unsettled_count() == 0:
            break
        driver.sweep()
        if not threads and driver.queue.empty():
            time.sleep(SWEEP_EVERY)
    elapsed = time.monotonic() - started
    driver.stopping.set()
    for thread in threads:
        thread.join(timeout=30)
    return elapsed


# --- Counting -----------------------------------------------------------------------


def platform_markers(mastodon, discourse) -> tuple[Counter, dict[int, set[str]], int]:
    """Posts per reply marker, each marker's post ids (per platform), and the posts
    that carry no marker."""
    per_marker: Counter = Counter()
    ids: dict[int, set[str]] = {}
    strays = 0
    posts = [(post["id"], post["content"]) for post in mastodon.posts] + [
        (post["id"], post["raw"]) for post in discourse.posts
    ]
    for post_id, text in posts:
        found = MARKER.search(str(text or ""))
        if found is None:
            strays += 1
            continue
        marker = int(found.group(1))
        per_marker[marker] += 1
        ids.setdefault(marker, set()).add(str(post_id))
    return per_marker, ids, strays


def count(markers: dict[int, int], mastodon, discourse) -> dict:
    from cases.models import PublishStatus, Reply

    per_marker, ids, strays = platform_markers(mastodon, discourse)
    figures = Counter()
    figures["duplicates"] = strays + sum(max(n - 1, 0) for n in per_marker.values())
    figures["lost"] = 0
    figures["unsettled"] = 0
    findings = []
    for reply in Reply.objects.filter(pk__in=list(markers)):
        marker = markers[reply.pk]
        status = reply.publish_status
        figures[f"status_{status}"] += 1
        if status == PublishStatus.PUBLISHED:
            if reply.external_id not in ids.get(marker, set()):
                figures["lost"] += 1
                findings.append(
                    f"reply {reply.pk} published as post {reply.external_id}, which "
                    f"is not its own (its posts: {sorted(ids.get(marker, []))})"
                )
        elif status == PublishStatus.FAILED:
            pass
        elif status == PublishStatus.UNCONFIRMED and reply.publish_due_at is None:
            figures["left_to_agent"] += 1
            if not reply.publish_error:
                figures["lost"] += 1
                findings.append(f"reply {reply.pk} unconfirmed without a message")
        elif status in (
            PublishStatus.QUEUED,
            PublishStatus.PUBLISHING,
            PublishStatus.UNCONFIRMED,
        ):
            figures["unsettled"] += 1
        else:
            figures["lost"] += 1
            findings.append(f"reply {reply.pk} ended {status}")
        if status != PublishStatus.PUBLISHED and per_marker.get(marker):
            # On the platform but not recorded so: the agent is told to check.
            figures["posted_not_recorded"] += 1
    return {"figures": figures, "findings": findings}


def main() -> None:
    arguments = parse_arguments()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    from tests.fakeplatforms import FakeDiscourse, FakeMastodon

    workdir = Path(tempfile.mkdtemp(prefix="webcare-publish-"))
    database_url, database_name = own_database("publish", sqlite_dir=workdir)
    postgres = bool(database_name)
    threads = arguments.threads
    if threads is None:
        threads = 4 if postgres else 0
    mastodon, discourse = FakeMastodon(), FakeDiscourse()
    for platform in (mastodon, discourse):
        platform.shares = {
            "accept_then_drop": arguments.drop_after,
            "drop": arguments.drop_before,
            "rate_limit": arguments.rate_limit,
        }
        platform.retry_after = str(arguments.retry_after)
    try:
        began = time.monotonic()
        setup_django(database_url, mastodon, discourse)
        shorten_waits()
        markers = seed(
            arguments.replies,
            mastodon_url=mastodon.url,
            discourse_url=discourse.url,
            private=arguments.private,
            follow_ups=arguments.follow_ups,
        )
        print(
            f"database {database_name or 'sqlite'}: {len(markers)} replies queued in "
            f"{time.monotonic() - began:.1f} s; {threads or 'no'} worker thread(s)"
            f"{', each reply delivered twice' if threads > 1 else ''}",
            flush=True,
        )
        driver = Driver(threads)
        elapsed = publish_all(
            driver, list(markers), twice=threads > 1, timeout=arguments.timeout
        )
        counted = count(markers, mastodon, discourse)
        from django.db import connections

        connections.close_all()
    finally:
        mastodon.close()
        discourse.close()
        if database_name:
            drop_database(database_url, database_name)
        shutil.rmtree(workdir, ignore_errors=True)

    figures = counted["figures"]
    modes = mastodon.modes + discourse.modes
    outcomes = driver.outcomes
    posts = len(mastodon.posts) + len(discourse.posts)
    result = {
        "bench": "publish",
        "database": "postgresql" if postgres else "sqlite",
        "threads": threads,
        "replies": len(markers),
        "seconds": round(elapsed, 1),
        "replies_per_s": round(len(markers) / elapsed, 1) if elapsed else 0.0,
        "duplicates": figures["duplicates"],
        "lost": figures["lost"],
        "unsettled": figures["unsettled"],
        "dropped_after_accept": modes["accept_then_drop"],
        "dropped_before": modes["drop"],
        "rate_limited": modes["rate_limit"],
        "reconciled": outcomes["reconcile", "published"],
        "sent_again": outcomes["reconcile", "queued"],
        "claims_lost": outcomes["publish", "not_due"],
        "published": figures["status_published"],
        "failed": figures["status_failed"],
        "left_to_agent": figures["left_to_agent"],
        "posted_not_recorded": figures["posted_not_recorded"],
        "platform_posts": posts,
        "platform_writes": sum(modes.values()),
        "sweeps": driver.sweeps,
        "task_errors": len(driver.errors),
    }
    print(
        f"{result['replies']} replies ({mastodon.modes.total()} writes to Mastodon, "
        f"{discourse.modes.total()} to Discourse) settled in {result['seconds']} s: "
        f"{result['replies_per_s']} replies/s with {threads or 'no'} worker thread(s)"
    )
    print(
        f"faults: {result['dropped_after_accept']} taken then dropped, "
        f"{result['dropped_before']} dropped before, {result['rate_limited']} asked "
        f"to wait {arguments.retry_after} s"
    )
    print(
        f"unconfirmed replies found on the platform: {result['reconciled']}; not "
        f"found and sent again: {result['sent_again']}; claims lost to another "
        f"delivery: {result['claims_lost']}; {result['sweeps']} sweeps"
    )
    print(
        f"published {result['published']}, failed {result['failed']}, left to the "
        f"agent {result['left_to_agent']}; {posts} posts on the platforms"
    )
    print(
        f"duplicates {result['duplicates']}, lost {result['lost']}, unsettled "
        f"{result['unsettled']}, task errors {result['task_errors']}"
    )
    for line in counted["findings"][:10] + driver.errors[:10]:
        print(f"  {line}")
    print(json.dumps(result))
    if result["duplicates"] or result["lost"] or result["unsettled"] or driver.errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
