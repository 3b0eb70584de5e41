"""Stored work a config change must respect, asked of the apps that store it.

Projects sit below tasks (DESIGN.md), so they cannot read annotations or task data
themselves; the tasks app registers a reader when it loads.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Protocol

from labelkeep.projects.models import Project


class WorkReader(Protocol):
    """Reads what a project's tasks hold, in bounded memory."""

    def results(self, project: Project, needles: frozenset[str] | None) -> Iterator[object]:
        """Stored annotation results whose JSON text contains one of `needles` (None: all),
        streamed; a superset is fine, the caller checks each result."""
        ...

    def task_data(self, project: Project, size: int) -> list[tuple[int, object]]:
        """(id, data) of the project's `size` oldest and `size` newest tasks."""
        ...


_readers: list[WorkReader] = []


def register_work_reader(reader: WorkReader) -> WorkReader:
    if reader not in _readers:
        _readers.append(reader)
    return reader


def stored_results(
    project: Project, needles: frozenset[str] | None
) -> Generator[object, None, None]:
    for reader in _readers:
        yield from reader.results(project, needles)


def task_data_sample(project: Project, size: int) -> list[tuple[int, object]]:
    return [row for reader in _readers for row in reader.task_data(project, size)]
