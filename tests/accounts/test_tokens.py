"""Personal access tokens (JWT refresh → access), legacy keys and the org switches."""

from __future__ import annotations

import datetime as dt
import time

import jwt
import pytest
from django.utils import timezone

from labelkeep.accounts import tokens
from labelkeep.accounts.models import PersonalAccessToken
from labelkeep.audit.models import AuditEvent
from tests.conftest import TEST_ORIGIN, HttpsClient, World


def _bearer(access: str) -> HttpsClient:
    client = HttpsClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def _pat(world: World) -> str:
    response = world.member.client.post("/api/token/")
    assert response.status_code == 201
    body = response.json()
    assert body["expires_at"] and body["created_at"]
    return str(body["token"])


def _refresh(refresh: str) -> tuple[int, dict[str, str]]:
    response = HttpsClient().post("/api/token/refresh/", {"refresh": refresh}, format="json")
    return response.status_code, response.json()


def test_pat_claims_and_access_flow(world: World) -> None:
    pat = _pat(world)
    claims = jwt.decode(pat, options={"verify_signature": False})
    assert claims["token_type"] == "refresh"
    assert claims["user_id"] == str(world.member.user.pk)
    assert claims["exp"] > time.time() + 86400
    assert {"iat", "jti"} <= set(claims)
    status, body = _refresh(pat)
    assert status == 200
    access_claims = jwt.decode(body["access"], options={"verify_signature": False})
    assert access_claims["token_type"] == "access"
    assert access_claims["exp"] <= time.time() + 301
    whoami = _bearer(body["access"]).get("/api/current-user/whoami")
    assert whoami.json()["email"] == "member@a.example"


def test_refresh_token_is_not_an_access_token(world: World) -> None:
    pat = _pat(world)
    assert _bearer(pat).get("/api/current-user/whoami").status_code == 401


def test_access_token_is_not_a_refresh_token(world: World) -> None:
    _, body = _refresh(_pat(world))
    status, error = _refresh(body["access"])
    assert status == 401
    assert "detail" in error


def test_tampered_or_foreign_tokens_are_refused(world: World) -> None:
    pat = _pat(world)
    header, payload, signature = pat.split(".")
    forged_claims = jwt.decode(pat, options={"verify_signature": False})
    forged_claims["user_id"] = str(world.admin.user.pk)
    forged = jwt.encode(forged_claims, "guessed-key-of-at-least-32-bytes!!", algorithm="HS256")
    assert _refresh(forged)[0] == 401
    none_alg = jwt.encode(forged_claims, "", algorithm="none")
    assert _refresh(none_alg)[0] == 401
    assert _refresh(f"{header}.{payload}.{signature[:-2]}xx")[0] == 401
    assert _refresh("garbage")[0] == 401


def test_expired_pat_is_refused(world: World) -> None:
    now = int(time.time())
    expired = tokens._encode(
        {"token_type": "refresh", "exp": now - 10, "iat": now - 100, "jti": "x", "user_id": "1"}
    )
    status, body = _refresh(expired)
    assert status == 401
    assert "expired" in body["detail"].lower()


def test_rotate_ends_old_pat_and_its_access_tokens(world: World) -> None:
    pat = _pat(world)
    _, body = _refresh(pat)
    old_access = body["access"]
    rotated = world.member.client.post("/api/token/rotate/", {"refresh": pat}, format="json")
    assert rotated.status_code == 200
    new_pat = rotated.json()["refresh"]
    assert new_pat != pat
    assert _refresh(pat)[0] == 401
    assert _bearer(old_access).get("/api/current-user/whoami").status_code == 401
    assert _refresh(new_pat)[0] == 200
    assert AuditEvent.objects.filter(action="token.rotate").exists()


def test_cannot_rotate_someone_elses_pat(world: World) -> None:
    pat = _pat(world)
    response = world.admin.client.post("/api/token/rotate/", {"refresh": pat}, format="json")
    assert response.status_code == 400
    assert _refresh(pat)[0] == 200


def test_blacklist(world: World) -> None:
    pat = _pat(world)
    _, body = _refresh(pat)
    first = world.member.client.post("/api/token/blacklist/", {"refresh": pat}, format="json")
    assert first.status_code == 204
    assert _refresh(pat)[0] == 401
    assert _bearer(body["access"]).get("/api/current-user/whoami").status_code == 401
    again = world.member.client.post("/api/token/blacklist/", {"refresh": pat}, format="json")
    assert again.status_code == 404


def test_list_shows_no_usable_secret(world: World) -> None:
    pat = _pat(world)
    listed = world.member.client.get("/api/token/").json()
    assert len(listed) == 1
    assert listed[0]["token"] == pat.rsplit(".", 1)[0]
    assert _refresh(listed[0]["token"])[0] == 401
    assert world.admin.client.get("/api/token/").json() == []


def test_pat_limit_is_a_400_not_409(world: World, settings) -> None:
    settings.PERSONAL_ACCESS_TOKENS_PER_USER = 2
    _pat(world)
    _pat(world)
    response = world.member.client.post("/api/token/")
    assert response.status_code == 400
    assert "at most 2" in response.json()["detail"]


def test_org_ttl_applies(world: World) -> None:
    changed = world.admin.client.post("/api/jwt/settings", {"api_token_ttl_days": 3}, format="json")
    assert changed.status_code == 200, changed.content
    before = time.time()
    claims = jwt.decode(_pat(world), options={"verify_signature": False})
    after = time.time()
    # Three days from its issue, to the second: not the default TTL, nor none at all.
    assert before + 3 * 86400 - 2 <= claims["exp"] <= after + 3 * 86400 + 2
    assert claims["exp"] - claims["iat"] == 3 * 86400


def test_switching_pats_off(world: World) -> None:
    pat = _pat(world)
    _, body = _refresh(pat)
    response = world.admin.client.post(
        "/api/jwt/settings", {"api_tokens_enabled": False}, format="json"
    )
    assert response.status_code == 200
    assert _refresh(pat)[0] == 401
    assert _bearer(body["access"]).get("/api/current-user/whoami").status_code == 401
    assert world.member.client.post("/api/token/").status_code == 400
    assert world.member.client.get("/api/current-user/whoami").status_code == 200


def test_switching_legacy_keys_off(world: World) -> None:
    pat = _pat(world)
    world.admin.client.post(
        "/api/jwt/settings", {"legacy_api_tokens_enabled": False}, format="json"
    )
    refused = world.member.client.get("/api/current-user/whoami")
    assert refused.status_code == 401
    assert "disabled" in refused.json()["detail"]
    _, body = _refresh(pat)
    assert _bearer(body["access"]).get("/api/current-user/whoami").status_code == 200
    # Other organizations are unaffected.
    assert world.outsider.client.get("/api/current-user/whoami").status_code == 200


def test_token_settings_need_admin(world: World) -> None:
    assert world.member.client.get("/api/jwt/settings").status_code == 200
    refused = world.member.client.post(
        "/api/jwt/settings", {"legacy_api_tokens_enabled": False}, format="json"
    )
    assert refused.status_code == 403
    bad = world.admin.client.post("/api/jwt/settings", {"api_token_ttl_days": 0}, format="json")
    assert bad.status_code == 400
    wrong_type = world.admin.client.post(
        "/api/jwt/settings", {"api_tokens_enabled": "perhaps"}, format="json"
    )
    assert wrong_type.status_code == 400


def test_x_api_key_header(world: World) -> None:
    client = HttpsClient()
    assert (
        client.get("/api/current-user/whoami", headers={"x-api-key": world.member.key}).status_code
        == 200
    )
    _, body = _refresh(_pat(world))
    assert (
        client.get("/api/current-user/whoami", headers={"x-api-key": body["access"]}).status_code
        == 200
    )
    assert client.get("/api/current-user/whoami", headers={"x-api-key": "nope"}).status_code == 401


def test_reset_legacy_key_invalidates_old_at_once(world: World) -> None:
    old = world.member.key
    response = world.member.client.post("/api/current-user/reset-token/")
    assert response.status_code == 201
    new = response.json()["token"]
    assert new != old and len(new) == 40
    assert world.member.client.get("/api/current-user/whoami").status_code == 401
    fresh = HttpsClient()
    fresh.credentials(HTTP_AUTHORIZATION=f"Token {new}")
    assert fresh.get("/api/current-user/whoami").status_code == 200


def test_deactivated_users_tokens_stop(world: World) -> None:
    pat = _pat(world)
    world.member.user.is_active = False
    world.member.user.save()
    assert world.member.client.get("/api/current-user/whoami").status_code == 401
    assert _refresh(pat)[0] == 401


def test_expired_record_refuses_access(world: World) -> None:
    pat = _pat(world)
    _, body = _refresh(pat)
    PersonalAccessToken.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert _bearer(body["access"]).get("/api/current-user/whoami").status_code == 401


@pytest.mark.parametrize("header", ["Token", "Token a b", "Bearer", "Token \u00e9\u00e9"])
def test_malformed_authorization_headers(db, header: str) -> None:
    client = HttpsClient()
    response = client.get("/api/current-user/whoami", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401


def test_service_refuses_create_when_disabled(world: World) -> None:
    org = world.org
    org.api_tokens_enabled = False
    org.save()
    with pytest.raises(tokens.TokenError):
        tokens.create_pat(world.member.user, actor=world.member.user, origin=TEST_ORIGIN)


@pytest.mark.parametrize("kind", ["legacy", "pat"])
def test_token_request_costs_one_query(world: World, kind: str) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if kind == "legacy":
        client = world.member.client
    else:
        _, body = _refresh(_pat(world))
        client = _bearer(body["access"])
    client.get("/api/current-user/whoami")  # records last use, once a minute at most
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/current-user/whoami").status_code == 200
    # Token, user, organization and membership come back in one query.
    assert len(queries) == 1, [q["sql"] for q in queries]
