"""PostgreSQL over verified TLS, configured only through Labelkeep's environment variables.

DESIGN.md promise 9: `DATABASE_URL` plus `DATABASE_SSLMODE`, `DATABASE_SSLROOTCERT`,
`DATABASE_SSLCERT` and `DATABASE_SSLKEY`. Each test sets those variables, builds the
database settings with `labelkeep.settings._database()` (the function that builds
`DATABASES` at boot) and opens a Django connection with exactly that configuration to a
throwaway PostgreSQL cluster that refuses every connection without TLS.

A missing PostgreSQL server is an error here, never a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db.utils import ConnectionHandler, OperationalError
from pytest_django import DjangoDbBlocker

from labelkeep.settings import _database
from tests.integration.pgcluster import CERT_USER, SUPERUSER, Cluster, ssl_only_cluster

pytestmark = pytest.mark.integration

SSL_VARIABLES = ("DATABASE_SSLMODE", "DATABASE_SSLROOTCERT", "DATABASE_SSLCERT", "DATABASE_SSLKEY")
WHO_AND_HOW = (
    "SELECT current_user, ssl, version, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with ssl_only_cluster() as running:
        yield running


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what each test sets reaches libpq: no DATABASE_SSL* or PG* from the runner."""
    for name in SSL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("PG"):
            monkeypatch.delenv(name)


def configure(monkeypatch: pytest.MonkeyPatch, url: str, **ssl: str | Path) -> dict[str, object]:
    """Set DATABASE_URL and DATABASE_<ssl key> as an operator would; return the settings."""
    monkeypatch.setenv("DATABASE_URL", url)
    for key, value in ssl.items():
        monkeypatch.setenv(f"DATABASE_{key.upper()}", str(value))
    return _database()


def query(config: dict[str, object], blocker: DjangoDbBlocker) -> tuple[Any, ...]:
    """Connect through Django's PostgreSQL backend with `config` and run WHO_AND_HOW."""
    # A private handler: Django's own `connections` (the suite's database) stay untouched.
    connection = ConnectionHandler({"default": config})["default"]
    with blocker.unblock():
        try:
            with connection.cursor() as cursor:
                cursor.execute(WHO_AND_HOW)
                row = cursor.fetchone()
        finally:
            connection.close()
    assert row is not None
    return tuple(row)


def refused(config: dict[str, object], blocker: DjangoDbBlocker) -> str:
    """Connecting with `config` fails in libpq or the server; the reason, as psycopg gives it."""
    with pytest.raises(OperationalError) as failure:
        query(config, blocker)
    assert isinstance(failure.value.__cause__, psycopg.OperationalError)
    return str(failure.value)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_verify_full_with_the_servers_ca_connects_over_tls(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, django_db_blocker: DjangoDbBlocker, host: str
) -> None:
    config = configure(
        monkeypatch,
        f"postgres://{SUPERUSER}@{host}:{cluster.port}/postgres",
        sslmode="verify-full",
        sslrootcert=cluster.ca_cert,
    )
    assert config["ENGINE"] == "labelkeep.db.postgresql"
    assert config["HOST"] == host
    assert config["PORT"] == cluster.port
    assert config["OPTIONS"] == {
        "sslmode": "verify-full",
        "sslrootcert": str(cluster.ca_cert),
        "server_side_binding": True,
        "prepare_threshold": 5,
    }

    user, ssl, version, client_dn = query(config, django_db_blocker)

    assert (user, ssl) == (SUPERUSER, True)
    assert version in {"TLSv1.2", "TLSv1.3"}
    assert client_dn is None


def test_verify_full_rejects_a_host_name_the_certificate_does_not_name(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, django_db_blocker: DjangoDbBlocker
) -> None:
    # The right server at 127.0.0.1, asked for under a name its certificate lacks.
    config = configure(
        monkeypatch,
        f"postgres://{SUPERUSER}@not-in-the-certificate.invalid:{cluster.port}/postgres"
        "?hostaddr=127.0.0.1",
        sslmode="verify-full",
        sslrootcert=cluster.ca_cert,
    )

    reason = refused(config, django_db_blocker)

    assert 'does not match host name "not-in-the-certificate.invalid"' in reason


def test_verify_full_rejects_a_server_signed_by_another_ca(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, django_db_blocker: DjangoDbBlocker
) -> None:
    config = configure(
        monkeypatch,
        f"postgres://{SUPERUSER}@localhost:{cluster.port}/postgres",
        sslmode="verify-full",
        sslrootcert=cluster.other_ca_cert,
    )

    reason = refused(config, django_db_blocker)

    assert "certificate verify failed" in reason


def test_the_server_refuses_connections_without_tls(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, django_db_blocker: DjangoDbBlocker
) -> None:
    config = configure(
        monkeypatch,
        f"postgres://{SUPERUSER}@127.0.0.1:{cluster.port}/postgres",
        sslmode="disable",
    )

    reason = refused(config, django_db_blocker)

    assert "pg_hba.conf rejects connection" in reason
    assert "no encryption" in reason


def test_a_certificate_only_role_needs_the_client_certificate(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, django_db_blocker: DjangoDbBlocker
) -> None:
    url = f"postgres://{CERT_USER}@localhost:{cluster.port}/postgres"
    without = configure(monkeypatch, url, sslmode="verify-full", sslrootcert=cluster.ca_cert)
    assert "requires a valid client certificate" in refused(without, django_db_blocker)

    with_certificate = configure(
        monkeypatch,
        url,
        sslmode="verify-full",
        sslrootcert=cluster.ca_cert,
        sslcert=cluster.client_cert,
        sslkey=cluster.client_key,
    )
    assert with_certificate["OPTIONS"] == {
        "sslmode": "verify-full",
        "sslrootcert": str(cluster.ca_cert),
        "sslcert": str(cluster.client_cert),
        "sslkey": str(cluster.client_key),
        "server_side_binding": True,
        "prepare_threshold": 5,
    }

    user, ssl, _version, client_dn = query(with_certificate, django_db_blocker)

    assert (user, ssl) == (CERT_USER, True)
    assert f"CN={CERT_USER}" in client_dn
