"""Import throughput through the real server: `python -m bench.imports`.

Posts JSON arrays of tasks to `api/projects/{id}/import` (as `ls.projects.import_tasks`
does) and a CSV file, one request at a time, and reports tasks per second from the first
byte sent to the last response (parsing, checking and writing included).
"""

from __future__ import annotations

import argparse
import json
import time

import httpx

from bench.common import create_user, record, running_server

CONFIG = """
<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text"><Choice value="Pos"/><Choice value="Neg"/></Choices>
</View>
"""


def _tasks(start: int, count: int) -> list[dict[str, str]]:
    return [
        {"text": f"Review number {n}: the product arrived on time."}
        for n in range(start, start + count)
    ]


def _rate(client: httpx.Client, project: int, bodies: list[tuple[str, bytes, str]]) -> float:
    """Tasks/s over the given (kind, body, content type) requests."""
    total, began = 0, time.perf_counter()
    for kind, body, content_type in bodies:
        if kind == "json":
            response = client.post(
                f"/api/projects/{project}/import",
                content=body,
                headers={"Content-Type": content_type},
            )
        else:
            response = client.post(
                f"/api/projects/{project}/import", files={"file": ("tasks.csv", body, content_type)}
            )
        response.raise_for_status()
        total += response.json()["task_count"]
    return total / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=40_000, help="tasks per request")
    args = parser.parse_args()
    with running_server() as server:
        key = create_user(server, "bench@example.com")
        headers = {"Authorization": f"Token {key}"}
        with httpx.Client(
            base_url=server.base_url, verify=str(server.cert), headers=headers, timeout=300
        ) as client:
            made = client.post("/api/projects/", json={"title": "Bench", "label_config": CONFIG})
            project = made.raise_for_status().json()["id"]
            n = args.tasks
            _rate(
                client, project, [("json", json.dumps(_tasks(0, 100)).encode(), "application/json")]
            )
            json_bodies = [
                ("json", json.dumps(_tasks(i * n, n)).encode(), "application/json")
                for i in range(args.requests)
            ]
            json_rate = _rate(client, project, json_bodies)
            csv_bodies = [
                (
                    "csv",
                    ("text\n" + "\n".join(t["text"] for t in _tasks(i * n, n))).encode(),
                    "text/csv",
                )
                for i in range(args.requests)
            ]
            csv_rate = _rate(client, project, csv_bodies)
    size = len(json_bodies[0][1])
    record(
        "Import: tasks through HTTPS, one request at a time",
        [
            f"JSON array body ({n} tasks, {size // 1024} KiB per request, "
            f"{args.requests} requests): {json_rate:,.0f} tasks/s",
            f"CSV file upload ({n} rows per request, {args.requests} requests): "
            f"{csv_rate:,.0f} tasks/s",
        ],
    )


if __name__ == "__main__":
    main()
