"""Exports through the real server: `python -m bench.export [--sizes 100000,1000000]`.

For each size, seeds a text-classification project with that many annotated tasks (one
annotation each, a prediction on every other task), then downloads
`GET api/projects/{id}/export` as JSON (and CSV) over HTTPS, streaming, three times. Prints
and records the time to the last byte, throughput, and the serving processes' peak memory
growth over their resident size before the export (sampled every 20 ms from /proc).
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from pathlib import Path

import httpx

from bench.common import Server, create_user, record, running_server, seed


def server_pids(server: Server) -> list[int]:
    """The server's processes (master and web workers): those started on its data dir."""
    marker = str(server.data_dir).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if marker in command and b"labelkeep" in command:
                found.append(int(entry.name))
    return found


def rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1])


class PeakMemory:
    """Samples the server processes' RSS while a download runs; `growth` in MiB."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.before = {pid: rss_kib(pid) for pid in pids}
        self.peak = dict(self.before)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], rss_kib(pid))

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> float:
        return max(self.peak[p] - self.before[p] for p in self.pids) / 1024

    @property
    def resident(self) -> float:
        return max(self.peak.values()) / 1024


def download(client: httpx.Client, url: str) -> tuple[float, int]:
    start = time.perf_counter()
    size = 0
    with client.stream("GET", url) as response:
        response.raise_for_status()
        for block in response.iter_raw(1024 * 1024):
            size += len(block)
    return time.perf_counter() - start, size


def measure(server: Server, key: str, project: int, export_type: str, runs: int) -> str:
    headers = {"Authorization": f"Token {key}"}
    url = f"/api/projects/{project}/export?export_type={export_type}"
    times, growth, resident, size = [], 0.0, 0.0, 0
    with httpx.Client(
        base_url=server.base_url, verify=str(server.cert), headers=headers, timeout=600
    ) as client:
        for _ in range(runs):
            with PeakMemory(server_pids(server)) as memory:
                seconds, size = download(client, url)
            times.append(seconds)
            growth, resident = max(growth, memory.growth), max(resident, memory.resident)
    best = min(times)
    return (
        f"{export_type}: {size / 2**20:.0f} MiB, best {best:.2f} s, median "
        f"{statistics.median(times):.2f} s over {runs} runs, {size / 2**20 / best:.0f} MiB/s; "
        f"server memory growth {growth:.1f} MiB (peak resident {resident:.0f} MiB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000", help="task counts, comma-separated")
    parser.add_argument("--formats", default="JSON,CSV")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    lines = []
    with running_server() as server:
        key = create_user(server, "bench@example.com")
        for count in (int(size) for size in args.sizes.split(",")):
            started = time.perf_counter()
            project = seed(server, "bench@example.com", count, "annotated")
            print(f"seeded {count} tasks in {time.perf_counter() - started:.0f} s", flush=True)
            for export_type in args.formats.split(","):
                figures = measure(server, key, project, export_type, args.runs)
                print(figures, flush=True)
                lines.append(f"{count:,} tasks, {figures}")
    record("Export: GET api/projects/{id}/export through HTTPS, streamed", lines)


if __name__ == "__main__":
    main()
