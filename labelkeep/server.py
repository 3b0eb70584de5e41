"""The HTTPS server process: gunicorn with TLS, threaded workers and a job thread each.

Why gunicorn (docs/deployment.md): a mature pre-fork WSGI server that terminates TLS
itself, streams responses, runs several worker processes and restarts crashed ones.
"""

from __future__ import annotations

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


def _post_worker_init(worker: Any) -> None:
    """Start the in-process job worker thread once this web worker has loaded Django."""
    from django.conf import settings

    from labelkeep.jobs.worker import start_thread

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
        if opts.job_worker:
            values["post_worker_init"] = _post_worker_init
        for name, value in values.items():
            self.cfg.set(name, value)

    def load(self) -> Any:
        from labelkeep.wsgi import application

        return application
