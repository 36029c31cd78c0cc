"""One end-to-end run: a real Celery worker, Redis and PostgreSQL, polling a source
served on 127.0.0.1. The same poll is queued twice at once: the lease turns the
second away, so one request reaches the server and each mention is stored once;
the triage the poll queues goes through the broker and runs in the worker.
The worker never runs tasks eagerly, whatever this process was started with.
Run with, for example:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/webcare_polling \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/5 \
    .venv/bin/pytest tests/sources/test_e2e_worker.py
"""

import ast
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from sources.models import (
    Author,
    Mention,
    RuleDryRun,
    RuleDryRunMode,
    Source,
    SourceKind,
    TriageStatus,
)
from tests.factories import MentionFactory, SourceFactory
from tests.httpserver import Answer
from tests.sources.conftest import recording
from webcare.celery import app

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e2e-bearer-token-9f8e7d"
POLL_DONE = re.compile(r"Task sources\.tasks\.poll_source\[[^\]]+\] succeeded")
TRIAGE_RECEIVED = re.compile(
    r"Task sources\.triage\.tasks\.triage_mentions\[[^\]]+\] received"
)
TRIAGE_DONE = re.compile(
    r"Task sources\.triage\.tasks\.triage_mentions\[[^\]]+\] succeeded in "
    r"[0-9.]+s: (\{[^}]*\})"
)


def test_database_url() -> str:
    """The URL of the database this test runs in (pytest-django's test_<name>)."""
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return (
        f"postgres://{quote(db['USER'])}{password}@{db['HOST'] or '127.0.0.1'}"
        f"{port}/{db['NAME']}"
    )


test_database_url.__test__ = False  # a helper, not a test


def wait_for(predicate, *, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(
        f"timed out after {timeout} s waiting for {what}; worker log:\n"
        + log.read_text(errors="replace")[-4000:]
    )


@pytest.fixture
def worker(on_postgres, redis_url, tmp_path, http_server):
    """A `celery -A webcare worker` on a queue of its own; always stopped."""
    queue = f"e2e-polling-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webcare.settings",
        "DATABASE_URL": test_database_url(),
        "CELERY_BROKER_URL": redis_url,
        "X_BEARER_TOKEN": TOKEN,
        # The loopback server stands in for the X API: the token's configured host.
        "X_API_BASE_URL": http_server.url,
        # ... on 127.0.0.1, which production refuses (tests/sources/conftest.py).
        "WEBCARE_ALLOW_PRIVATE_HOSTS": "true",
        "WEBCARE_POLL_HTTP_ATTEMPTS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    # bin/test runs this process with CELERY_TASK_ALWAYS_EAGER=true; inherited, it
    # would run what the worker queues (triage) in-process inside the poll task.
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "webcare",
        "worker",
        "--loglevel=INFO",
        "--concurrency=2",
        "--pool=prefork",
        # The poll's own queue, and the default one where mentions_store queues
        # triage; purged first, so nothing of an earlier run is consumed.
        f"--queues={queue},celery",
        "--purge",
        f"--hostname={queue}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(
            lambda: b" ready." in log.read_bytes() or process.poll() is not None,
            timeout=60,
            what="the worker to start",
            log=log,
        )
        if process.poll() is not None:
            pytest.fail("the worker exited:\n" + log.read_text(errors="replace"))
        yield queue, log
    finally:
        # The worker and its pool children form one process group of our own.
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_a_poll_queued_twice_at_once_is_leased_once_and_triaged_by_the_worker(
    worker, http_server
):
    queue, log = worker
    page = recording("twitter/search_tweets_query.json").read_bytes()
    tweets = json.loads(page)["data"]
    # A slow answer keeps the first poll busy (holding the lease) while the second
    # one arrives.
    http_server.add("/2/tweets/search/recent", Answer(200, page, delay=3))
    source = SourceFactory(
        kind=SourceKind.X_SEARCH, url=http_server.url, query="oranjebank"
    )

    for _ in range(2):
        app.send_task("sources.tasks.poll_source", args=[source.pk], queue=queue)

    wait_for(
        lambda: len(POLL_DONE.findall(log.read_text(errors="replace"))) >= 2,
        timeout=60,
        what="both poll tasks to finish",
        log=log,
    )
    # The lease turned the second poll away: one request reached the server, and
    # the worker says so in the two polls' results.
    assert [request.path for request in http_server.requests] == [
        "/2/tweets/search/recent"
    ]
    results = sorted(poll_results(log), key=lambda result: result["claimed"])
    assert [result["claimed"] for result in results] == [False, True]
    assert results[0]["fetched"] == results[0]["new"] == 0
    assert "being polled by another worker" in results[0]["error"]
    assert results[1]["new"] == len(tweets)
    assert results[1]["error"] == ""

    source.refresh_from_db()
    stored = Mention.objects.filter(source=source)
    assert stored.count() == len(tweets)
    assert set(stored.values_list("external_id", flat=True)) == {
        tweet["id"] for tweet in tweets
    }
    assert source.last_success_at is not None
    assert source.consecutive_failures == 0
    assert source.locked_until is None
    assert source.cursor["since_id"] == max((t["id"] for t in tweets), key=int)
    assert Author.objects.filter(platform="x_search").count() == len(
        {tweet["author_id"] for tweet in tweets}
    )
    # The worker used the token from its environment; nothing else leaked it.
    assert all(
        request.headers["authorization"] == f"Bearer {TOKEN}"
        for request in http_server.requests
    )
    assert TOKEN not in log.read_text(errors="replace")
    assert Source.objects.get(pk=source.pk).last_error == ""

    # After commit the new mentions were queued for triage through the broker: the
    # worker received triage_mentions as a task of its own (an eager call inside
    # the poll is never "received") and triaged every one of them.
    wait_for(
        lambda: TRIAGE_DONE.search(log.read_text(errors="replace")) is not None,
        timeout=60,
        what="the worker to run the triage task",
        log=log,
    )
    text = log.read_text(errors="replace")
    assert len(TRIAGE_RECEIVED.findall(text)) == 1
    triage = ast.literal_eval(TRIAGE_DONE.search(text).group(1))
    assert triage == {"triaged": len(tweets), "skipped": 0, "failed": 0}
    assert not stored.filter(triage_status=TriageStatus.PENDING).exists()
    assert stored.filter(triaged_at__isnull=False).count() == len(tweets)
    # Engaged mentions were routed into cases by the worker, in triage's transaction.
    engaged = stored.filter(triage_status=TriageStatus.ENGAGED)
    assert not engaged.filter(case__isnull=True).exists()


def poll_results(log: Path) -> list[dict]:
    """The return values of the poll tasks, as the worker logged them."""
    return [
        ast.literal_eval(match)
        for match in re.findall(
            r"Task sources\.tasks\.poll_source\[[^\]]+\] succeeded in [0-9.]+s: "
            r"(\{[^}]*\})",
            log.read_text(errors="replace"),
        )
    ]


@pytest.mark.django_db(transaction=True)
def test_a_rule_dry_run_runs_in_the_worker_with_a_hostile_pattern_bounded(worker):
    # The dry run the admin queues, run by a real worker: a pattern that slipped
    # past the check at save times out per mention instead of holding the worker.
    queue, log = worker
    for _ in range(3):
        MentionFactory(text="zqxj" + " " * 20_000 + "!")
    # Created as rule_dry_run_start does, minus its enqueue: this process may run
    # tasks eagerly, and the worker must be the one that runs it.
    dry_run = RuleDryRun.objects.create(
        mode=RuleDryRunMode.EDITED,
        candidate={
            "name": "Odd words",
            "position": 1,
            "patterns": r"re:(.|\s)*zqxj",
            "outcome": "ignore",
        },
    )

    app.send_task("sources.triage.tasks.rule_dry_run", args=[dry_run.pk], queue=queue)

    wait_for(
        lambda: RuleDryRun.objects.filter(
            pk=dry_run.pk, status__in=("done", "failed")
        ).exists(),
        timeout=60,
        what="the dry run to finish",
        log=log,
    )
    dry_run.refresh_from_db()
    assert (dry_run.status, dry_run.done, dry_run.total) == ("done", 3, 3)
    assert dry_run.result["examined"] == 3
    assert dry_run.result["timed_out"] == 3
