"""PostgreSQL binds parameters on the server and prepares statements that run often
(`DATABASE_PREPARED_STATEMENTS`, on by default), unless a connection pooler needs it off."""

from __future__ import annotations

import os

import pytest
from django.db.utils import ConnectionHandler
from pytest_django import DjangoDbBlocker

from labelkeep.settings import _database

SERVER = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def _prepared_after(config: dict[str, object], runs: int, blocker: DjangoDbBlocker) -> list[str]:
    """Run one parametrized query `runs` times on a private connection; what the server
    then holds prepared for that session."""
    connection = ConnectionHandler({"default": config})["default"]
    with blocker.unblock():
        try:
            with connection.cursor() as cursor:
                for n in range(runs):
                    cursor.execute("SELECT %s::integer + 1", [n])
                    assert cursor.fetchone() == (n + 1,)
                cursor.execute("SELECT statement FROM pg_prepared_statements")
                return [row[0] for row in cursor.fetchall()]
        finally:
            connection.close()


def test_statements_run_often_are_prepared_on_the_server(
    monkeypatch: pytest.MonkeyPatch, django_db_blocker: DjangoDbBlocker
) -> None:
    monkeypatch.setenv("DATABASE_URL", SERVER)
    monkeypatch.delenv("DATABASE_PREPARED_STATEMENTS", raising=False)
    config = _database()
    options = config["OPTIONS"]
    assert isinstance(options, dict)
    assert options["server_side_binding"] is True
    assert options["prepare_threshold"] == 5
    assert _prepared_after(config, 2, django_db_blocker) == []
    prepared = _prepared_after(config, 6, django_db_blocker)
    assert any("+ 1" in statement for statement in prepared), prepared


def test_prepared_statements_can_be_turned_off_for_a_transaction_pooler(
    monkeypatch: pytest.MonkeyPatch, django_db_blocker: DjangoDbBlocker
) -> None:
    monkeypatch.setenv("DATABASE_URL", SERVER)
    monkeypatch.setenv("DATABASE_PREPARED_STATEMENTS", "false")
    config = _database()
    assert config["OPTIONS"] == {}
    assert _prepared_after(config, 10, django_db_blocker) == []
