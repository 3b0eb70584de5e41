"""A person sets up Labelkeep, signs in, makes a token and signs out, in a real browser."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ConsoleLog
from tests.server.harness import RunningServer

pytestmark = pytest.mark.server

PASSWORD = "a long browser passphrase 5"


def _sign_in(tab: Page, email: str, password: str) -> None:
    tab.goto("/user/login/")
    tab.fill("#id_email", email)
    tab.fill("#id_password", password)
    tab.click("button[type=submit]")


def test_first_start_to_token_and_sign_out(
    page: tuple[Page, ConsoleLog], live: RunningServer
) -> None:
    tab, log = page
    tab.goto(httpx.URL(live.setup_url).path)
    expect(tab.locator("h1")).to_have_text("Set up Labelkeep")
    tab.fill("#id_email", "owner@browser.example")
    tab.fill("#id_first_name", "Olga")
    tab.fill("#id_password", PASSWORD)
    tab.fill("#id_organization", "Browser Org")
    tab.click("button[type=submit]")
    expect(tab.locator("h1")).to_have_text("Sign in")

    _sign_in(tab, "owner@browser.example", "not the password")
    expect(tab.locator("[role=alert]")).to_contain_text("Wrong e-mail address or password")

    _sign_in(tab, "owner@browser.example", PASSWORD)
    expect(tab.locator("h1")).to_have_text("Welcome, Olga")
    expect(tab.locator("main")).to_contain_text("Browser Org")

    tab.goto("/user/account/")
    tab.click("text=Create personal access token")
    token = tab.locator("#new-token").inner_text()
    assert token.count(".") == 2  # a JWT, shown once
    tab.goto("/user/account/")  # shown once: a later visit does not show it again
    expect(tab.locator("#new-token")).to_have_count(0)
    expect(tab.locator("table tbody tr")).to_have_count(1)
    expect(tab.locator("#invite-link")).to_contain_text("/user/signup/?token=")

    tab.goto("/")
    tab.click("text=Members")
    expect(tab.locator("h1")).to_have_text("Members of Browser Org")
    expect(tab.locator("table tbody tr")).to_contain_text("owner@browser.example")
    tab.goto("/")
    tab.click("text=Audit log")
    expect(tab.locator("h1")).to_have_text("Audit log of Browser Org")
    expect(tab.locator("table.events")).to_contain_text("token.create")
    tab.fill("#action", "login.failure")
    tab.click("text=Filter")
    expect(tab.locator("table.events tbody tr")).to_have_count(1)
    expect(tab.locator("table.events")).not_to_contain_text("token.create")

    tab.click("text=Sign out")
    expect(tab.locator("h1")).to_have_text("Sign in")
    tab.goto("/user/account/")
    expect(tab.locator("h1")).to_have_text("Sign in")
    tab.goto(httpx.URL(live.setup_url).path)
    expect(tab.locator("h1")).to_have_text("This link is not valid")
    assert not log.violations(), log
