"""bench/publish.py --short runs end to end: 100 replies through fakes of Mastodon
and Discourse that drop connections and ask to wait, each published exactly once.

A subprocess on the embedded default (SQLite in a temporary directory): the bench
builds its own database and must not share this suite's.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


# It ignores the suite's database, so the second pass of bin/test (PostgreSQL) would
# only repeat the first.
@pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")),
    reason="runs on the embedded default, which the SQLite pass covers",
)
def test_it_publishes_every_reply_once_through_dropped_connections():
    environment = {
        key: value
        for key, value in os.environ.items()
        if key
        not in (
            "DATABASE_URL",
            "CELERY_BROKER_URL",
            "CELERY_TASK_ALWAYS_EAGER",
            "CACHE_URL",
            "DJANGO_SETTINGS_MODULE",
        )
    }
    bench = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "publish.py"), "--short"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = bench.communicate(timeout=180)
    finally:
        if bench.poll() is None:
            # SIGTERM, not SIGKILL: the script then stops its fakes and cleans up.
            bench.terminate()
            bench.communicate(timeout=60)

    assert bench.returncode == 0, stdout[-3000:] + stderr[-3000:]
    figures = json.loads(stdout.strip().splitlines()[-1])
    assert figures["bench"] == "publish"
    assert figures["database"] == "sqlite"
    assert figures["replies"] == 100
    assert (figures["duplicates"], figures["lost"], figures["unsettled"]) == (0, 0, 0)
    # Every reply is on the platform once, or left to the agent: a Discourse write
    # lost before the forum took it is never resent by itself (no idempotency key).
    assert figures["platform_posts"] == figures["published"]
    assert figures["published"] + figures["left_to_agent"] == 100
    assert figures["left_to_agent"] <= figures["dropped_before"]
    # The faults were met, and the unconfirmed replies looked for.
    assert figures["dropped_after_accept"] > 0
    assert figures["dropped_before"] > 0
    assert figures["rate_limited"] > 0
    assert figures["reconciled"] > 0
    assert figures["task_errors"] == 0
