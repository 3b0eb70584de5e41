"""Letting the other threads of a process run while this one waits on the database server.

The web server's turns (`labelkeep.wsgi.Turns`) let one thread of a worker run views at a
time. A PostgreSQL query or commit is a wait on another process, during which the turn
would be idle: the PostgreSQL backend (`labelkeep/db/postgresql/base.py`) wraps each one
in `aside()`, and the turns, when the server installs them, hand the turn on for the wait
and take it back after. Outside the server `aside()` does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

_aside: Callable[[], AbstractContextManager[object]] = nullcontext


def install(aside: Callable[[], AbstractContextManager[object]]) -> None:
    global _aside  # one per process: the server's turns
    _aside = aside


def aside() -> AbstractContextManager[object]:
    return _aside()
