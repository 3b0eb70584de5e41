"""PostgreSQL connections skip Django's per-request `SELECT 1` only while they are busy
and clean (labelkeep/db/postgresql/base.py); idle or failed ones are checked as before."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.db.utils import ConnectionHandler
from pytest_django import DjangoDbBlocker

from labelkeep.db.postgresql.base import DatabaseWrapper
from labelkeep.settings import _database

SERVER = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def wrapper(
    monkeypatch: pytest.MonkeyPatch, django_db_blocker: DjangoDbBlocker
) -> Iterator[tuple[DatabaseWrapper, list[int]]]:
    """A private connection built from Labelkeep's settings; the list counts health checks."""
    monkeypatch.setenv("DATABASE_URL", SERVER)
    connection = ConnectionHandler({"default": _database()})["default"]
    assert isinstance(connection, DatabaseWrapper)
    checks: list[int] = []
    real = connection.is_usable

    def counted() -> bool:
        checks.append(1)
        return bool(real())

    monkeypatch.setattr(connection, "is_usable", counted)
    with django_db_blocker.unblock():
        try:
            yield connection, checks
        finally:
            connection.close()


def _request(connection: Any, sql: str = "SELECT 1") -> Any:
    """What Django does around a request: tidy up, run the view's query, tidy up."""
    connection.close_if_unusable_or_obsolete()
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchone()
    finally:
        connection.close_if_unusable_or_obsolete()


def test_a_busy_clean_connection_is_not_checked_again(wrapper: Any) -> None:
    connection, checks = wrapper
    _request(connection)
    for _ in range(5):
        _request(connection)
    assert checks == []


def test_an_idle_connection_is_checked_and_replaced_when_dead(
    wrapper: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection, checks = wrapper
    backend = _request(connection, "SELECT pg_backend_pid()")[0]
    monkeypatch.setattr(DatabaseWrapper, "RECENT", 0.0)
    _request(connection)
    assert checks == [1]
    # The server ends the session behind the connection's back (a restart, a timeout).
    killer = ConnectionHandler({"default": _database()})["default"]
    try:
        with killer.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
    finally:
        killer.close()
    assert _request(connection, "SELECT pg_backend_pid()")[0] != backend
    assert len(checks) == 2


def test_a_connection_that_saw_errors_is_checked(wrapper: Any) -> None:
    connection, checks = wrapper
    _request(connection)
    with pytest.raises(Exception, match="no_such_table"):
        _request(connection, "SELECT * FROM no_such_table")
    assert checks == [1]  # at the end of the failed request, Django's own rule
    _request(connection)
    assert _request(connection) == (1,)
