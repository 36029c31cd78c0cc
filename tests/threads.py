"""Real threads for the race tests on PostgreSQL: each with its own database
connection, and its result or crash kept for the test to assert on."""

import threading

from django.db import connections


class Worker(threading.Thread):
    def __init__(self, target, *args):
        super().__init__()
        self._work = (target, args)
        self.result = None
        self.error: BaseException | None = None

    def run(self):
        target, args = self._work
        try:
            self.result = target(*args)
        except BaseException as error:  # asserted by the test, not lost in a log
            self.error = error
        finally:
            connections.close_all()


def start(target, *args) -> Worker:
    worker = Worker(target, *args)
    worker.start()
    return worker


def run_at_once(*targets, timeout: float = 30) -> list[Worker]:
    """Start one thread per target, wait for all; a hung thread fails the test."""
    workers = [start(target) for target in targets]
    for worker in workers:
        worker.join(timeout=timeout)
    assert not any(worker.is_alive() for worker in workers), "a thread hung"
    return workers


def errors(workers) -> list[BaseException]:
    return [worker.error for worker in workers if worker.error is not None]


def waiting_for_a_lock() -> int:
    """Sessions of this database waiting for a row or table lock right now."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0]
