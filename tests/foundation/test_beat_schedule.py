"""Every periodic job beat sends names a task a worker has registered.

Beat sends a task by its name only; a name no worker knows is dropped by the
worker as unregistered, and the periodic job silently never runs. The tasks are
listed in a fresh process that loads the Celery app as a worker does (Django set
up, autodiscovery and CELERY_IMPORTS), not in this one, where other tests may
have imported task modules a worker would never load.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]

WORKER_TASKS = """
import json
import django
django.setup()
from webcare.celery import app
app.loader.import_default_modules()
print(json.dumps(sorted(name for name in app.tasks if not name.startswith("celery."))))
"""


def worker_tasks() -> set[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webcare.settings"}
    completed = subprocess.run(
        [sys.executable, "-c", WORKER_TASKS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(json.loads(completed.stdout.strip().splitlines()[-1]))


def test_every_beat_entry_names_a_task_a_worker_registers():
    registered = worker_tasks()
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule
    unknown = {
        entry: job["task"]
        for entry, job in schedule.items()
        if job["task"] not in registered
    }
    assert unknown == {}, f"beat entries without a registered task: {unknown}"


def test_the_task_modules_a_worker_loads_register_the_queued_tasks_too():
    # Tasks queued by dotted path (enqueue_on_commit) or by name must be known
    # to a worker as well, or their messages are dropped.
    registered = worker_tasks()
    assert {
        "sources.tasks.poll_source",
        "sources.triage.tasks.triage_mentions",
        "sources.triage.tasks.retriage",
        "cases.webhooks.deliver_webhook",
        "cases.tasks.send_escalation_notice",
        "reporting.tasks.send_survey",
    } <= registered
