"""Django's PostgreSQL backend, without a health-check round trip on a busy connection.

With CONN_HEALTH_CHECKS, Django sends `SELECT 1` before the first query of every request
that reuses a connection: a round trip to the server per request, a few percent of an
annotation save. Here the check is skipped when the connection finished a request without
errors less than `RECENT` seconds ago; an idle connection is checked as before. A server
restart within that second costs the request that follows it an error, after which the
connection is closed (Django's own rule for connections that saw errors) and the next
request reconnects.

Each statement of a transaction, and each commit, also runs in
`labelkeep.db.waiting.aside()`, so that while this thread waits on the server another
thread of the web worker may take its turn.
"""

from __future__ import annotations

import time
from typing import Any

from django.db.backends.postgresql import base

from labelkeep.db import waiting


def _waiting(execute: Any, sql: Any, params: Any, many: bool, context: Any) -> Any:
    """Statements of a transaction wait aside; others (reads in autocommit) keep the turn:
    handing it on and back costs reads more than their short waits give the others."""
    if not context["connection"].in_atomic_block:
        return execute(sql, params, many, context)
    with waiting.aside():
        return execute(sql, params, many, context)


class DatabaseWrapper(base.DatabaseWrapper):
    RECENT = 1.0
    _finished_cleanly = float("-inf")
    health_check_done: bool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.execute_wrappers.append(_waiting)

    def _commit(self) -> None:
        with waiting.aside():
            super()._commit()  # type: ignore[misc]  # django-stubs leaves it out

    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and not self.health_check_done
            and time.monotonic() - self._finished_cleanly < self.RECENT
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def close_if_unusable_or_obsolete(self) -> None:
        clean = self.connection is not None and not self.errors_occurred
        super().close_if_unusable_or_obsolete()
        if clean and self.connection is not None:
            self._finished_cleanly = time.monotonic()
