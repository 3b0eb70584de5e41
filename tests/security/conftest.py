"""Fixtures for the guarded HTTP client: loopback servers, a CA, a network tripwire."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.security.servers import Authority, Running, make_authority, serving


@pytest.fixture
def http_server() -> Iterator[Running]:
    with serving(name="plain") as running:
        yield running


@pytest.fixture(scope="session")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    """A throwaway CA and a certificate for `public.test` only."""
    return make_authority(tmp_path_factory.mktemp("ca"), ["public.test"])


@pytest.fixture
def https_server(authority: Authority) -> Iterator[Running]:
    server_names: list[str | None] = []
    with serving(name="tls", tls=authority.server_context(server_names)) as running:
        running.server.server_names = server_names
        yield running


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any DNS lookup or socket connect fails the test: refusals must need no I/O."""

    def tripwire(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"network I/O attempted: {args!r}")

    monkeypatch.setattr(socket, "getaddrinfo", tripwire)
    monkeypatch.setattr(socket.socket, "connect", tripwire)
    monkeypatch.setattr(socket.socket, "connect_ex", tripwire)


def never_resolve(host: str, port: int) -> list[Any]:
    raise AssertionError(f"{host} was looked up")
