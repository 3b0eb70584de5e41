"""Shared pieces of the benchmarks: a real server process, timing, and the results log."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
LABELKEEP = Path(sys.executable).with_name("labelkeep")
RESULTS = ROOT / "bench" / "results" / "RESULTS.md"


@dataclass(frozen=True)
class Server:
    base_url: str
    cert: Path
    data_dir: Path
    env: dict[str, str]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_server(workers: int = 2) -> Iterator[Server]:
    """`labelkeep start` in a fresh data directory; DATABASE_URL is honoured if set."""
    with tempfile.TemporaryDirectory(prefix="labelkeep-bench-") as tmp:
        data_dir = Path(tmp)
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "LABELKEEP_DATA_DIR")}
        env["LOG_LEVEL"] = "WARNING"
        command = [str(LABELKEEP), "start", "--data-dir", tmp, "--port", str(port)]
        command += ["--workers", str(workers)]
        log = (data_dir / "server.log").open("wb")
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        server = Server(f"https://localhost:{port}", data_dir / "tls-cert.pem", data_dir, env)
        try:
            _wait(server)
            yield server
        finally:
            process.terminate()
            process.wait(timeout=30)
            log.close()


def _wait(server: Server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if server.cert.exists():
                httpx.get(f"{server.base_url}/api/version/", verify=str(server.cert))
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError((server.data_dir / "server.log").read_text())


def create_user(server: Server, email: str) -> str:
    """A user with a legacy API key, through the CLI; returns the key."""
    result = subprocess.run(  # noqa: S603 (our own CLI)
        [
            str(LABELKEEP),
            *("user", "create", "--email", email, "--password-stdin", "--token"),
            *("--data-dir", str(server.data_dir), "--role", "owner", "--org", "Bench"),
        ],
        input="bench passphrase 1234\n",
        capture_output=True,
        text=True,
        env=server.env,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


@dataclass(frozen=True)
class Timing:
    count: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def summary(self) -> str:
        return (
            f"{self.count} requests, {self.rate:.0f} req/s, "
            f"p50 {self.percentile(50) * 1000:.1f} ms, p99 {self.percentile(99) * 1000:.1f} ms, "
            f"mean {statistics.fmean(self.latencies) * 1000:.1f} ms"
        )


def hammer(
    make_call: Callable[[httpx.Client], None], server: Server, total: int, clients: int
) -> Timing:
    """Run `total` calls spread over `clients` concurrent keep-alive connections."""
    per_client = total // clients

    def run(_: int) -> list[float]:
        latencies = []
        with httpx.Client(base_url=server.base_url, verify=str(server.cert), timeout=120) as client:
            make_call(client)  # warm the connection
            for _ in range(per_client):
                start = time.perf_counter()
                make_call(client)
                latencies.append(time.perf_counter() - start)
        return latencies

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(run, range(clients)))
    elapsed = time.perf_counter() - start
    flat = [lat for chunk in results for lat in chunk]
    return Timing(len(flat), elapsed, flat)


def _postgres() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


def autovacuum() -> bool | None:
    """Whether the PostgreSQL server under test runs autovacuum (None: not PostgreSQL)."""
    url = _postgres()
    if url is None:
        return None
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SHOW autovacuum").fetchone()
    return row is not None and row[0] == "on"


def settle_database() -> None:
    """Between workloads on PostgreSQL, start each one on a settled database.

    Without autovacuum, do what it would have done by then (dead row versions of the
    counters, planner statistics of the annotations a workload added). Then CHECKPOINT:
    seeding a million tasks writes enough WAL to start a checkpoint that would otherwise
    write its gigabyte of pages during the next workload (two minutes of it, measured),
    the aftermath of the seeding rather than the cost of the workload."""
    url = _postgres()
    if url is None:
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        if not autovacuum():
            conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        model = found.group(1) if found else ""
    database = "SQLite"
    if _postgres():
        database = "PostgreSQL, autovacuum " + (
            "on" if autovacuum() else "off (the benchmark vacuums between workloads)"
        )
    return (
        f"{os.cpu_count()} cores ({model or cpu}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, database {database}"
    )


def seed(server: Server, email: str, count: int, kind: str = "plain") -> int:
    """A project of `count` tasks of this kind (bench/seed.py), written straight into the
    server's database by a subprocess with the server's environment; its id."""
    result = subprocess.run(  # noqa: S603 (our own module)
        [sys.executable, "-m", "bench.seed", email, str(count), kind],
        env={**server.env, "LABELKEEP_DATA_DIR": str(server.data_dir)},
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return int(result.stdout.strip().splitlines()[-1])


@contextmanager
def seeded_project(count: int, kind: str) -> Iterator[tuple[Server, httpx.Client, int]]:
    """A running server with a project of `count` seeded tasks of this kind, and a client
    of its owner (a token, HTTPS, a timeout for the longest request): yields the server,
    the client and the project's id."""
    with running_server() as server:
        key = create_user(server, "bench@example.com")
        started = time.perf_counter()
        project = seed(server, "bench@example.com", count, kind)
        print(f"seeded {count} tasks in {time.perf_counter() - started:.0f} s", flush=True)
        with httpx.Client(
            base_url=server.base_url,
            verify=str(server.cert),
            headers={"Authorization": f"Token {key}"},
            timeout=1800,
        ) as client:
            yield server, client, project


def record(title: str, lines: list[str]) -> None:
    """Print the figures and append them, with date and machine, to bench/results/RESULTS.md."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = [
        f"## {title} — {stamp}",
        "",
        f"Machine: {machine()}",
        "",
        *[f"- {line}" for line in lines],
        "",
    ]
    text = "\n".join(block)
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as handle:
        handle.write(text + "\n")


def timed(read: Callable[[], httpx.Response]) -> float:
    """One request's time in milliseconds (it must succeed)."""
    started = time.perf_counter()
    read().raise_for_status()
    return (time.perf_counter() - started) * 1000


def after_changes(
    client: httpx.Client, project: int, reads: dict[str, Callable[[], httpx.Response]]
) -> list[str]:
    """Each read, ROUNDS times right after a change to one of the project's tasks (what is
    remembered per `tasks_version` is computed afresh) and again with nothing changed:
    a line of median and worst per read and case."""
    listed = client.get("/api/tasks/", params={"project": project, "page_size": 1})
    task = listed.json()["tasks"][0]["id"]
    settle_database()
    lines = []
    for name, read in reads.items():
        fresh, remembered = [], []
        for n in range(ROUNDS):
            client.patch(f"/api/tasks/{task}/", json={"meta": {"round": n}}).raise_for_status()
            fresh.append(timed(read))
            remembered.append(timed(read))
        for label, millis in (("after a change", fresh), ("nothing changed", remembered)):
            median, worst = statistics.median(millis), max(millis)
            line = f"{name}, {label}: median {median:.1f} ms, worst {worst:.1f} ms"
            print(line, flush=True)
            lines.append(line)
    return lines


ROUNDS = 7
