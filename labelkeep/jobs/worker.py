"""Job workers: a thread inside the server process, or standalone processes."""

from __future__ import annotations

import logging
import threading
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from labelkeep.jobs import registered  # noqa: F401  (imports every job kind)
from labelkeep.jobs.models import Job
from labelkeep.jobs.services import STOPPED, abandon, recover_stale

logger = logging.getLogger(__name__)


class RecoveringWorker(Worker):
    """django-tasks-db's worker that also fails the jobs of dead workers: once as it starts,
    then (unless it runs one batch) every JOB_STALE_AFTER / 2 seconds from a thread.

    It also knows which run it is in (`current`), so that a server stopping it can fail
    that job at once, and whether a second signal cut a job short (`forced`): the queue
    library then exits its loop as if all went well."""

    current: str | None = None  # the queue record (DBTaskResult) of the run in progress
    forced = False

    def shutdown(self, signum: int, frame: FrameType | None) -> None:
        if not self.running and self.running_task:
            self.forced = True  # the library's second-signal exit, in the middle of a job
        super().shutdown(signum, frame)

    def run_task(self, db_task_result: DBTaskResult[..., Any]) -> None:
        self.current = str(db_task_result.id)
        try:
            super().run_task(db_task_result)
        finally:
            self.current = None

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


def make_worker(interval: float, *, batch: bool = False) -> RecoveringWorker:
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


def start_thread(interval: float) -> tuple[threading.Thread, RecoveringWorker]:
    """Run a worker loop on a daemon thread of this process."""
    worker = make_worker(interval)
    thread = threading.Thread(target=worker.run, name="labelkeep-jobs", daemon=True)
    thread.start()
    logger.info("in-process job worker started")
    return thread, worker


def stop_thread(thread: threading.Thread, worker: RecoveringWorker, grace: float) -> None:
    """Stop an in-process worker as its process exits: it takes no new job, the one it runs
    gets `grace` seconds to finish, and if it has not by then, the job is failed now
    (`STOPPED`, with its kind's clean-up) rather than left `running` until another
    worker's recovery, minutes later: the thread is a daemon and dies with the process."""
    worker.running = False
    thread.join(max(grace, 0.0))
    current = worker.current
    if not thread.is_alive() or current is None:
        return
    job = Job.objects.filter(task_result_id=current).only("pk").first()
    if job is not None and abandon(job.pk, STOPPED):
        logger.warning("job %s was still running as the server stopped: recorded as failed", job.pk)


def run_batch() -> None:
    """Run every queued job now, then return (tests and one-off maintenance)."""
    make_worker(0, batch=True).run()
