"""Django's PostgreSQL backend, without a health-check round trip on a busy connection.

With CONN_HEALTH_CHECKS, Django sends `SELECT 1` before the first query of every request
that reuses a connection: a round trip to the server per request, a few percent of an
annotation save. Here the check is skipped when the connection finished a request without
errors less than `RECENT` seconds ago; an idle connection is checked as before. A server
restart within that second costs the request that follows it an error, after which the
connection is closed (Django's own rule for connections that saw errors) and the next
request reconnects.
"""

from __future__ import annotations

import time

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    RECENT = 1.0
    _finished_cleanly = float("-inf")
    health_check_done: bool

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
