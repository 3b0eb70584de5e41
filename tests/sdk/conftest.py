"""Drive the real `label-studio-sdk` client against Labelkeep in-process.

Every SDK call goes through `httpx.WSGITransport` into `labelkeep.wsgi.application`, the
same WSGI entry point the server runs: full middleware stack (HTTPS redirect, host check,
security headers, CSRF, sessions) on an `https://` URL, against the pytest-django test
database.

Token refresh: `TokensClientExt.refresh()` (label_studio_sdk/tokens/client_ext.py) does
not open a client of its own when given a sync `httpx.Client`; it posts to
`urljoin(base_url, "api/token/refresh/")` through `client_wrapper.httpx_client.httpx_client`,
which is the client injected here. So the automatic PAT → access exchange travels the same
in-process transport, and nothing in the SDK or the server is patched.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from label_studio_sdk.client import LabelStudio

from labelkeep.wsgi import application

BASE_URL = "https://testserver"
# Status codes the SDK retries, even on POST (API-COMPAT.md §1 "Retries").
RETRIED = {408, 409, 429}


@dataclass
class Wire:
    """Every response an SDK client received during one test, redirects included."""

    responses: list[httpx.Response] = field(default_factory=list)

    def record(self, response: httpx.Response) -> None:
        response.read()  # in memory: the WSGI app already produced the whole body
        self.responses.append(response)

    def problems(self) -> list[str]:
        """Redirects, retried statuses and error bodies that a script could not parse."""
        found = []
        for response in self.responses:
            where = (
                f"{response.request.method} {response.request.url.path} → {response.status_code}"
            )
            if response.is_redirect or 300 <= response.status_code < 400:
                found.append(f"{where}: redirect to {response.headers.get('location')}")
            if response.status_code in RETRIED or response.status_code >= 500:
                found.append(f"{where}: the SDK would retry this")
            if response.status_code >= 400:
                try:
                    body = json.loads(response.content)
                except ValueError:
                    found.append(f"{where}: error body is not JSON: {response.text[:80]!r}")
                    continue
                if not response.headers.get("content-type", "").startswith("application/json"):
                    found.append(f"{where}: error content-type {response.headers['content-type']}")
                if not (isinstance(body, dict) and body.get("detail")):
                    found.append(f"{where}: error body has no detail: {body!r}")
        return found

    def calls(self, path: str) -> list[httpx.Response]:
        return [r for r in self.responses if r.request.url.path == path]


def in_process_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """`labelkeep.wsgi.application`, as a WSGI server in the test process would run it.

    The real handler sends `request_started` / `request_finished`, whose
    `close_old_connections` receiver would close the connection holding the test's
    transaction (on PostgreSQL the next query then fails). Like Django's own test client,
    keep that receiver off for the request, body and `close()` included; the app and its
    middleware run unchanged. The body is read here, so httpx gets it in one piece.
    """
    was_connected = [
        signal.disconnect(close_old_connections) for signal in (request_started, request_finished)
    ]
    try:
        result = application(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            # WSGI: call close() when the result has one; Django's response sends
            # request_finished there.
            close = getattr(result, "close", None)
            if close is not None:
                close()
    finally:
        for signal, connected in zip(
            (request_started, request_finished), was_connected, strict=True
        ):
            if connected:
                signal.connect(close_old_connections)
    return [body]


def in_process_client(wire: Wire) -> httpx.Client:
    return httpx.Client(
        transport=httpx.WSGITransport(app=in_process_app),
        follow_redirects=True,  # the SDK's default; the hook still sees each 3xx
        event_hooks={"response": [wire.record]},
    )


@pytest.fixture
def wire() -> Wire:
    return Wire()


SdkFactory = Callable[..., LabelStudio]


@pytest.fixture
def sdk(world: Any, wire: Wire) -> Iterator[SdkFactory]:
    """`sdk(api_key, **kwargs)` → a `LabelStudio` client talking to this test's server.

    After the test, no response may have been a redirect or a retried status, and every
    error body must be JSON with a `detail` (what the SDK hands to scripts in `ApiError`).
    """
    opened: list[httpx.Client] = []

    def make(api_key: str, **kwargs: Any) -> LabelStudio:
        http = in_process_client(wire)
        opened.append(http)
        # LabelStudio.__init__ is `(*args, **kwargs)`, untyped, around the typed base client.
        return LabelStudio(  # type: ignore[no-untyped-call]
            base_url=BASE_URL, api_key=api_key, httpx_client=http, **kwargs
        )

    yield make
    for http in opened:
        http.close()
    assert wire.responses, "no SDK request reached the server"
    assert wire.problems() == []
