"""First start, sign-in, sessions and API tokens, against the real server process."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest

from tests.server.conftest import SetupOutcome, sign_in
from tests.server.harness import RunningServer, run_cli

pytestmark = pytest.mark.server

MEMBER_PASSWORD = "server test member password 8"


def test_setup_link_creates_the_owner_once(server: RunningServer, owner: SetupOutcome) -> None:
    assert owner.form.status_code == 200
    assert 'name="organization"' in owner.form.text
    assert 'name="password"' in owner.form.text
    assert owner.created.status_code == 302, owner.created.text
    assert owner.created.headers["Location"] == "/user/login/"
    assert owner.reused.status_code == 404


def test_owner_signs_in_and_the_api_knows_them(server: RunningServer, owner: SetupOutcome) -> None:
    with server.client() as browser:
        response = sign_in(browser, owner.email, owner.password)
        assert response.status_code == 302, response.text
        assert response.headers["Location"] == "/"
        cookies: SimpleCookie = SimpleCookie()
        for header in response.headers.get_list("set-cookie"):
            cookies.load(header)
        session = cookies["sessionid"]
        assert session["secure"] is True
        assert session["httponly"] is True
        assert session["samesite"].lower() in {"lax", "strict"}

        assert browser.get("/").status_code == 200
        whoami = browser.get("/api/current-user/whoami")
        assert whoami.status_code == 200
        body = whoami.json()
        assert body["email"] == owner.email
        assert body["role"] == "owner"
        assert body["active_organization_meta"]["title"] == owner.organization


def test_anonymous_api_call_is_json_401(server: RunningServer) -> None:
    with server.client() as client:
        response = client.get("/api/current-user/whoami")
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/json")
    assert "detail" in response.json()


@pytest.mark.parametrize("forged", ["garbage", "a" * 32, "0123456789abcdefghijklmnopqrstuv"])
def test_forged_session_cookie_is_not_accepted(
    server: RunningServer, owner: SetupOutcome, forged: str
) -> None:
    with server.client(cookies={"sessionid": forged}) as client:
        api = client.get("/api/current-user/whoami")
        page = client.get("/")
    assert api.status_code in {401, 403}
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/user/login/")


def test_tampered_session_id_is_not_accepted(server: RunningServer, owner: SetupOutcome) -> None:
    with server.client() as browser:
        assert sign_in(browser, owner.email, owner.password).status_code == 302
        real = browser.cookies["sessionid"]
        assert browser.get("/api/current-user/whoami").status_code == 200
    tampered = real[:-1] + ("a" if real[-1] != "a" else "b")
    with server.client(cookies={"sessionid": tampered}) as client:
        assert client.get("/api/current-user/whoami").status_code in {401, 403}
        assert client.get("/").status_code == 302


def test_cli_user_token_works_and_reset_revokes_it(
    server: RunningServer, owner: SetupOutcome
) -> None:
    created = run_cli(
        "user",
        "create",
        "--email",
        "member@server.example",
        "--password-stdin",
        "--org",
        owner.organization,
        "--token",
        data_dir=server.data_dir,
        stdin=MEMBER_PASSWORD + "\n",
    )
    assert created.returncode == 0, created.stdout + created.stderr
    lines = created.stdout.strip().splitlines()
    token = lines[-1]
    assert token.strip() == token and " " not in token and len(token) >= 32, lines
    assert "member@server.example" in lines[0]

    with server.client() as client:
        whoami = client.get("/api/current-user/whoami", headers={"Authorization": f"Token {token}"})
        assert whoami.status_code == 200, whoami.text
        assert whoami.json()["email"] == "member@server.example"
        assert whoami.json()["active_organization_meta"]["title"] == owner.organization

        reset = client.post(
            "/api/current-user/reset-token/", headers={"Authorization": f"Token {token}"}
        )
        assert reset.status_code == 201, reset.text
        new_token = reset.json()["token"]
        assert new_token != token

        old = client.get("/api/current-user/whoami", headers={"Authorization": f"Token {token}"})
        assert old.status_code == 401
        new = client.get(
            "/api/current-user/whoami", headers={"Authorization": f"Token {new_token}"}
        )
        assert new.status_code == 200
