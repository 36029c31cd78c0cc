"""bench/faults.py --short runs end to end: a worker killed mid-poll, hostile sources
and tasks delivered twice (and, on its own, a worker killed mid-publish), with real
Celery workers, its own Redis and its own PostgreSQL database (`<name>_faults`,
dropped after); nothing lost, duplicated or failed for good.

A subprocess, so its workers, servers and database never mix with this suite's.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]


def postgres_url() -> str:
    """DATABASE_URL when it names a PostgreSQL server that answers; else a skip."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://...")
    import psycopg

    admin = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    try:
        psycopg.connect(admin, connect_timeout=3).close()
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable ({str(error).splitlines()[0]})")
    return url


def run_faults(*arguments: str) -> tuple[subprocess.Popen, str, str]:
    url = postgres_url()
    if not shutil.which("redis-server"):
        pytest.skip("needs redis-server: the bench starts a Redis of its own")
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("CELERY_TASK_ALWAYS_EAGER", "DJANGO_SETTINGS_MODULE")
    }
    environment["DATABASE_URL"] = url
    bench = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "faults.py"), *arguments],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = bench.communicate(timeout=240)
    finally:
        if bench.poll() is None:
            # SIGTERM, not SIGKILL: the bench then stops its workers and Redis and
            # drops its database.
            bench.terminate()
            bench.communicate(timeout=60)
    return bench, stdout, stderr


def test_short_faults_lose_duplicate_and_fail_nothing():
    bench, stdout, stderr = run_faults("--short")
    assert bench.returncode == 0, stdout[-4000:] + stderr[-4000:]
    figures = json.loads(stdout.strip().splitlines()[-1])
    assert figures["bench"] == "faults"
    assert (figures["lost"], figures["duplicated"], figures["failed"]) == (0, 0, 0)
    assert set(figures["tried"]) == {
        "kill_mid_poll",
        "hostile_sources",
        "double_delivery",
    }
    assert figures["not_applicable"] == []
    assert 0 < figures["worker_rss_peak_mb"] < 400
    hostile = figures["per_scenario"]["hostile_sources"]["sources"]
    assert all(source["recorded"] for source in hostile.values()), hostile


def test_a_worker_killed_mid_publish_leaves_one_post_and_the_reply_published():
    bench, stdout, stderr = run_faults("--only", "kill_mid_publish")
    assert bench.returncode == 0, stdout[-4000:] + stderr[-4000:]
    figures = json.loads(stdout.strip().splitlines()[-1])
    assert figures["tried"] == ["kill_mid_publish"]
    publish = figures["per_scenario"]["kill_mid_publish"]
    assert (publish["lost"], publish["duplicated"], publish["failed"]) == (0, 0, 0)
    # Killed while the platform held the post; unconfirmed by the sweep, then found.
    assert publish["status_after_kill"] == "publishing"
    assert publish["unconfirmed_on_the_way"] is True
    assert (publish["platform_posts"], publish["platform_writes"]) == (1, 1)
    assert publish["status"] == "published"
