"""WSGI entry point for the server process."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelkeep.settings")

WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


class Turns:
    """Let one request at a time run the application in this process; the rest wait.

    Python runs one thread at a time. When several threads of a worker compute at once,
    each database call hands the interpreter to another thread and waits up to the switch
    interval to get it back, so every request in the process takes as long as all of them
    together, and the slowest far longer. Taking turns keeps the threads (slow clients,
    request bodies still arriving, streamed downloads, all of which happen outside the
    turn) while the computing is done one request after another.

    A request waits at most `wait` seconds for its turn and then runs anyway, so one slow
    view delays the others of its process by no more than that. Bodies up to `body_limit`
    bytes are read before the turn is taken; larger or chunked uploads run without a turn.
    """

    def __init__(self, app: WSGIApp, *, wait: float, body_limit: int) -> None:
        self.app = app
        self.wait = wait
        self.body_limit = body_limit
        self._turn = threading.Lock()
        self._mine = threading.local()  # `held`: whether this thread has the turn now

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if self.wait <= 0 or environ.get("HTTP_TRANSFER_ENCODING"):
            return self.app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return self.app(environ, start_response)
        if length > self.body_limit:
            return self.app(environ, start_response)
        if length > 0:
            environ["wsgi.input"] = io.BytesIO(environ["wsgi.input"].read(length))
        self._mine.held = self._turn.acquire(timeout=self.wait)
        try:
            return self.app(environ, start_response)
        finally:
            if self._mine.held:
                self._turn.release()
            self._mine.held = False

    @contextmanager
    def aside(self) -> Iterator[None]:
        """Hand the turn on while this thread waits on something else (the database
        server), and take it back after, waiting for it as a new request would."""
        held = getattr(self._mine, "held", False)
        if held:
            self._turn.release()
            self._mine.held = False
        try:
            yield
        finally:
            if held:
                self._mine.held = self._turn.acquire(timeout=self.wait)


def _application() -> WSGIApp:
    django_app = get_wsgi_application()
    from django.conf import settings

    from labelkeep.db import waiting

    turns = Turns(
        django_app,
        wait=settings.REQUEST_TURN_WAIT_MS / 1000,
        body_limit=settings.REQUEST_TURN_BODY_LIMIT,
    )
    waiting.install(turns.aside)
    return turns


application = _application()
