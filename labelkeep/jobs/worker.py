"""Job workers: a thread inside the server process, or standalone processes."""

from __future__ import annotations

import logging
import threading

from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker

from labelkeep.jobs import registered  # noqa: F401  (imports every job kind)

logger = logging.getLogger(__name__)


def make_worker(interval: float, *, batch: bool = False) -> Worker:
    return Worker(
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
