import logging
import os

from celery import Celery
from django.db import transaction
from django.utils.module_loading import import_string
from kombu.exceptions import OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webcare.settings")

app = Celery("webcare")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)

# What publishing raises when the broker is down or unreachable.
BROKER_ERRORS = (OperationalError, ConnectionError)


def enqueue_on_commit(task, *args, **kwargs) -> None:
    """Queue `task` with these arguments once the current transaction commits.

    `task` is a task or its dotted path ("reporting.tasks.send_survey"): services
    name the task they set off instead of importing the tasks module, which imports
    them. The path is resolved now, so a wrong one fails in the caller, not later.

    The change is committed by then: a broker that is down must not turn it into a
    500. The failure is logged; the periodic sweeps (retry_webhook_deliveries,
    process_surveys, triage_pending, check_case_deadlines) pick the work up.
    """

    if isinstance(task, str):
        task = import_string(task)

    def enqueue():
        try:
            task.delay(*args, **kwargs)
        except BROKER_ERRORS as exc:
            logger.warning(
                "Could not queue %s%r: %s; the periodic sweep will pick it up.",
                task.name,
                args,
                exc,
            )

    transaction.on_commit(enqueue)
