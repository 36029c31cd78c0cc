"""bench/load.py runs end to end: its own database, gunicorn, locust, no failed request.

A subprocess on the embedded default (SQLite in a temporary directory), whatever
database this suite runs on: locust's gevent must never be imported here.
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
def test_it_loads_api_survey_page_and_queue_without_a_failed_request():
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
        [
            sys.executable,
            str(ROOT / "bench" / "load.py"),
            "--seconds",
            "3",
            "--users",
            "1",
            "--cases",
            "300",
        ],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = bench.communicate(timeout=120)
    finally:
        if bench.poll() is None:
            # SIGTERM, not SIGKILL: the script then stops gunicorn and cleans up.
            bench.terminate()
            bench.communicate(timeout=60)

    assert bench.returncode == 0, stdout[-3000:] + stderr[-3000:]
    figures = json.loads(stdout.strip().splitlines()[-1])
    assert figures["bench"] == "load"
    assert figures["database"] == "sqlite"
    assert figures["errors"] == 0
    assert figures["throttled_429"] == 0
    assert figures["logins"] == 1
    for label in ("api", "survey", "queue"):
        assert figures[f"{label}_rps"] > 0, label
        assert figures[f"{label}_p95_ms"] > 0, label
