"""Faults: kill workers, restart Redis, drop database connections, serve hostile
sources, deliver tasks twice; then count what was lost, duplicated or failed for good.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/webcare \
        .venv/bin/python bench/faults.py [--short] [--keep]

PostgreSQL only (the races and pg_terminate_backend need it; on SQLite it refuses).
It never touches the database it is pointed at: it creates (and afterwards drops)
`<name>_faults`. It starts a redis-server of its own on a free port (the machine's
Redis is never stopped), an HTTP server and an SMTP server on 127.0.0.1, and real
Celery workers (bench/faults_worker.py: production's code with leases of seconds
instead of minutes, so a dead worker's claim runs out while the bench waits). After a
fault, a "beat" of its own sends the periodic sweeps (poll_due_sources,
process_surveys, retry_webhook_deliveries, send_due_notices) every two seconds, as
beat would every minute, until the work is done or a deadline passes.

What counts:
- lost: a feed entry never stored, a survey never recorded sent or never mailed, a
  webhook delivery never delivered, a notice never sent, a reply not published (or
  published as a post that is not its own);
- duplicated: a mention stored twice, a survey recorded sent twice, a second
  delivery row, a reply posted twice on the (fake) Mastodon; and, where no worker died, a second mail or POST;
- failed: work left failed for good, a hostile source not recorded as a failure
  with a backoff, a worker crashed or bloated by a hostile answer.
A second mail or POST after a worker died between the send and its record is the
documented at-least-once (README, "Reliability") and is reported apart as
`at_least_once_repeats` (a survey mail repeats its Message-ID; a webhook its
X-Webcare-Delivery id, on which receivers dedupe).

--short runs kill mid-poll, hostile sources (beside the others, on a queue of their
own) and double delivery: about 45 s on an idle two-core machine, 70 s on a busy one.
The full run adds kill mid-publish: a worker SIGKILLed while a fake Mastodon holds
the reply's post, the claim lapsed by the sweep, the post found by reconcile_reply.
--only NAME runs one scenario (repeatable). Exit status 1 when anything was lost, duplicated or failed. The last line is one
JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.faultkit import (  # noqa: E402
    FaultServer,
    OwnRedis,
    Route,
    Worker,
    feed_body,
    garbage,
    gzip_bomb,
    mail_server,
    wait_until,
)
from bench.owndb import admin_url, drop_database, is_postgres, own_database  # noqa: E402
from tests.fakeplatforms import FakeMastodon  # noqa: E402

SECRET_KEY = "faults-bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105
POLL_LEASE_SECONDS = 6
ENTRIES = 20  # per feed
# A hostile answer may cost a worker process this much resident memory at most.
RSS_BOUND_MB = 400
SWEEPS = {
    "poll": "sources.tasks.poll_due_sources",
    "surveys": "reporting.tasks.process_surveys",
    "webhooks": "cases.webhooks.retry_webhook_deliveries",
    "notices": "webcare.notices.tasks.send_due_notices",
    "publish": "cases.tasks.publish_due_replies",
}
PUBLISH_LEASE_SECONDS = 6  # a reply's publishing claim in the workers (2 min)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--short", action="store_true", help="kill mid-poll, hostile, double delivery"
    )
    parser.add_argument("--keep", action="store_true", help="keep the workers' logs")
    parser.add_argument(
        "--only", action="append", default=[], help="run this scenario (repeatable)"
    )
    return parser.parse_args()


# --- The database -------------------------------------------------------------------


def prepare_database() -> tuple[str, str]:
    if not is_postgres(os.environ.get("DATABASE_URL", "")):
        raise SystemExit(
            "bench/faults.py needs PostgreSQL (DATABASE_URL=postgres://...): it "
            "terminates the workers' database connections and races workers on row "
            "leases, which SQLite cannot show. Nothing was run."
        )
    return own_database("faults")


def terminate_connections(url: str, name: str) -> int:
    """pg_terminate_backend on every connection to the bench's database but ours."""
    import psycopg
    from django.db import connection as ours

    with ours.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        mine = cursor.fetchone()[0]
    with psycopg.connect(admin_url(url), autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> %s AND pid <> pg_backend_pid()",
            (name, mine),
        ).fetchall()
    return sum(1 for (done,) in rows if done)


# --- The run ------------------------------------------------------------------------


@dataclass
class Outcome:
    name: str
    lost: int = 0
    duplicated: int = 0
    failed: int = 0
    repeats: dict[str, int] = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def say(self, text: str) -> None:
        self.lines.append(text)


class Bench:
    """The servers, the workers and the data of one run."""

    def __init__(self, workdir: Path, database: tuple[str, str]) -> None:
        self.workdir = workdir
        self.database_url, self.database_name = database
        self.http = FaultServer()
        self.mastodon = FakeMastodon()
        self.mail = mail_server()
        self.mail.start()
        self.redis = OwnRedis(workdir)
        self.redis.start()
        self.workers: list[Worker] = []
        self.environment = self._environment()

    def _environment(self) -> dict[str, str]:
        environment = {
            key: value
            for key, value in os.environ.items()
            if key
            not in ("CELERY_TASK_ALWAYS_EAGER", "CACHE_URL", "EMAIL_BACKEND", "DEBUG")
        }
        environment.update(
            DJANGO_SETTINGS_MODULE="webcare.settings",
            DATABASE_URL=self.database_url,
            CELERY_BROKER_URL=self.redis.url,
            CELERY_TASK_ALWAYS_EAGER="false",
            # Production's settings: DEBUG off, so mail must go to a real server.
            DEBUG="false",
            SECRET_KEY=SECRET_KEY,
            ALLOWED_HOSTS="127.0.0.1",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(self.mail.port),
            EMAIL_TIMEOUT="10",
            SITE_URL="https://webcare.example.com",
            # Our sources and receivers are on 127.0.0.1, which production refuses.
            WEBCARE_ALLOW_PRIVATE_HOSTS="true",
            # One HTTP attempt per poll: a hostile source fails in one timeout, and
            # the task's own retry (with backoff) is what is measured.
            WEBCARE_POLL_HTTP_ATTEMPTS="1",
            WEBCARE_POLL_LEASE_SECONDS=str(POLL_LEASE_SECONDS),
            # Replies are published to the fake Mastodon on 127.0.0.1.
            MASTODON_ACCESS_TOKEN="masto-token",  # noqa: S106 (a fake's)
            MASTODON_API_BASE_URL=self.mastodon.url,
            FAULTS_PUBLISH_LEASE=str(PUBLISH_LEASE_SECONDS),
            LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
        )
        return environment

    # -- Django in this process --------------------------------------------------------

    def setup_django(self) -> None:
        os.environ.update(self.environment)
        os.environ["LOG_LEVEL"] = "ERROR"
        for name in ("CELERY_TASK_ALWAYS_EAGER", "CACHE_URL", "EMAIL_BACKEND"):
            if name not in self.environment:
                os.environ.pop(name, None)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from cases.models import Team

        self.team = Team.objects.create(name="Faults")

    # -- Workers -----------------------------------------------------------------------

    def start(
        self, name: str, *, concurrency: int = 2, queues: str = "", **overrides: str
    ) -> Worker:
        environment = {**self.environment, **overrides}
        worker = Worker(
            name, environment, self.workdir, concurrency=concurrency, queues=queues
        )
        self.workers.append(worker)
        return worker

    def worker(self, name: str, **options) -> Worker:
        worker = self.start(name, **options)
        worker.wait_ready()
        return worker

    def stop_workers(self) -> None:
        for worker in self.workers:
            if not worker.background:
                worker.stop()

    def flush_broker(self) -> None:
        """Between scenarios: no message of one (a retry due later) reaches the
        next. The hostile sources' own queue is left to them (they may run in the
        background)."""
        if not self.redis.ping():
            return
        client = self.redis.client()
        for key in client.scan_iter():
            if b"hostile" not in key:
                client.delete(key)

    def send(self, task: str, *args, queue: str = "celery", task_id: str = "") -> None:
        from webcare.celery import app

        app.send_task(task, args=list(args), queue=queue, task_id=task_id or None)

    def beat(self, sweeps: list[str], done, *, timeout: float) -> bool:
        """The periodic sweeps every two seconds until `done()`, as beat would."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done():
                return True
            for sweep in sweeps:
                self.send(SWEEPS[sweep])
            wait_until(done, timeout=2.0, step=0.25)
        return bool(done())

    def rss_peak_mb(self) -> float:
        return max((worker.peak_mb() for worker in self.workers), default=0.0)

    # -- Data --------------------------------------------------------------------------

    def sources(self, tag: str, routes: dict[str, Route], *, due: bool = True) -> dict:
        """One feed source per route, on our HTTP server; {name: source}."""
        from django.utils import timezone

        from sources.models import Source, SourceKind

        made = {}
        for name, route in routes.items():
            url = self.http.add(f"/feed/{tag}/{name}", route)
            made[name] = Source.objects.create(
                name=f"{tag} {name}",
                kind=SourceKind.FEED,
                url=url,
                poll_interval=timedelta(hours=1),
                next_poll_at=timezone.now() if due else timezone.now() + timedelta(1),
            )
        return made

    def feed_route(self, tag: str, name: str, **options) -> Route:
        return Route(
            200,
            feed_body(f"{tag}-{name}", ENTRIES),
            {"Content-Type": "application/rss+xml; charset=utf-8"},
            **options,
        )

    def surveys(self, tag: str, count: int, *, accepted: int = 0) -> list[int]:
        """Resolved cases with a survey due now; their ids. The first `accepted`
        go to addresses our SMTP server keeps before it answers (see faultkit)."""
        from django.utils import timezone

        from cases.models import Case
        from reporting.models import Survey, SurveyStatus
        from sources.models import Author, SourceKind

        now = timezone.now()
        ids = []
        for number in range(count):
            customer = Author.objects.create(
                platform=SourceKind.FEED,
                platform_id=f"{tag}-{number}",
                handle=f"{tag}{number}",
                email=f"{tag}-{number}{'+accepted' if number < accepted else ''}"
                "@example.com",
            )
            case = Case.objects.create(
                subject=f"{tag} {number}",
                status="resolved",
                team=self.team,
                customer=customer,
                channel=SourceKind.FEED,
                resolved_at=now - timedelta(days=1),
            )
            survey = Survey.objects.create(
                case=case,
                recipient=customer,
                email=customer.email,
                language="nl",
                status=SurveyStatus.SCHEDULED,
                agent_first_name="Anna",
                subject=case.subject,
                scheduled_for=now - timedelta(minutes=1),
            )
            ids.append(survey.pk)
        return ids

    def webhook(self, tag: str, *, delay: float) -> str:
        """The one active webhook (case.resolved) of a scenario, on our receiver;
        the receiver's path."""
        from webcare.api.auth import api_client_create
        from webcare.api.models import Webhook
        from webcare.api.webhooks import webhook_secret_new

        path = f"/hooks/{tag}"
        url = self.http.add(path, Route(200, b'{"ok": true}', delay=delay))
        client, _token = api_client_create(name=f"CRM {tag}", scopes=["read"])
        Webhook.objects.create(
            client=client,
            url=url,
            events=["case.resolved"],
            secret=webhook_secret_new(),
        )
        return path

    def deliveries(self, tag: str, count: int) -> list[int]:
        """`count` case.resolved events for the active webhook, queued after commit
        as the application queues them; the deliveries' ids."""
        from django.db import transaction

        from webcare.api.models import WebhookDelivery
        from webcare.api.webhooks import webhook_event

        known = set(WebhookDelivery.objects.values_list("pk", flat=True))
        with transaction.atomic():
            for number in range(count):
                webhook_event(event="case.resolved", data={"bench": tag, "n": number})
        return sorted(set(WebhookDelivery.objects.values_list("pk", flat=True)) - known)

    def notices(self, tag: str, count: int) -> list[int]:
        from django.db import transaction

        from webcare.notices.services import notice_queue

        with transaction.atomic():
            return [
                notice_queue(
                    kind="source_health",
                    subject=f"{tag} notice {number}",
                    body="bench",
                    recipients=["team@example.com"],
                    about=f"bench:{tag}:{number}",
                ).pk
                for number in range(count)
            ]

    def retire(self, sources: dict | None = None, *, webhooks: bool = True) -> None:
        """Keep a scenario's sources and webhook out of the next one."""
        from sources.models import Source
        from webcare.api.models import Webhook

        if webhooks:
            Webhook.objects.filter(is_active=True).update(is_active=False)
        if sources:
            Source.objects.filter(pk__in=[s.pk for s in sources.values()]).update(
                is_active=False
            )

    # -- Counting ----------------------------------------------------------------------

    def count_mentions(self, outcome: Outcome, sources: dict) -> None:
        from sources.models import Mention

        for name, source in sources.items():
            expected = {f"{source.name.split()[0]}-{name}-{n}" for n in range(ENTRIES)}
            rows = list(
                Mention.objects.filter(source=source).values_list(
                    "external_id", flat=True
                )
            )
            outcome.lost += len(expected - set(rows))
            outcome.duplicated += len(rows) - len(set(rows))
            outcome.failed += len(set(rows) - expected)  # nothing else was served

    def mails_by_message_id(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for message in list(self.mail.messages):
            key = str(message["Message-ID"] or message["Subject"])
            counts[key] = counts.get(key, 0) + 1
        return counts

    def count_surveys(self, outcome: Outcome, ids: list[int], *, crash: bool) -> None:
        from cases.models import CaseEvent, EventKind
        from reporting.models import Survey, SurveyStatus

        mails = self.mails_by_message_id()
        repeats = 0
        for survey in Survey.objects.filter(pk__in=ids):
            recorded = CaseEvent.objects.filter(
                case_id=survey.case_id, kind=EventKind.SURVEY_SENT
            ).count()
            mailed = mails.get(f"<survey-{survey.pk}-survey@webcare.example.com>", 0)
            if survey.status == SurveyStatus.FAILED:
                outcome.failed += 1
            elif survey.status != SurveyStatus.SENT or recorded == 0 or mailed == 0:
                outcome.lost += 1
            outcome.duplicated += max(recorded - 1, 0)
            if crash:
                repeats += max(mailed - 1, 0)
            else:
                outcome.duplicated += max(mailed - 1, 0)
        outcome.repeats["survey_mails"] = (
            outcome.repeats.get("survey_mails", 0) + repeats
        )

    def count_deliveries(
        self, outcome: Outcome, ids: list[int], path: str, *, crash: bool
    ) -> None:
        from webcare.api.models import DeliveryStatus, WebhookDelivery

        posts = self.http.deliveries(path)
        rows = WebhookDelivery.objects.filter(webhook__url__endswith=path)
        outcome.duplicated += max(rows.count() - len(ids), 0)
        rows = rows.filter(pk__in=ids)
        repeats = 0
        for delivery in rows:
            received = posts.get(str(delivery.pk), 0)
            if delivery.status == DeliveryStatus.FAILED:
                outcome.failed += 1
            elif delivery.status != DeliveryStatus.DELIVERED or received == 0:
                outcome.lost += 1
            if crash:
                repeats += max(received - 1, 0)
            else:
                outcome.duplicated += max(received - 1, 0)
        outcome.repeats["webhook_posts"] = (
            outcome.repeats.get("webhook_posts", 0) + repeats
        )

    def count_notices(self, outcome: Outcome, ids: list[int], *, crash: bool) -> None:
        from webcare.notices.models import Notice, NoticeStatus

        by_subject: dict[str, int] = {}
        for message in list(self.mail.messages):
            subject = str(message["Subject"])
            by_subject[subject] = by_subject.get(subject, 0) + 1
        repeats = 0
        for notice in Notice.objects.filter(pk__in=ids):
            mailed = by_subject.get(notice.subject, 0)
            if notice.status == NoticeStatus.FAILED:
                outcome.failed += 1
            elif notice.status != NoticeStatus.SENT or mailed == 0:
                outcome.lost += 1
            if crash:
                repeats += max(mailed - 1, 0)
            else:
                outcome.duplicated += max(mailed - 1, 0)
        outcome.repeats["notice_mails"] = (
            outcome.repeats.get("notice_mails", 0) + repeats
        )

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.redis.stop()
        self.mail.stop()
        self.http.close()
        self.mastodon.close()


# --- Scenarios ----------------------------------------------------------------------


def all_done_sources(sources: dict):
    from sources.models import Mention, Source

    def done() -> bool:
        ids = [source.pk for source in sources.values()]
        stored = Mention.objects.filter(source_id__in=ids).count()
        settled = Source.objects.filter(
            pk__in=ids, last_success_at__isnull=False, locked_until__isnull=True
        ).count()
        return stored >= ENTRIES * len(ids) and settled == len(ids)

    return done


def surveys_done(ids: list[int]):
    from reporting.models import Survey, SurveyStatus

    return lambda: (
        not Survey.objects.filter(pk__in=ids, status=SurveyStatus.SCHEDULED).exists()
    )


def deliveries_done(ids: list[int]):
    from webcare.api.models import DeliveryStatus, WebhookDelivery

    return lambda: (
        not WebhookDelivery.objects.filter(
            pk__in=ids, status=DeliveryStatus.PENDING
        ).exists()
    )


def notices_done(ids: list[int]):
    from webcare.notices.models import Notice, NoticeStatus

    return lambda: (
        not Notice.objects.filter(pk__in=ids, status=NoticeStatus.PENDING).exists()
    )


def kill_mid_poll(bench: Bench) -> Outcome:
    """Three feeds answer after 3 s; beat's sweep queues their polls; the worker is
    SIGKILLed (with its pool) while two fetches hang; a fresh worker and the sweep
    take over once the poll lease (10 s here) has run out."""
    outcome = Outcome("kill_mid_poll")
    routes = {
        f"feed{n}": bench.feed_route("kill", f"feed{n}", delay=3, later_delay=0.2)
        for n in range(3)
    }
    sources = bench.sources("kill", routes)
    doomed = bench.worker("poll-a")
    bench.send(SWEEPS["poll"])
    wait_until(lambda: len(bench.http.hits_to("/feed/kill/")) >= 2, timeout=20)
    doomed.kill()
    outcome.say(
        f"killed the worker with {len(bench.http.hits_to('/feed/kill/'))} fetches "
        "in flight"
    )
    started = time.monotonic()
    bench.worker("poll-b")
    recovered = bench.beat(["poll"], all_done_sources(sources), timeout=45)
    outcome.figures["recovered_seconds"] = round(time.monotonic() - started, 1)
    outcome.figures["fetches"] = len(bench.http.hits_to("/feed/kill/"))
    bench.count_mentions(outcome, sources)
    outcome.say(
        f"fresh worker + poll_due_sources: {'recovered' if recovered else 'NOT done'}"
        f" in {outcome.figures['recovered_seconds']} s, "
        f"{outcome.figures['fetches']} fetches for 3 feeds; each entry stored "
        f"{'once' if not outcome.duplicated else 'more than once'}"
    )
    bench.retire(sources)
    return outcome


def kill_mid_survey_send(bench: Bench) -> Outcome:
    """Three surveys are due; the SMTP server answers each message after 3 s; the
    worker (two processes) is SIGKILLed while two messages are with the server:
    one the server has already kept (as an MTA that queued it), one it has not."""
    outcome = Outcome("kill_mid_survey_send")
    ids = bench.surveys("killsend", 3, accepted=1)
    bench.mail.delay = 3.0
    arrived = bench.mail.arrived
    doomed = bench.worker("send-a", concurrency=2)
    for survey_id in ids:
        bench.send("reporting.tasks.send_survey", survey_id)
    wait_until(lambda: bench.mail.arrived >= arrived + 2, timeout=20)
    doomed.kill()
    time.sleep(bench.mail.delay)  # the server records what it was given
    bench.mail.delay = 0.3
    started = time.monotonic()
    bench.worker("send-b")
    recovered = bench.beat(["surveys"], surveys_done(ids), timeout=45)
    outcome.figures["recovered_seconds"] = round(time.monotonic() - started, 1)
    bench.count_surveys(outcome, ids, crash=True)
    outcome.say(
        f"killed while the SMTP server held a message; fresh worker + "
        f"process_surveys: {'recovered' if recovered else 'NOT done'} in "
        f"{outcome.figures['recovered_seconds']} s; each survey recorded sent once, "
        f"mailed at least once ({outcome.repeats['survey_mails']} repeated mail(s) "
        "with the same Message-ID: the one the server had kept before the kill)"
    )
    return outcome


def kill_mid_webhook(bench: Bench) -> Outcome:
    """Three deliveries to a receiver that answers after 3 s; the worker is killed
    while it waits for the first answer."""
    outcome = Outcome("kill_mid_webhook")
    doomed = bench.worker("hook-a", concurrency=1)
    path = bench.webhook("killhook", delay=3)
    ids = bench.deliveries("killhook", 3)
    wait_until(lambda: len(bench.http.hits_to(path)) >= 1, timeout=20)
    doomed.kill()
    bench.http.routes[path].delay = 0.2
    started = time.monotonic()
    bench.worker("hook-b")
    recovered = bench.beat(["webhooks"], deliveries_done(ids), timeout=45)
    outcome.figures["recovered_seconds"] = round(time.monotonic() - started, 1)
    bench.count_deliveries(outcome, ids, path, crash=True)
    bench.retire()
    outcome.say(
        f"killed while the receiver held a POST; fresh worker + "
        f"retry_webhook_deliveries: {'recovered' if recovered else 'NOT done'} in "
        f"{outcome.figures['recovered_seconds']} s; each delivery delivered, "
        f"{outcome.repeats['webhook_posts']} repeated POST(s) with the same "
        "X-Webcare-Delivery id (receivers dedupe on it)"
    )
    return outcome


def redis_restart(bench: Bench) -> Outcome:
    """Work is queued behind a slow poll; our Redis (no persistence, as the bench's
    default) is shut down and started again; more work is created while it is down.
    The worker must reconnect by itself and the database's sweeps must re-queue
    what the broker lost. Then, on a second Redis with appendonly, the same queued
    messages are counted before and after a restart."""
    outcome = Outcome("redis_restart")
    worker = bench.worker("redis", concurrency=1)
    sources = bench.sources(
        "redis", {"slow": bench.feed_route("redis", "slow", delay=4, later_delay=0.2)}
    )
    bench.send("sources.tasks.poll_source", sources["slow"].pk)
    path = bench.webhook("redis", delay=0.1)
    deliveries = bench.deliveries("redis", 2)
    surveys = bench.surveys("redis", 2)
    for survey_id in surveys:
        bench.send("reporting.tasks.send_survey", survey_id)
    notices = bench.notices("redis", 2)
    wait_until(lambda: len(bench.http.hits_to("/feed/redis/")) >= 1, timeout=20)
    queued = bench.redis.queued()
    bench.redis.stop()
    outcome.say(f"Redis shut down (no persistence) with {queued} message(s) queued")
    # While it is down: new work commits, its enqueue fails and is only logged.
    started = time.monotonic()
    more_deliveries = bench.deliveries("redisdown", 1)
    more_notices = bench.notices("redisdown", 1)
    outcome.figures["enqueue_while_down_seconds"] = round(time.monotonic() - started, 1)
    time.sleep(2)
    bench.redis.start()
    outcome.figures["queued_after_restart"] = bench.redis.queued()
    deliveries_all = deliveries + more_deliveries
    notices_all = notices + more_notices
    sweep_started = time.monotonic()

    def done() -> bool:
        return (
            all_done_sources(sources)()
            and surveys_done(surveys)()
            and deliveries_done(deliveries_all)()
            and notices_done(notices_all)()
        )

    recovered = bench.beat(["poll", "surveys", "webhooks", "notices"], done, timeout=60)
    outcome.figures["recovered_seconds"] = round(time.monotonic() - sweep_started, 1)
    outcome.figures["same_worker_carried_on"] = worker.alive()
    if not worker.alive():
        outcome.failed += 1
        outcome.say("the worker died with Redis")
    bench.count_mentions(outcome, sources)
    bench.count_surveys(outcome, surveys, crash=True)
    bench.count_deliveries(outcome, deliveries_all, path, crash=True)
    bench.count_notices(outcome, notices_all, crash=True)
    outcome.say(
        f"restarted empty ({outcome.figures['queued_after_restart']} queued); the same "
        f"worker reconnected; sweeps re-queued from the database: "
        f"{'recovered' if recovered else 'NOT done'} in "
        f"{outcome.figures['recovered_seconds']} s (a poll, 2 surveys, 3 deliveries, "
        "3 notices, of which 1 delivery and 1 notice were created while Redis was down)"
    )
    bench.retire(sources)

    # What a Redis with an append-only file keeps of the queue across a restart.
    durable = OwnRedis(bench.workdir, appendonly=True)
    durable.start()
    try:
        from kombu import Connection

        with Connection(durable.url) as connection:
            queue = connection.SimpleQueue("faults-durable")
            for number in range(5):
                queue.put({"n": number})
            queue.close()
        before = durable.queued("faults-durable")
        durable.stop()
        durable.start()
        after = durable.queued("faults-durable")
    finally:
        durable.stop()
    outcome.figures["queued_survive_restart"] = {
        "no_persistence": f"0 of {queued}" if queued else "0 of 0",
        "appendonly": f"{after} of {before}",
    }
    outcome.say(
        f"queued messages surviving a restart: none without persistence; "
        f"{after} of {before} with appendonly yes"
    )
    return outcome


def pg_terminate(bench: Bench) -> Outcome:
    """Polls, surveys and deliveries under way when every database connection of the
    workers is terminated, twice, one second apart."""
    outcome = Outcome("pg_terminate")
    worker = bench.worker("pg", concurrency=2)
    routes = {
        f"feed{n}": bench.feed_route("pg", f"feed{n}", delay=1.5, later_delay=0.2)
        for n in range(2)
    }
    sources = bench.sources("pg", routes)
    bench.mail.delay = 0.5
    surveys = bench.surveys("pg", 3)
    path = bench.webhook("pg", delay=0.5)
    deliveries = bench.deliveries("pg", 3)
    bench.send(SWEEPS["poll"])
    for survey_id in surveys:
        bench.send("reporting.tasks.send_survey", survey_id)
    # Once while the polls fetch, once while a survey mail is with the server.
    bench.mail.receiving.clear()
    wait_until(lambda: len(bench.http.hits_to("/feed/pg/")) >= 1, timeout=20)
    terminated = terminate_connections(bench.database_url, bench.database_name)
    bench.mail.receiving.wait(20)
    terminated += terminate_connections(bench.database_url, bench.database_name)
    outcome.figures["connections_terminated"] = terminated
    started = time.monotonic()

    def done() -> bool:
        return (
            all_done_sources(sources)()
            and surveys_done(surveys)()
            and deliveries_done(deliveries)()
        )

    recovered = bench.beat(["poll", "surveys", "webhooks"], done, timeout=60)
    outcome.figures["recovered_seconds"] = round(time.monotonic() - started, 1)
    log = worker.text()
    outcome.figures["task_errors_recovered"] = log.count("raised unexpected")
    if not worker.alive():
        outcome.failed += 1
    bench.count_mentions(outcome, sources)
    bench.count_surveys(outcome, surveys, crash=True)
    bench.count_deliveries(outcome, deliveries, path, crash=True)
    bench.mail.delay = 0.0
    outcome.say(
        f"terminated {terminated} connection(s) mid-run; the same worker carried on: "
        f"{'recovered' if recovered else 'NOT done'} in "
        f"{outcome.figures['recovered_seconds']} s "
        f"({outcome.figures['task_errors_recovered']} task(s) failed on the dead "
        "connection and were redone by the sweeps)"
    )
    bench.retire(sources)
    return outcome


def hostile_sources(bench: Bench, *, background: bool = False) -> Outcome:
    """Slow beyond the 15 s read timeout, 429 with Retry-After, 500, garbage,
    an endless body, a gzip bomb and a body trickled a byte at a time: each must end as a recorded failure with a
    backoff, no mention stored, no worker lost, memory bounded."""
    outcome = Outcome("hostile_sources")
    rss = {"Content-Type": "application/rss+xml"}
    routes = {
        "slow": Route(200, feed_body("slow", 3), rss, delay=20),
        "rate_limited": Route(429, b"slow down", {"Retry-After": "120"}),
        "server_error": Route(500, b"<html>Internal Server Error</html>"),
        "garbage": Route(200, garbage(256 * 1024), rss),
        "endless": Route(200, mode="endless"),
        "trickle": Route(200, mode="trickle"),
        "gzip_bomb": Route(
            200, gzip_bomb(256 << 20), {**rss, "Content-Encoding": "gzip"}
        ),
    }
    sources = bench.sources("hostile", routes, due=False)
    # Its own queue (it may run beside another scenario) and a lease longer than
    # the slow source's 15 s timeout, so no sweep elsewhere takes its poll over.
    worker = bench.start(
        "hostile",
        concurrency=4,
        queues="faults-hostile",
        WEBCARE_POLL_LEASE_SECONDS="60",
        # A trickled body ends at WEBCARE_MAX_RESPONSE_SECONDS (30 s in production,
        # 5 s here), well inside the task's soft time limit (240 s; 20 s here).
        WEBCARE_MAX_RESPONSE_SECONDS="5",
        FAULTS_POLL_SOFT_TIME_LIMIT="20",
    )
    worker.background = background
    worker.wait_ready()
    try:
        return _hostile_sources(bench, outcome, sources, worker)
    finally:
        worker.stop()
        if background:
            from django.db import connection

            connection.close()


def _hostile_sources(bench: Bench, outcome: Outcome, sources: dict, worker) -> Outcome:
    from django.utils import timezone

    from sources.models import Mention, Source

    worker.sample_memory()
    outcome.figures["worker_rss_idle_mb"] = worker.peak_mb()
    started = timezone.now()
    for source in sources.values():
        bench.send("sources.tasks.poll_source", source.pk, queue="faults-hostile")
    ids = [source.pk for source in sources.values()]

    def settled() -> bool:
        worker.sample_memory()
        return Source.objects.filter(
            pk__in=ids, last_polled_at__gte=started, locked_until__isnull=True
        ).count() == len(ids)

    wait_until(settled, timeout=40, step=0.25)
    now = timezone.now()
    results = {}
    for name, source in sources.items():
        source.refresh_from_db()
        stored = Mention.objects.filter(source=source).count()
        backoff = (
            (source.next_poll_at - now).total_seconds() if source.next_poll_at else 0
        )
        ok = (
            source.last_polled_at is not None
            and source.last_polled_at >= started
            and source.consecutive_failures >= 1
            and bool(source.last_error)
            and source.locked_until is None
            and backoff > 0
            and stored == 0
        )
        if name == "rate_limited" and backoff < 110:
            ok = False  # Retry-After: 120 must be respected
        outcome.failed += 0 if ok else 1
        results[name] = {
            "recorded": ok,
            "error": source.last_error[:120],
            "backoff_s": round(backoff),
            "mentions": stored,
        }
        outcome.say(
            f"{name:13} {'ok ' if ok else 'BAD'} backoff {round(backoff):>5} s, "
            f"{stored} mentions: {source.last_error[:100]}"
        )
    outcome.figures["sources"] = results
    peak = worker.peak_mb()
    outcome.figures["worker_rss_peak_mb"] = peak
    lost_children = worker.text().count("WorkerLostError")
    outcome.figures["worker_processes_lost"] = lost_children
    if not worker.alive() or lost_children or peak > RSS_BOUND_MB:
        outcome.failed += 1
    outcome.say(
        f"worker alive, {lost_children} pool process(es) lost; RSS peak {peak} MB "
        f"(idle {outcome.figures['worker_rss_idle_mb']} MB, bound {RSS_BOUND_MB} MB)"
    )
    bench.retire(sources, webhooks=False)
    return outcome


def double_delivery(bench: Bench) -> Outcome:
    """Two workers. The same poll, survey send, webhook delivery and notice send are
    each queued twice with one task id, one copy to each worker; and one source is
    polled by the second worker after the first one's lease ran out mid-fetch, so
    both fetch the same page and both store it."""
    from sources.models import Source

    outcome = Outcome("double_delivery")
    lease = "4"
    first = bench.start("twin-a", WEBCARE_POLL_LEASE_SECONDS=lease)
    second = bench.start("twin-b", WEBCARE_POLL_LEASE_SECONDS=lease)
    first.wait_ready()
    second.wait_ready()
    sources = bench.sources(
        "twin",
        {
            "at_once": bench.feed_route("twin", "at_once", delay=1.5),
            "overtaken": bench.feed_route(
                "twin", "overtaken", delay=6, later_delay=0.1
            ),
        },
        due=False,
    )
    bench.mail.delay = 1.0
    surveys = bench.surveys("twin", 2)
    # The deliveries' own messages (queued on commit) are the first copies.
    path = bench.webhook("twin", delay=1.0)
    deliveries = bench.deliveries("twin", 2)
    notices = bench.notices("twin", 2)
    for queue in ("faults-twin-a", "faults-twin-b"):
        task_id = f"twin-poll-{sources['at_once'].pk}"
        bench.send(
            "sources.tasks.poll_source",
            sources["at_once"].pk,
            queue=queue,
            task_id=task_id,
        )
        for survey_id in surveys:
            bench.send(
                "reporting.tasks.send_survey",
                survey_id,
                queue=queue,
                task_id=f"twin-survey-{survey_id}",
            )
        for delivery_id in deliveries:
            bench.send(
                "cases.webhooks.deliver_webhook",
                delivery_id,
                queue=queue,
                task_id=f"twin-delivery-{delivery_id}",
            )
        for notice_id in notices:
            bench.send(
                "webcare.notices.tasks.send_notice",
                notice_id,
                queue=queue,
                task_id=f"twin-notice-{notice_id}",
            )
    # The overtaken poll: the first worker's lease (4 s) runs out during its 6 s
    # fetch; the second worker then polls the same source.
    bench.send(
        "sources.tasks.poll_source", sources["overtaken"].pk, queue="faults-twin-a"
    )
    wait_until(lambda: len(bench.http.hits_to("/feed/twin/overtaken")) >= 1, timeout=20)
    time.sleep(int(lease) + 0.5)
    bench.send(
        "sources.tasks.poll_source", sources["overtaken"].pk, queue="faults-twin-b"
    )

    def done() -> bool:
        overtaken = Source.objects.get(pk=sources["overtaken"].pk)
        return (
            all_done_sources(sources)()
            and surveys_done(surveys)()
            and deliveries_done(deliveries)()
            and notices_done(notices)()
            # The first poll has come back from its slow fetch and given up.
            and "lease lost" in first.text() + second.text()
            and overtaken.locked_until is None
        )

    wait_until(done, timeout=40, step=0.25)
    bench.count_mentions(outcome, sources)
    bench.count_surveys(outcome, surveys, crash=False)
    bench.count_deliveries(outcome, deliveries, path, crash=False)
    bench.count_notices(outcome, notices, crash=False)
    fetches = {name: len(bench.http.hits_to(f"/feed/twin/{name}")) for name in sources}
    outcome.figures["fetches"] = fetches
    bench.mail.delay = 0.0
    outcome.say(
        f"same poll twice at once: {fetches['at_once']} fetch; after a lost lease: "
        f"{fetches['overtaken']} fetches of one page, stored once"
    )
    outcome.say(
        "same task id twice for 2 surveys, 2 deliveries, 2 notices: "
        f"{'each sent once' if not outcome.duplicated else 'DUPLICATES'}"
    )
    bench.retire(sources)
    first.stop()
    second.stop()
    return outcome


def queued_reply(bench: Bench, tag: str) -> int:
    """A reply on a Mastodon case, queued for publishing as case_reply(publish=True)
    leaves it (its task is sent by the scenario); its id."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from cases.models import Case, PublishStatus, Reply
    from sources.models import Author, Mention, Source, SourceKind

    platform = bench.mastodon.url
    source = Source.objects.create(
        name=f"{tag} mastodon", kind=SourceKind.MASTODON, url=platform, is_active=False
    )
    author = Author.objects.create(
        platform=SourceKind.MASTODON, platform_id=f"{tag}-1", handle=f"{tag}@example"
    )
    case = Case.objects.create(
        subject=f"{tag} pinpas",
        team=bench.team,
        customer=author,
        channel=SourceKind.MASTODON,
    )
    mention = Mention.objects.create(
        source=source,
        external_id="113999",
        url=f"{platform}/@{tag}/113999",
        author=author,
        text="Mijn pinpas doet het niet",
        conversation_key="mastodon:113999",
        case=case,
    )
    agent, _ = get_user_model().objects.get_or_create(
        username="faults-agent", defaults={"first_name": "Anna", "is_staff": True}
    )
    now = timezone.now()
    reply = Reply.objects.create(
        case=case,
        agent=agent,
        in_reply_to=mention,
        channel=SourceKind.MASTODON,
        text=f"Vervelend! Stuur je ons een DM? ({tag}) ^Anna",
        signature="Anna",
        sent_at=now,
        publish_status=PublishStatus.QUEUED,
        publish_due_at=now,
    )
    return reply.pk


def kill_mid_publish(bench: Bench) -> Outcome:
    """A reply is published to a Mastodon that takes the post and answers only 5 s
    later; the worker is SIGKILLed while it waits. Its claim (6 s here, 2 min in
    production) lapses, beat's publish_due_replies turns the reply unconfirmed, and
    reconcile_reply finds the post among the account's: published, posted once."""
    from cases.models import CaseEvent, EventKind, PublishStatus, Reply

    outcome = Outcome("kill_mid_publish")
    reply_id = queued_reply(bench, "killpub")
    platform = bench.mastodon
    platform.slow_write_seconds = 5.0
    platform.next_writes = ["slow"]
    doomed = bench.worker("publish-a", concurrency=1)
    bench.send("cases.tasks.publish_reply", reply_id)
    taken = wait_until(lambda: len(platform.posts) >= 1, timeout=20, step=0.05)
    doomed.kill()
    claimed = Reply.objects.get(pk=reply_id).publish_status
    outcome.figures["status_after_kill"] = claimed
    if not taken or claimed != PublishStatus.PUBLISHING:
        outcome.failed += 1
        outcome.say(f"the worker was not killed mid-request (reply {claimed})")
    started = time.monotonic()
    bench.worker("publish-b", concurrency=1)

    def done() -> bool:
        return Reply.objects.filter(
            pk=reply_id, publish_status=PublishStatus.PUBLISHED
        ).exists()

    recovered = bench.beat(["publish"], done, timeout=40)
    outcome.figures["recovered_seconds"] = round(time.monotonic() - started, 1)
    reply = Reply.objects.get(pk=reply_id)
    mine = [post for post in platform.posts if "(killpub)" in post["content"]]
    ids = {post["id"] for post in mine}
    lapsed = CaseEvent.objects.filter(
        case_id=reply.case_id, kind=EventKind.REPLY_UNCONFIRMED
    ).exists()
    outcome.figures.update(
        platform_posts=len(mine),
        platform_writes=len(platform.writes()),
        unconfirmed_on_the_way=lapsed,
        status=reply.publish_status,
    )
    outcome.duplicated += max(len(mine) - 1, 0)
    if reply.publish_status != PublishStatus.PUBLISHED or reply.external_id not in ids:
        outcome.lost += 1
    if not lapsed:
        outcome.failed += 1  # it must have gone through unconfirmed, not resent
    outcome.say(
        f"killed while Mastodon held the post ({claimed}); fresh worker + "
        f"publish_due_replies: {'recovered' if recovered else 'NOT done'} in "
        f"{outcome.figures['recovered_seconds']} s (lease {PUBLISH_LEASE_SECONDS} s);"
        f" {'unconfirmed, then found' if lapsed else 'never unconfirmed'}: reply "
        f"{reply.publish_status}, {len(mine)} post(s) from "
        f"{len(platform.writes())} write(s)"
    )
    return outcome


FULL = [
    kill_mid_poll,
    kill_mid_survey_send,
    kill_mid_webhook,
    redis_restart,
    pg_terminate,
    hostile_sources,
    double_delivery,
    kill_mid_publish,
]
# --short runs the hostile sources (15 s of them waiting for a timeout) in the
# background, beside the others: their worker has a queue and a lease of its own.
# kill_mid_publish (15 s more) runs with --only kill_mid_publish.
SHORT = [kill_mid_poll, double_delivery]


def run_scenario(scenario, bench: Bench, **options) -> Outcome:
    began = time.monotonic()
    outcome = scenario(bench, **options)
    outcome.seconds = round(time.monotonic() - began, 1)
    return outcome


def report(outcome: Outcome) -> None:
    print(f"== {outcome.name} ({outcome.seconds} s)", flush=True)
    for line in outcome.lines:
        print(f"   {line}", flush=True)
    print(
        f"   lost {outcome.lost}, duplicated {outcome.duplicated}, "
        f"failed {outcome.failed}",
        flush=True,
    )


def main() -> None:
    arguments = parse_arguments()
    if not shutil.which("redis-server"):
        raise SystemExit("bench/faults.py needs redis-server (Debian: redis-server)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    database = prepare_database()
    workdir = Path(tempfile.mkdtemp(prefix="webcare-faults-"))
    bench = None
    outcomes: list[Outcome] = []
    started = time.monotonic()
    try:
        bench = Bench(workdir, database)
        bench.setup_django()
        print(f"prepared database {database[1]} in {time.monotonic() - started:.1f} s")
        background: list[Outcome] = []
        thread = None
        chosen = SHORT if arguments.short else FULL
        if arguments.only:
            chosen = [s for s in FULL if s.__name__ in arguments.only]
        if arguments.short and not arguments.only:
            thread = threading.Thread(
                target=lambda: background.append(
                    run_scenario(hostile_sources, bench, background=True)
                ),
                daemon=True,
            )
            thread.start()
        for scenario in chosen:
            try:
                outcome = run_scenario(scenario, bench)
            finally:
                bench.stop_workers()
                bench.flush_broker()
            outcomes.append(outcome)
            report(outcome)
        if thread is not None:
            thread.join(timeout=90)
            if not background:
                raise SystemExit("the hostile sources did not finish")
            outcomes.insert(1, background[0])
            report(background[0])
        rss_peak = bench.rss_peak_mb()
    finally:
        if bench is not None:
            bench.close()
        from django.db import connections

        connections.close_all()
        drop_database(database[0], database[1])
        if arguments.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    repeats: dict[str, int] = {}
    for outcome in outcomes:
        for key, value in outcome.repeats.items():
            repeats[key] = repeats.get(key, 0) + value
    applicable = [o for o in outcomes if o.figures.get("applicable", True)]
    result = {
        "bench": "faults",
        "short": arguments.short,
        "scenarios": len(applicable),
        "lost": sum(o.lost for o in outcomes),
        "duplicated": sum(o.duplicated for o in outcomes),
        "failed": sum(o.failed for o in outcomes),
        "tried": [o.name for o in applicable],
        "not_applicable": [o.name for o in outcomes if o not in applicable],
        "at_least_once_repeats": repeats,
        "worker_rss_peak_mb": rss_peak,
        "seconds": round(time.monotonic() - started, 1),
        "per_scenario": {
            o.name: {
                "lost": o.lost,
                "duplicated": o.duplicated,
                "failed": o.failed,
                "seconds": o.seconds,
                "at_least_once_repeats": o.repeats,
                **o.figures,
            }
            for o in outcomes
        },
    }
    print(json.dumps(result))
    if result["lost"] or result["duplicated"] or result["failed"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
