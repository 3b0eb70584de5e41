"""A headless Debian Chromium driven by playwright, against the real server process."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests.server.harness import RunningServer, running_server

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("e2e") / "data") as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is missing: scripts/install-system-deps.sh installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


class ConsoleLog(list[str]):
    """Console messages and page errors seen while the test ran."""

    def violations(self) -> list[str]:
        return [m for m in self if "Content Security Policy" in m or "Refused to" in m]


@pytest.fixture
def page(
    browser: Browser, live: RunningServer, tmp_path: Path
) -> Iterator[tuple[Page, ConsoleLog]]:
    context = browser.new_context(base_url=live.origin, ignore_https_errors=True)
    log = ConsoleLog()
    tab = context.new_page()

    def note(message: ConsoleMessage) -> None:
        log.append(message.text)

    tab.on("console", note)
    tab.on("pageerror", lambda error: log.append(str(error)))
    yield tab, log
    context.close()
