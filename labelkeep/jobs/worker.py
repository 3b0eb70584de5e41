"""Job workers: a thread inside the server process, or standalone processes."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker

from labelkeep.jobs import registered  # noqa: F401  (imports every job kind)
from labelkeep.jobs.services import recover_stale

logger = logging.getLogger(__name__)


class RecoveringWorker(Worker):
    """django-tasks-db's worker that also fails the jobs of dead workers: once as it starts,
    then (unless it runs one batch) every JOB_STALE_AFTER / 2 seconds from a thread."""

    def run(self) -> None:
        _recover()
        if not self.batch:
            every = float(settings.JOB_STALE_AFTER) / 2
            sweeper = threading.Thread(
                target=_sweep, args=(every,), name="labelkeep-jobs-recovery", daemon=True
            )
            sweeper.start()
        super().run()


def _recover() -> None:
    try:
        recover_stale()
    except DatabaseError:  # a busy or unreachable database: the next sweep tries again
        logger.warning("could not look for jobs of dead workers", exc_info=True)


def _sweep(every: float) -> None:
    while True:
        time.sleep(every)
        _recover()
        close_old_connections()


def make_worker(interval: float, *, batch: bool = False) -> Worker:
    return RecoveringWorker(
        queue_names=["*"],
        interval=interval,
        batch=batch,
        backend_name="default",
        startup_delay=not batch,
        max_tasks=None,
        worker_id=get_random_string(32),
        excluded_queue_names=[],
    )


def start_thread(interval: float) -> tuple[threading.Thread, Worker]:
    """Run a worker loop on a daemon thread of this process."""
    worker = make_worker(interval)
    thread = threading.Thread(target=worker.run, name="labelkeep-jobs", daemon=True)
    thread.start()
    logger.info("in-process job worker started")
    return thread, worker


def run_batch() -> None:
    """Run every queued job now, then return (tests and one-off maintenance)."""
    make_worker(0, batch=True).run()
