"""Fixtures for tests against the real HTTPS server process (marker `server`).

One server per test session (per xdist worker): the tests share its data directory, and
the first-start setup link is used once, by the `owner` fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.server.harness import RunningServer, form_token, running_server

OWNER_EMAIL = "owner@server.example"
OWNER_PASSWORD = "server test owner password 7"
ORG_TITLE = "Server Test Org"


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """`labelkeep start` with the in-process job worker, on a fresh data directory."""
    with running_server(tmp_path_factory.mktemp("server") / "data") as running:
        yield running


@dataclass(frozen=True)
class SetupOutcome:
    """The owner created through the one-time setup link, and the responses on the way."""

    email: str
    password: str
    organization: str
    form: httpx.Response
    created: httpx.Response
    reused: httpx.Response


@pytest.fixture(scope="session")
def owner(server: RunningServer) -> SetupOutcome:
    """Use the printed setup link as a browser would: load the form, post it, come back."""
    assert server.setup_url.startswith(f"{server.origin}/setup/"), server.stdout()
    with server.client() as browser:
        form = browser.get(server.setup_url)
        fields = {
            "email": OWNER_EMAIL,
            "password": OWNER_PASSWORD,
            "organization": ORG_TITLE,
            "csrfmiddlewaretoken": form_token(form.text) if form.status_code == 200 else "",
        }
        # Over HTTPS, Django's CSRF check also wants a same-origin Referer (or Origin).
        created = browser.post(server.setup_url, data=fields, headers={"Referer": server.setup_url})
        reused = browser.get(server.setup_url)
    return SetupOutcome(OWNER_EMAIL, OWNER_PASSWORD, ORG_TITLE, form, created, reused)


def sign_in(browser: httpx.Client, email: str, password: str) -> httpx.Response:
    """Sign `browser` in through /user/login/ as a person would; the login POST's response."""
    page = browser.get("/user/login/")
    fields = {"email": email, "password": password, "csrfmiddlewaretoken": form_token(page.text)}
    referer = str(browser.base_url.join("/user/login/"))
    return browser.post("/user/login/", data=fields, headers={"Referer": referer})
