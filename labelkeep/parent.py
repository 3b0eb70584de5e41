"""Child processes that stop when the process that started them is gone.

`labelkeep worker --processes N` and `labelkeep start --http-port` start children. Stopped
normally, the parent passes its signal on; killed outright (`SIGKILL`, the OOM killer), it
cannot, and its children would keep running: workers taking jobs nobody supervises, a
redirect holding its port. So a child started through `child_env` asks Linux for `SIGTERM`
when its parent dies (`PR_SET_PDEATHSIG`, which a worker takes as "finish the job and
exit"), and stops at once if the parent is already gone.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

ENV = "LABELKEEP_PARENT_PID"
_PR_SET_PDEATHSIG = 1


def child_env() -> dict[str, str]:
    """The environment for a child that must not outlive this process."""
    return {**os.environ, ENV: str(os.getpid())}


def follow() -> None:
    """In a child started with `child_env`: get `SIGTERM` when the parent dies, or exit
    now if it already has. Elsewhere (no such variable), nothing."""
    given = os.environ.get(ENV)
    if not given:
        return
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    # The parent may have died before the request above: then no signal will come.
    if os.getppid() != int(given):
        raise SystemExit("labelkeep: the process that started this one has exited")
