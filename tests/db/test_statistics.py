"""After a bulk insert grows a table by more than a fifth, the planner statistics
(PostgreSQL's and SQLite's) are refreshed at once (labelkeep.db.statistics)."""

from __future__ import annotations

import pytest
from django.db import connection

from labelkeep.db import statistics
from labelkeep.projects.models import Project
from labelkeep.tasks import bulk
from labelkeep.tasks.models import Task
from tests.conftest import World
from tests.dataio.test_import_support import make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(world: World) -> Project:
    return make_project(world)


def _rows(count: int) -> bulk.TaskRows:
    return bulk.TaskRows(
        tasks=[(f'{{"text": "t{n}"}}', "{}", False, 0, 0, 0, None) for n in range(count)]
    )


def _counted() -> float:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT stat FROM sqlite_stat1 WHERE tbl = %s", [Task._meta.db_table])
            return max(float(row[0].split()[0]) for row in cursor.fetchall())
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [Task._meta.db_table])
        return float(cursor.fetchone()[0])


def test_a_large_insert_analyzes_the_table_after_commit(
    project: Project, django_capture_on_commit_callbacks: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    analyzed: list[tuple[str, int]] = []
    real = statistics.analyze_if_grown

    def spy(table: str, inserted: int) -> bool:
        done = real(table, inserted)
        analyzed.append((table, inserted))
        return done

    monkeypatch.setattr(statistics, "analyze_if_grown", spy)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        bulk.insert(project.pk, [1] * statistics.MIN_ROWS, _rows(statistics.MIN_ROWS), 1)
    assert analyzed == [(Task._meta.db_table, statistics.MIN_ROWS)]
    assert _counted() >= statistics.MIN_ROWS
    # Now counted: a small further insert is not worth another ANALYZE.
    assert statistics.analyze_if_grown(Task._meta.db_table, 10) is False


def test_small_inserts_leave_the_statistics_to_autovacuum(
    project: Project, django_capture_on_commit_callbacks: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(statistics, "analyze_if_grown", lambda t, n: calls.append(t))
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        bulk.insert(project.pk, [1] * (statistics.MIN_ROWS - 1), _rows(statistics.MIN_ROWS - 1), 1)
    assert calls == []
