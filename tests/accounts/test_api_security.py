"""Attacks on the API's authentication: CSRF, throttling, CORS, proxies, body limits."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import connections
from django.test import Client, RequestFactory, override_settings
from django.utils import timezone

from labelkeep.accounts.models import ApiToken, LoginFailure, PersonalAccessToken
from labelkeep.security.hashing import key_hash
from tests.conftest import PASSWORD, HttpsClient, World


def _session_client(email: str) -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True, headers={"referer": "https://testserver/"})
    csrf = client.get("/api/auth/csrf", secure=True).json()["csrf_token"]
    response = client.post(
        "/api/auth/login",
        {"email": email, "password": PASSWORD},
        content_type="application/json",
        headers={"x-csrftoken": csrf},
        secure=True,
    )
    assert response.status_code == 200, response.content
    return client, str(client.cookies["csrftoken"].value)


def test_cookie_authenticated_write_needs_csrf(world: World) -> None:
    client, csrf = _session_client("admin@a.example")
    url = f"/api/organizations/{world.org.pk}"
    body = {"title": "Changed"}
    refused = client.patch(url, body, content_type="application/json", secure=True)
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    accepted = client.patch(
        url, body, content_type="application/json", headers={"x-csrftoken": csrf}, secure=True
    )
    assert accepted.status_code == 200


def test_cookie_reads_need_no_csrf(world: World) -> None:
    client, _ = _session_client("member@a.example")
    assert client.get("/api/current-user/whoami", secure=True).status_code == 200


def test_token_authenticated_write_needs_no_csrf(world: World) -> None:
    client = HttpsClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {world.admin.key}")
    response = client.patch(f"/api/organizations/{world.org.pk}", {"title": "T"}, format="json")
    assert response.status_code == 200


def test_api_login_requires_csrf(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/api/auth/login",
        {"email": "member@a.example", "password": PASSWORD},
        content_type="application/json",
        secure=True,
    )
    assert response.status_code == 403


def test_api_login_throttled_with_retry_after(world: World, settings: Any) -> None:
    settings.LOGIN_FAILURES_PER_ACCOUNT = 2
    client = Client()
    for _ in range(2):
        bad = client.post(
            "/api/auth/login",
            {"email": "member@a.example", "password": "wrong-password"},
            content_type="application/json",
            secure=True,
        )
        assert bad.status_code == 401
    throttled = client.post(
        "/api/auth/login",
        {"email": "member@a.example", "password": PASSWORD},
        content_type="application/json",
        secure=True,
    )
    assert throttled.status_code == 429
    assert 0 < int(throttled["Retry-After"]) <= settings.LOGIN_THROTTLE_WINDOW
    assert "Too many" in throttled.json()["detail"]
    assert throttled.json()["detail"].count("seconds") == 1
    from labelkeep.audit.models import AuditEvent

    event = AuditEvent.objects.get(action="login.throttled")
    # A known account's refusals are in its organization, where its admins read them.
    assert event.actor_id == world.member.user.pk and event.organization_id == world.org.pk


def test_login_throttled_per_address(world: World, settings: Any) -> None:
    settings.LOGIN_FAILURES_PER_ADDRESS = 3
    client = Client(REMOTE_ADDR="198.51.100.7")
    for n in range(3):
        client.post(
            "/api/auth/login",
            {"email": f"nobody{n}@a.example", "password": "wrong-password"},
            content_type="application/json",
            secure=True,
        )
    response = client.post(
        "/api/auth/login",
        {"email": "member@a.example", "password": PASSWORD},
        content_type="application/json",
        secure=True,
    )
    assert response.status_code == 429
    elsewhere = Client(REMOTE_ADDR="198.51.100.8").post(
        "/api/auth/login",
        {"email": "member@a.example", "password": PASSWORD},
        content_type="application/json",
        secure=True,
    )
    assert elsewhere.status_code == 200


def test_forwarded_for_ignored_without_trusted_proxy(world: World, settings: Any) -> None:
    settings.LOGIN_FAILURES_PER_ADDRESS = 2
    for n in range(2):
        Client(headers={"x-forwarded-for": f"203.0.113.{n}"}).post(
            "/api/auth/login",
            {"email": f"x{n}@a.example", "password": "wrong-password"},
            content_type="application/json",
            secure=True,
        )
    # A spoofed X-Forwarded-For does not escape the per-address limit.
    response = Client(headers={"x-forwarded-for": "203.0.113.99"}).post(
        "/api/auth/login",
        {"email": "member@a.example", "password": PASSWORD},
        content_type="application/json",
        secure=True,
    )
    assert response.status_code == 429


@override_settings(TRUSTED_PROXIES=["127.0.0.1/32"])
def test_trusted_proxy_supplies_client_address(world: World) -> None:
    client = Client(headers={"x-forwarded-for": "203.0.113.50, 127.0.0.1"})
    client.post(
        "/api/auth/login",
        {"email": "member@a.example", "password": "wrong-password"},
        content_type="application/json",
        secure=True,
    )
    from labelkeep.audit.models import AuditEvent

    assert AuditEvent.objects.get(action="login.failure").ip_address == "203.0.113.50"


def test_forwarded_proto_from_stranger_does_not_count_as_https(db: Any) -> None:
    response = Client(headers={"x-forwarded-proto": "https"}).get("/user/login/")
    assert response.status_code == 308


def test_cors_closed_by_default(world: World) -> None:
    response = world.member.client.get(
        "/api/current-user/whoami", headers={"origin": "https://evil.example"}
    )
    assert "Access-Control-Allow-Origin" not in response
    preflight = world.member.client.options(
        "/api/current-user/whoami",
        headers={"origin": "https://evil.example", "access-control-request-method": "GET"},
    )
    assert "Access-Control-Allow-Origin" not in preflight


@override_settings(CORS_ALLOWED_ORIGINS=["https://labeler.example"])
def test_cors_open_for_listed_origin_only(world: World) -> None:
    ok = world.member.client.get(
        "/api/current-user/whoami", headers={"origin": "https://labeler.example"}
    )
    assert ok["Access-Control-Allow-Origin"] == "https://labeler.example"
    other = world.member.client.get(
        "/api/current-user/whoami", headers={"origin": "https://evil.example"}
    )
    assert "Access-Control-Allow-Origin" not in other


def test_huge_body_is_refused_clearly(world: World, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    response = world.admin.client.patch(
        f"/api/organizations/{world.org.pk}", {"title": "x" * 5000}, format="json"
    )
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "2048 bytes" in response.json()["detail"]


def test_tokens_are_stored_only_as_hashes(world: World) -> None:
    stored = ApiToken.objects.get(user=world.member.user)
    assert stored.key_hash == key_hash(world.member.key)
    assert world.member.key not in stored.key_hash
    created = world.member.client.post("/api/token/").json()["token"]
    pat = PersonalAccessToken.objects.get(user=world.member.user)
    assert pat.token_hash == key_hash(created)
    assert created.rsplit(".", 1)[1] not in pat.preview  # the signature is never stored


def test_current_user_token_is_never_shown(world: World) -> None:
    body = world.member.client.get("/api/current-user/token").json()
    assert set(body) == {"detail"}
    assert world.member.key not in str(body)


def test_last_used_is_recorded(world: World) -> None:
    ApiToken.objects.filter(user=world.member.user).update(last_used_at=None)
    world.member.client.get("/api/current-user/whoami")
    assert ApiToken.objects.get(user=world.member.user).last_used_at is not None


def test_api_logout_ends_the_session_and_is_audited(world: World) -> None:
    from labelkeep.audit.models import AuditEvent

    client, csrf = _session_client("admin@a.example")
    refused = client.post("/api/auth/logout", secure=True)
    assert refused.status_code == 403
    assert client.get("/api/current-user/whoami", secure=True).status_code == 200
    out = client.post("/api/auth/logout", headers={"x-csrftoken": csrf}, secure=True)
    assert out.status_code == 204
    assert client.get("/api/current-user/whoami", secure=True).status_code == 401
    event = AuditEvent.objects.get(action="logout")
    assert event.actor_id == world.admin.user.pk
    assert event.organization_id == world.org.pk


@pytest.mark.django_db(transaction=True)
def test_parallel_guesses_cannot_outrun_the_account_limit(settings: Any) -> None:
    from labelkeep.accounts import login
    from labelkeep.accounts.roles import Role
    from tests.conftest import make_user

    settings.LOGIN_FAILURES_PER_ACCOUNT = 3
    make_user("target@race.example", role=Role.OWNER, title="Race")
    start = threading.Barrier(GUESSES)
    outcomes: list[str] = []

    def guess(n: int) -> None:
        request = RequestFactory().post("/api/auth/login", REMOTE_ADDR=f"198.51.100.{n + 1}")
        request.session = SessionStore()
        try:
            start.wait()
            login.sign_in(request, "target@race.example", f"wrong-guess-{n}")
        except login.LoginFailed:
            outcomes.append("checked")
        except login.LoginThrottled:
            outcomes.append("throttled")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(GUESSES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Exactly the limit's worth of passwords were checked; every other guess waited.
    assert sorted(outcomes) == ["checked"] * 3 + ["throttled"] * (GUESSES - 3)


GUESSES = 8


def _api_login(address: str, email: str, password: str) -> Any:
    return Client(REMOTE_ADDR=address).post(
        "/api/auth/login",
        {"email": email, "password": password},
        content_type="application/json",
        secure=True,
    )


def test_an_ipv6_subscriber_is_throttled_across_its_64(world: World, settings: Any) -> None:
    """Anyone holding an IPv6 /64 picks any of its addresses at will: guesses from
    different addresses of one /64 count together; another /64 is someone else."""
    settings.LOGIN_FAILURES_PER_ADDRESS = 3
    for n in range(3):
        guess = _api_login(f"2001:db8:1:2::{n + 1:x}", f"nobody{n}@a.example", "wrong-password")
        assert guess.status_code == 401
    same = _api_login("2001:db8:1:2:ffff:ffff:ffff:fffe", "member@a.example", PASSWORD)
    assert same.status_code == 429
    neighbour = _api_login("2001:db8:1:3::1", "member@a.example", PASSWORD)
    assert neighbour.status_code == 200


def test_an_ipv4_mapped_address_counts_as_its_ipv4_address(world: World, settings: Any) -> None:
    settings.LOGIN_FAILURES_PER_ADDRESS = 2
    _api_login("::ffff:198.51.100.9", "nobody@a.example", "wrong-password")
    _api_login("198.51.100.9", "nobody2@a.example", "wrong-password")
    assert _api_login("198.51.100.9", "member@a.example", PASSWORD).status_code == 429


@pytest.mark.parametrize(
    "addresses",
    [
        # 6to4: the /48 of 192.0.2.77 (2002:c000:24d::/48) holds 65,536 /64s.
        ["2002:c000:24d:1::1", "2002:c000:24d:2::1", "2002:c000:24d:ffff::1", "192.0.2.77"],
        # Teredo: the client's (obfuscated) IPv4 address, whatever its port.
        [
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:0:4136:e378:8000:63be:3fff:fdd2",
            "2001:0:4136:e378:8000:1111:3fff:fdd2",
            "192.0.2.45",
        ],
    ],
)
def test_an_ipv6_address_made_from_an_ipv4_one_counts_as_it(
    world: World, settings: Any, addresses: list[str]
) -> None:
    settings.LOGIN_FAILURES_PER_ADDRESS = 3
    *guesses, last = addresses
    for n, address in enumerate(guesses):
        assert _api_login(address, f"nobody{n}@a.example", "wrong-password").status_code == 401
    assert _api_login(last, "member@a.example", PASSWORD).status_code == 429


def test_expired_failures_are_forgotten_whoever_they_were_for(world: World, settings: Any) -> None:
    """A spray across many accounts leaves no rows behind once its window has passed."""
    for n in range(5):
        _api_login(f"198.51.100.{n + 20}", f"sprayed{n}@a.example", "wrong-password")
    assert LoginFailure.objects.count() == 10  # one per account, one per address
    LoginFailure.objects.update(
        created_at=timezone.now() - dt.timedelta(seconds=settings.LOGIN_THROTTLE_WINDOW + 1)
    )
    _api_login("198.51.100.99", "member@a.example", "wrong-password")
    keys = set(LoginFailure.objects.values_list("key", flat=True))
    assert keys == {"account:member@a.example", "address:198.51.100.99"}
