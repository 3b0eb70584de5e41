"""API tokens: legacy keys and personal access tokens (JWT refresh → access)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from labelkeep.accounts.models import ApiToken, PersonalAccessToken, User
from labelkeep.accounts.permissions import membership_of
from labelkeep.audit.services import Origin, record
from labelkeep.security.hashing import key_hash, new_key

ALGORITHM = "HS256"


class TokenError(Exception):
    """A token that is malformed, expired, revoked or not allowed here."""


def _signing_key() -> bytes:
    return salted_hmac("labelkeep.accounts.jwt", "signing-key", algorithm="sha256").digest()


def _encode(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, _signing_key(), algorithm=ALGORITHM)


def decode(token: str, expected_type: str) -> dict[str, Any]:
    """Verify signature, `exp` and type; raise TokenError otherwise."""
    try:
        claims = jwt.decode(
            token,
            _signing_key(),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "iat", "jti", "token_type", "user_id"]},
        )
    except jwt.PyJWTError as exc:
        raise TokenError(str(exc)) from None
    if claims.get("token_type") != expected_type:
        raise TokenError("wrong token type")
    return claims


def _org_id(user: User) -> int | None:
    return user.active_organization_id


# --- Legacy keys -----------------------------------------------------------------------


def reset_legacy_token(user: User, *, actor: User, origin: Origin) -> str:
    """Replace the user's legacy key; the old one stops working at once. Returns the new key."""
    key = new_key()
    with transaction.atomic():
        # Under a lock on the user: two resets at once would both delete the old key and
        # both insert a new one, and the second insert would break the one-key rule (a 500).
        User.objects.select_for_update().filter(pk=user.pk).first()
        ApiToken.objects.filter(user=user).delete()
        ApiToken.objects.create(user=user, key_hash=key_hash(key))
        record(
            "token.reset", actor=actor, origin=origin, organization_id=_org_id(user), target=user
        )
    return key


def touch(
    model: type[ApiToken] | type[PersonalAccessToken], pk: int, last: dt.datetime | None
) -> None:
    """Record use, at most once per TOKEN_LAST_USED_PRECISION seconds (keeps reads cheap)."""
    now = timezone.now()
    if last is None or (now - last).total_seconds() > settings.TOKEN_LAST_USED_PRECISION:
        model.objects.filter(pk=pk).update(last_used_at=now)


# --- Personal access tokens ------------------------------------------------------------


@dataclass(frozen=True)
class IssuedToken:
    token: str
    record: PersonalAccessToken


def create_pat(user: User, *, actor: User, origin: Origin) -> IssuedToken:
    """Issue a new PAT (a JWT refresh token with `exp`), shown once."""
    org = user.active_organization
    if org is None or not org.api_tokens_enabled:
        raise TokenError("personal access tokens are disabled for this organization")
    with transaction.atomic():
        # Counted under a lock on the user (SQLite: the IMMEDIATE transaction's write
        # lock), so parallel requests cannot all pass the count before any inserts.
        User.objects.select_for_update().filter(pk=user.pk).first()
        live = PersonalAccessToken.objects.filter(
            user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )
        if live.count() >= settings.PERSONAL_ACCESS_TOKENS_PER_USER:
            raise TokenError(
                f"at most {settings.PERSONAL_ACCESS_TOKENS_PER_USER} active tokens; "
                "revoke one first"
            )
        issued = _issue_refresh(user, org.api_token_ttl_days)
        record("token.create", actor=actor, origin=origin, organization_id=org.pk, target=user)
    return issued


def _issue_refresh(user: User, ttl_days: int) -> IssuedToken:
    now = timezone.now()
    expires = now + dt.timedelta(days=ttl_days)
    jti = uuid.uuid4().hex
    claims = {
        "token_type": "refresh",
        "exp": int(expires.timestamp()),
        "iat": int(now.timestamp()),
        "jti": jti,
        "user_id": str(user.pk),
    }
    token = _encode(claims)
    header_and_claims = token.rsplit(".", 1)[0]
    pat = PersonalAccessToken.objects.create(
        user=user,
        jti=jti,
        token_hash=key_hash(token),
        preview=header_and_claims,
        expires_at=expires,
    )
    return IssuedToken(token, pat)


def live_pat(refresh: str) -> PersonalAccessToken:
    """The stored, unrevoked PAT behind a refresh token, or TokenError."""
    claims = decode(refresh, "refresh")
    pat = (
        PersonalAccessToken.objects.select_related("user", "user__active_organization")
        .filter(jti=claims["jti"], token_hash=key_hash(refresh), revoked_at__isnull=True)
        .first()
    )
    if pat is None or not pat.user.is_active:
        raise TokenError("token is invalid or has been revoked")
    org = pat.user.active_organization
    if org is None:
        raise TokenError("this account is not an active member of any organization")
    if not org.api_tokens_enabled:
        raise TokenError("personal access tokens are disabled for this organization")
    membership = membership_of(pat.user)
    if membership is None or not membership.is_active:
        raise TokenError("this account is not an active member of its organization")
    return pat


def refresh_access(refresh: str) -> str:
    """Exchange a PAT for a short-lived access token tied to that PAT."""
    pat = live_pat(refresh)
    touch(PersonalAccessToken, pat.pk, pat.last_used_at)
    now = timezone.now()
    ttl = min(dt.timedelta(seconds=settings.JWT_ACCESS_TOKEN_TTL), pat.expires_at - now)
    claims = {
        "token_type": "access",
        "exp": int((now + ttl).timestamp()),
        "iat": int(now.timestamp()),
        "jti": uuid.uuid4().hex,
        "user_id": str(pat.user_id),
        "pat": pat.jti,
    }
    return _encode(claims)


def rotate_pat(refresh: str, *, actor: User, origin: Origin) -> IssuedToken:
    """Revoke a PAT and issue its replacement; access tokens from the old one stop at once."""
    with transaction.atomic():
        pat = live_pat(refresh)
        if pat.user_id != actor.pk:
            raise TokenError("token is invalid or has been revoked")
        _revoke(pat)
        org = pat.user.active_organization
        ttl_days = org.api_token_ttl_days if org else 1
        issued = _issue_refresh(pat.user, ttl_days)
        record(
            "token.rotate", actor=actor, origin=origin, organization_id=_org_id(actor), target=actor
        )
    return issued


def blacklist_pat(refresh: str, *, actor: User, origin: Origin) -> None:
    """Revoke a PAT for good."""
    with transaction.atomic():
        claims = decode(refresh, "refresh")
        pat = PersonalAccessToken.objects.filter(
            jti=claims["jti"], token_hash=key_hash(refresh), user=actor, revoked_at__isnull=True
        ).first()
        if pat is None:
            raise TokenError("token is invalid or has been revoked")
        _revoke(pat)
        record(
            "token.revoke", actor=actor, origin=origin, organization_id=_org_id(actor), target=actor
        )


def _revoke(pat: PersonalAccessToken) -> None:
    """Revoke a PAT read as live, unless a parallel request revoked it first: only one
    rotation of a PAT issues a replacement, and only one revocation is audited."""
    now = timezone.now()
    if not PersonalAccessToken.objects.filter(pk=pat.pk, revoked_at__isnull=True).update(
        revoked_at=now
    ):
        raise TokenError("token is invalid or has been revoked")
    pat.revoked_at = now
