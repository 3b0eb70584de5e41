"""The HTTPS server process: gunicorn with TLS, threaded workers and a job thread each.

Why gunicorn (docs/deployment.md): a mature pre-fork WSGI server that terminates TLS
itself, streams responses, runs several worker processes and restarts crashed ones.
"""

from __future__ import annotations

import gc
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication


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


def _post_worker_init_with_jobs(worker: Any) -> None:
    """Settle, and start the in-process job worker thread."""
    from django.conf import settings

    from labelkeep.jobs.worker import start_thread

    _settle(worker)
    start_thread(settings.JOB_WORKER_INTERVAL)


class LabelkeepServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn configured in code, so `labelkeep start` needs no config file."""

    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        opts = self.options
        bind = f"[{opts.host}]:{opts.port}" if ":" in opts.host else f"{opts.host}:{opts.port}"
        values: dict[str, Any] = {
            "bind": [bind],
            "certfile": str(opts.cert),
            "keyfile": str(opts.key),
            "ssl_context": _ssl_context,
            "workers": opts.workers,
            "worker_class": "gthread",
            "threads": opts.threads,
            "timeout": opts.timeout,
            "graceful_timeout": 20,
            "accesslog": "-",
            "errorlog": "-",
            "forwarded_allow_ips": "",
            "limit_request_line": 8190,
            "proc_name": "labelkeep",
        }
        values["post_worker_init"] = _post_worker_init_with_jobs if opts.job_worker else _settle
        for name, value in values.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        from labelkeep.wsgi import application

        return application
