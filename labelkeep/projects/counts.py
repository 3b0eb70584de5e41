"""A project's counts beyond the four it stores, asked of the app that holds its tasks.

Label Studio's project responses carry more counts than Labelkeep keeps on the project's
row (`task_number`, `num_tasks_with_annotations`, `total_annotations_number`,
`total_predictions_number`, moved in the same transaction as each change). The others
are counted from the tasks and annotations, by the tasks app, which registers a reader
when it loads: projects sit below tasks (DESIGN.md) and cannot count those rows.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from labelkeep.accounts.models import User
from labelkeep.projects.models import Project

STORED = (
    "task_number",
    "num_tasks_with_annotations",
    "total_annotations_number",
    "total_predictions_number",
)
# Counted from the project's rows: the same for everyone who reads the project.
COUNTED = (
    "finished_task_number",
    "skipped_annotations_number",
    "ground_truth_number",
    "useful_annotation_number",
)
# Counted for the person asking.
PERSONAL = ("queue_total", "queue_done")
ALL = (*STORED, *COUNTED, *PERSONAL)

Counts = dict[str, int]


class CountReader(Protocol):
    """Counts what a project's tasks and annotations hold."""

    def counts(self, projects: Sequence[Project], user: User | None) -> dict[int, Counts]:
        """COUNTED for each project, by project id, and PERSONAL for this user if any,
        with STORED as of the same moment (the page's rows may be older)."""
        ...


_readers: list[CountReader] = []


def register_count_reader(reader: CountReader) -> CountReader:
    if reader not in _readers:
        _readers.append(reader)
    return reader


def counts_of(
    projects: Sequence[Project], user: User | None, fields: Collection[str] = ALL
) -> dict[int, Counts]:
    """The `fields` (names from ALL) of each project, by project id; PERSONAL ones only
    when there is a user to count them for."""
    found: dict[int, Counts] = {
        p.pk: {name: getattr(p, name) for name in STORED if name in fields} for p in projects
    }
    if not projects:
        return found
    personal = user is not None and any(name in fields for name in PERSONAL)
    if not personal and not any(name in fields for name in COUNTED):
        return found
    for reader in _readers:
        for pk, counts in reader.counts(projects, user if personal else None).items():
            found[pk].update((k, v) for k, v in counts.items() if k in fields)
    return found
