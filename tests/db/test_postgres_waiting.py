"""Statements of a transaction, and commits, wait on PostgreSQL aside from the web
worker's turn (labelkeep/db/postgresql/base.py, labelkeep/db/waiting.py); reads outside a
transaction keep it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db.utils import ConnectionHandler
from pytest_django import DjangoDbBlocker

from labelkeep.db import waiting
from labelkeep.db.postgresql.base import DatabaseWrapper
from labelkeep.settings import _database
from tests.db.test_postgres_health import SERVER


@pytest.fixture
def asides(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records each wait that goes aside."""
    seen: list[str] = []

    @contextmanager
    def recorded() -> Iterator[None]:
        seen.append("aside")
        yield

    monkeypatch.setattr(waiting, "_aside", recorded)
    return seen


def test_outside_the_server_aside_does_nothing() -> None:
    with waiting.aside() as value:
        assert value is None


def test_transaction_statements_and_commits_go_aside_reads_do_not(
    asides: list[str], monkeypatch: pytest.MonkeyPatch, django_db_blocker: DjangoDbBlocker
) -> None:
    monkeypatch.setenv("DATABASE_URL", SERVER)
    connection = ConnectionHandler({"default": _database()})["default"]
    assert isinstance(connection, DatabaseWrapper)
    with django_db_blocker.unblock():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")  # autocommit: a read keeps the turn
            assert asides == []
            connection.set_autocommit(False)
            connection.in_atomic_block = True  # what transaction.atomic() sets
            with connection.cursor() as cursor:
                cursor.execute("SELECT 2")
                cursor.execute("SELECT 3")
            assert len(asides) == 2
            connection.in_atomic_block = False  # as atomic() leaves it, before committing
            connection.commit()
            assert len(asides) == 3
        finally:
            connection.in_atomic_block = False
            connection.close()
