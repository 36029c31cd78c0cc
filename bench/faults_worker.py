"""A Celery worker for bench/faults.py: `celery -A webcare worker` with shorter leases.

    .venv/bin/python bench/faults_worker.py --concurrency 2 --queues celery ...

Production's leases (a survey send 5 min, a webhook delivery 60 s, a new notice's
grace 60 s, a reply's publishing claim 2 min) and Redis's visibility timeout (1 h)
would make a fault bench wait for an hour. Here they last seconds (FAULTS_* below), so a killed worker's claim runs
out, and its unacknowledged message is redelivered, while the bench watches. The
code paths are production's: only the constants are shorter. The poll lease is a
setting already (WEBCARE_POLL_LEASE_SECONDS), set by the bench in the environment;
FAULTS_POLL_SOFT_TIME_LIMIT shortens the poll task's time limit for a trickling
source.
"""

import os
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webcare.settings")


def seconds(name: str, default: str) -> timedelta:
    return timedelta(seconds=float(os.environ.get(name, default)))


def shorten_leases() -> None:
    import django

    django.setup()
    from cases.services import publishing
    from reporting.services import delivery
    from webcare.api import tasks as webhook_tasks
    from webcare.api import webhooks
    from webcare.notices import services as notices

    delivery.SEND_LEASE = seconds("FAULTS_SURVEY_LEASE", "8")
    # tasks.py imported the name: both modules read it.
    webhooks.CLAIM_LEASE = webhook_tasks.CLAIM_LEASE = seconds(
        "FAULTS_WEBHOOK_LEASE", "8"
    )
    notices.NEW_NOTICE_GRACE = seconds("FAULTS_NOTICE_GRACE", "4")
    # A reply's publishing claim (2 min): a killed worker's claim lapses, and the
    # sweep turns the reply unconfirmed, while the bench waits.
    publishing.CLAIM_LEASE = seconds("FAULTS_PUBLISH_LEASE", "6")
    # The poll task's time limits (240 s soft, 300 s hard), shorter when asked: the
    # only bound on a source that trickles its answer.
    soft = os.environ.get("FAULTS_POLL_SOFT_TIME_LIMIT")
    if soft:
        from sources import tasks as source_tasks

        source_tasks.poll_source.soft_time_limit = int(soft)
        source_tasks.poll_source.time_limit = int(soft) + 10


def main() -> None:
    shorten_leases()
    from webcare.celery import app

    app.conf.broker_transport_options = {
        **app.conf.broker_transport_options,
        "visibility_timeout": int(os.environ.get("FAULTS_VISIBILITY_TIMEOUT", "20")),
        # Look for abandoned messages every 2 s instead of every 100 s.
        "unacked_restore_interval": 2,
        "unacked_restore_throttle": 1,
    }
    app.worker_main(["worker", *sys.argv[1:]])


if __name__ == "__main__":
    main()
