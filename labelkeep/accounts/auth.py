"""DRF authentication: legacy `Token` keys, JWT access tokens and `X-API-Key`."""

from __future__ import annotations

from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from labelkeep.accounts.models import ApiToken, Membership, PersonalAccessToken, User
from labelkeep.accounts.tokens import TokenError, decode, touch
from labelkeep.db.prepared import PreparedSelect
from labelkeep.security.hashing import key_hash

INVALID = "Invalid or expired token."
NO_ORGANIZATION = "This account is not an active member of any organization."


def _with_membership(tokens: QuerySet[Any]) -> QuerySet[Any]:
    """Fetch the user's membership in their active organization with the token itself,
    saving every token-authenticated request a query."""
    mine = Membership.objects.filter(
        user=OuterRef("user"), organization=OuterRef("user__active_organization")
    )
    annotated: QuerySet[Any] = tokens.select_related("user", "user__active_organization").annotate(
        member_id=Subquery(mine.values("id")[:1]), member_role=Subquery(mine.values("role")[:1])
    )
    return annotated


# Every token-authenticated request runs one of these: prepared, so never recompiled.
_LEGACY = PreparedSelect(
    lambda key_hash: _with_membership(ApiToken.objects.filter(key_hash=key_hash))[:1],
    key_hash=str,
)
_PAT = PreparedSelect(
    lambda jti: _with_membership(
        PersonalAccessToken.objects.filter(jti=jti, revoked_at__isnull=True)
    )[:1],
    jti=str,
)


def remember_membership(request: Request, token: Any) -> None:
    """Seed the per-request membership cache (labelkeep.accounts.permissions)."""
    user = token.user
    membership = None
    if token.member_id is not None and user.active_organization is not None:
        membership = Membership(
            id=token.member_id,
            organization=user.active_organization,
            user=user,
            role=token.member_role,
        )
    request.__dict__.setdefault("_labelkeep", {})["membership"] = membership


def _legacy(key: str) -> tuple[User, ApiToken]:
    token = _LEGACY.first(key_hash=key_hash(key))
    if token is None or not token.user.is_active:
        raise exceptions.AuthenticationFailed(INVALID)
    org = token.user.active_organization
    if org is not None and not org.legacy_api_tokens_enabled:
        raise exceptions.AuthenticationFailed(
            "Legacy token authentication has been disabled for this organization."
        )
    touch(ApiToken, token.pk, token.last_used_at)
    return token.user, token


def _access(raw: str) -> tuple[User, PersonalAccessToken]:
    try:
        claims = decode(raw, "access")
    except TokenError:
        raise exceptions.AuthenticationFailed(INVALID) from None
    jti = claims.get("pat", "")
    pat = _PAT.first(jti=jti) if isinstance(jti, str) else None
    if (
        pat is None
        or pat.expires_at <= timezone.now()
        or not pat.user.is_active
        or str(pat.user_id) != claims["user_id"]
    ):
        raise exceptions.AuthenticationFailed(INVALID)
    org = pat.user.active_organization
    if org is None:
        raise exceptions.AuthenticationFailed(NO_ORGANIZATION)
    if not org.api_tokens_enabled:
        raise exceptions.AuthenticationFailed(
            "Personal access tokens have been disabled for this organization."
        )
    return pat.user, pat


def _seeded(request: Request, found: tuple[User, Any]) -> tuple[User, Any]:
    remember_membership(request, found[1])
    return found


def _credentials(request: Request, scheme: bytes) -> str | None:
    parts = get_authorization_header(request).split()
    if not parts or parts[0].lower() != scheme:
        return None
    if len(parts) != 2:
        raise exceptions.AuthenticationFailed("Malformed Authorization header.")
    try:
        return parts[1].decode("ascii")
    except UnicodeDecodeError:
        raise exceptions.AuthenticationFailed("Malformed Authorization header.") from None


class LegacyTokenAuthentication(BaseAuthentication):
    """`Authorization: Token <key>` (Label Studio's legacy API key)."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        key = _credentials(request, b"token")
        return None if key is None else _seeded(request, _legacy(key))

    def authenticate_header(self, request: Request) -> str:
        return "Token"


class AccessTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <access JWT>` obtained from a personal access token."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        raw = _credentials(request, b"bearer")
        return None if raw is None else _seeded(request, _access(raw))

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class ApiKeyHeaderAuthentication(BaseAuthentication):
    """`X-API-Key: <legacy key or access JWT>` for clients that cannot set Authorization."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        raw = request.META.get("HTTP_X_API_KEY", "").strip()
        if not raw:
            return None
        return _seeded(request, _access(raw) if raw.count(".") == 2 else _legacy(raw))
