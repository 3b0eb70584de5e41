"""Load from `wrk`, a C load generator (Debian package `wrk`), so that the client spends
little of the two cores the server needs. Scripts in bench/wrk/ shape the requests."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.common import Server

SCRIPTS = Path(__file__).resolve().parent / "wrk"
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


@dataclass(frozen=True)
class Load:
    requests: int
    seconds: float
    p50: float
    p99: float
    failed: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def summary(self) -> str:
        failures = f", {self.failed} failed" if self.failed else ""
        return (
            f"{self.requests} requests in {self.seconds:.0f} s, {self.rate:.0f} req/s, "
            f"p50 {self.p50 * 1000:.1f} ms, p99 {self.p99 * 1000:.1f} ms{failures}"
        )


def _seconds(text: str) -> float:
    found = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    if not found:
        raise ValueError(f"unreadable wrk duration {text!r}")
    return float(found.group(1)) * _UNITS[found.group(2)]


def parse(output: str) -> Load:
    """The figures of `wrk --latency` output."""
    total = re.search(r"(\d+) requests in ([0-9.]+\w+),", output)
    p50 = re.search(r"^\s+50%\s+(\S+)\s*$", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)\s*$", output, re.MULTILINE)
    if not (total and p50 and p99):
        raise RuntimeError(f"wrk gave no figures:\n{output}")
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return Load(
        requests=int(total.group(1)),
        seconds=_seconds(total.group(2)),
        p50=_seconds(p50.group(1)),
        p99=_seconds(p99.group(1)),
        failed=(int(failed.group(1)) if failed else 0)
        + (sum(int(n) for n in errors.groups()) if errors else 0),
    )


def wrk(
    server: Server, script: str, values: dict[str, str], *, connections: int, seconds: int
) -> Load:
    """Run bench/wrk/<script>.lua against the server over keep-alive HTTPS connections."""
    program = shutil.which("wrk")
    if program is None:
        raise SystemExit("wrk is missing: scripts/install-system-deps.sh installs it")
    threads = min(connections, 2)
    result = subprocess.run(  # noqa: S603 (a fixed program and our own script)
        [
            program,
            *(f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "30s"),
            *("-s", str(SCRIPTS / f"{script}.lua"), server.base_url),
        ],
        env={**os.environ, **{f"BENCH_{k.upper()}": v for k, v in values.items()}},
        capture_output=True,
        text=True,
        check=True,
    )
    return parse(result.stdout)
