"""The HTTPS server process: gunicorn with TLS, threaded workers and a job thread each.

Why gunicorn (docs/deployment.md): a mature pre-fork WSGI server that terminates TLS
itself, streams responses, runs several worker processes and restarts crashed ones.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from time import monotonic, sleep
from typing import Any

from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker


@dataclass(frozen=True)
class ServerOptions:
    host: str
    port: int
    cert: Path
    key: Path
    workers: int
    threads: int
    job_worker: bool
    timeout: int = 120
    # A socket `labelkeep start` bound already (so that a taken port stopped it before it
    # wrote or printed anything); gunicorn listens on it instead of binding host:port.
    listener_fd: int | None = None


# gunicorn's own limit for a stopping worker, after which the master kills it; the job
# worker's grace fits inside it, with time left to record an unfinished job as failed.
GRACEFUL_TIMEOUT = 20
JOB_STOP_GRACE = 12.0


def _ssl_context(config: Any, default_factory: Any) -> ssl.SSLContext:
    context: ssl.SSLContext = default_factory()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _settle(worker: Any) -> None:
    """Load every view now, then move what is loaded out of the garbage collector's way.

    A web worker holds a few hundred thousand long-lived objects (modules, URL patterns,
    serializers); every full collection would walk them all, a pause of a hundred
    milliseconds or more in the middle of some request. Frozen, they are never walked."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (imports every view module)
    gc.collect()
    gc.freeze()


# In a web worker process: its job worker thread, and when a clean stop (SIGTERM) began.
_jobs: tuple[threading.Thread, Any] | None = None
_stop_asked: float | None = None


def _post_worker_init_with_jobs(worker: Any) -> None:
    """Settle, and start the in-process job worker thread."""
    from django.conf import settings

    from labelkeep.jobs.worker import start_thread

    global _jobs
    _settle(worker)
    _jobs = start_thread(settings.JOB_WORKER_INTERVAL)


def _jobs_stop_asked() -> None:
    """A clean stop began (SIGTERM): the job worker takes no new job from now on, and the
    one it runs has JOB_STOP_GRACE seconds from now to finish."""
    global _stop_asked
    if _jobs is not None and _stop_asked is None:
        _stop_asked = monotonic()
        _jobs[1].running = False


def _worker_exit(arbiter: Any, worker: Any) -> None:
    """gunicorn's `worker_exit` hook (also called in the master, which has no job thread).

    The job thread is a daemon: without this, a stop would kill it mid-job and leave the job
    `running` until another worker's recovery noticed, minutes later. Here the job gets
    what is left of its grace after a clean stop (none after a quick one: SIGINT, SIGQUIT),
    and is recorded failed if it is still running then."""
    if _jobs is None:
        return
    from labelkeep.jobs.worker import stop_thread

    left = 0.0 if _stop_asked is None else _stop_asked + JOB_STOP_GRACE - monotonic()
    stop_thread(*_jobs, grace=left)


# How long a worker leaves a waiting connection to a sibling that holds fewer, before it
# takes the connection itself (a sibling stuck in a long request must not stall clients);
# ACCEPT_DEFER_MS in the settings, read when the worker starts serving.
DEFER_LIMIT = 0.05
_SLOTS_PER_WORKER = 2  # room for replacements while a dead worker's slot is not yet reused


class Loads:
    """Each web worker's count of open connections, in memory the workers share: a flat
    array of (pid, connections) pairs, made in the master before it forks them."""

    def __init__(self, workers: int) -> None:
        self.slots = workers * _SLOTS_PER_WORKER
        self.values = multiprocessing.Array("q", 2 * self.slots)

    def claim(self, pid: int) -> int:
        """A slot for this worker: a free one, or one whose worker is gone; -1 when none is
        (more workers than the master started with): that worker accepts as gunicorn does."""
        with self.values.get_lock():
            for slot in range(self.slots):
                owner = self.values[2 * slot]
                if owner == 0 or not _alive(owner):
                    self.values[2 * slot], self.values[2 * slot + 1] = pid, 0
                    return slot
        return -1

    def publish(self, slot: int, connections: int) -> None:
        self.values[2 * slot + 1] = connections

    def fewest_elsewhere(self, slot: int) -> int | None:
        """The fewest connections any other live worker holds (None: no other worker)."""
        fewest = None
        for other in range(self.slots):
            owner = self.values[2 * other]
            if other == slot or owner == 0:
                continue
            count = self.values[2 * other + 1]
            if (fewest is None or count < fewest) and _alive(owner):
                fewest = count
        return fewest


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_loads: Loads | None = None


def _json_error(sock: Any, status: int, reason: str, message: str) -> None:
    """gunicorn's answer to a request it refuses before Django sees it (a request line over
    `limit_request_line`, a malformed header, …): JSON like every API error, with the
    headers every other response carries, instead of gunicorn's bare HTML page."""
    from django.conf import settings  # loaded with the application by now

    detail = f"{reason}: {message}" if message else reason
    body = json.dumps({"status_code": status, "detail": detail}).encode()
    headers = [
        f"HTTP/1.1 {status} {reason}",
        "Connection: close",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Cache-Control: no-store",
        "X-Content-Type-Options: nosniff",
        "X-Frame-Options: DENY",
        "Referrer-Policy: same-origin",
        "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'; object-src 'none'",
    ]
    if settings.SECURE_HSTS_SECONDS:
        headers.append(f"Strict-Transport-Security: max-age={settings.SECURE_HSTS_SECONDS}")
    gunicorn_util.write_nonblock(sock, "\r\n".join(headers).encode("latin-1") + b"\r\n\r\n" + body)


class BalancedThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's threaded worker, taking new connections in turn with its siblings.

    All workers wait on one listening socket, and whichever wakes first accepts: a burst
    of connections (a client's pool opening eight keep-alive connections) mostly lands on
    one worker, which then serves six or seven of them on one core while another worker
    idles. Here a worker that holds more connections than a sibling leaves a waiting
    connection to it, for at most DEFER_LIMIT seconds."""

    slot = -1
    defer_limit = DEFER_LIMIT
    deferring_since = 0.0  # when this worker began leaving the waiting connection(s)
    deferred_last = 0.0  # when it last left one (a pause longer than a poll ends a run)

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        _jobs_stop_asked()

    def init_process(self) -> None:
        if _loads is not None:
            self.slot = _loads.claim(os.getpid())
        # The worker's error path calls `util.write_error`; in this process it is ours.
        gunicorn_util.write_error = _json_error
        super().init_process()

    def run(self) -> None:
        from django.conf import settings  # loaded with the application by now

        self.defer_limit = settings.ACCEPT_DEFER_MS / 1000
        super().run()

    def notify(self) -> None:
        super().notify()
        self._publish()

    def accept(self, server: Any, listener: Any) -> None:
        if self._defer():
            return
        super().accept(server, listener)
        self._publish()

    def _publish(self) -> None:
        if _loads is not None and self.slot >= 0:
            _loads.publish(self.slot, self.nr_conns)

    def _defer(self) -> bool:
        if _loads is None or self.slot < 0:
            return False
        fewest = _loads.fewest_elsewhere(self.slot)
        if fewest is None or self.nr_conns <= fewest:
            return False
        now = monotonic()
        if now - self.deferred_last > 0.01:
            self.deferring_since = now
        self.deferred_last = now
        if now - self.deferring_since >= self.defer_limit:
            return False
        sleep(0.001)  # the socket stays readable: do not spin while the sibling takes it
        return True


class LabelkeepServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn configured in code, so `labelkeep start` needs no config file."""

    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        opts = self.options
        bind = f"[{opts.host}]:{opts.port}" if ":" in opts.host else f"{opts.host}:{opts.port}"
        if opts.listener_fd is not None:
            bind = f"fd://{opts.listener_fd}"
        values: dict[str, Any] = {
            "bind": [bind],
            "certfile": str(opts.cert),
            "keyfile": str(opts.key),
            "ssl_context": _ssl_context,
            "workers": opts.workers,
            "worker_class": "labelkeep.server.BalancedThreadWorker",
            "threads": opts.threads,
            "timeout": opts.timeout,
            "graceful_timeout": GRACEFUL_TIMEOUT,
            "worker_exit": _worker_exit,
            "accesslog": "-",
            "errorlog": "-",
            "forwarded_allow_ips": "",
            "limit_request_line": 8190,
            "proc_name": "labelkeep",
        }
        values["post_worker_init"] = _post_worker_init_with_jobs if opts.job_worker else _settle
        global _loads  # made in the master, inherited by the forked workers
        _loads = Loads(opts.workers)
        for name, value in values.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        from labelkeep.wsgi import application

        return application
