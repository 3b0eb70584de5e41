"""Sign-in and sign-out, shared by the HTML pages and the JSON API; password checks of
existing accounts joining an organization, and of signed-in users confirming theirs before
changing it, go through the same throttle."""

from __future__ import annotations

from typing import Any

from django.contrib import auth
from django.http import HttpRequest

from labelkeep.accounts import services, throttle
from labelkeep.accounts.models import Membership, User
from labelkeep.audit.services import Origin, record


class LoginThrottled(Exception):
    """Too many failures for this account or address."""

    def __init__(self, wait: int) -> None:
        super().__init__(f"Too many failed sign-in attempts. Try again in {wait} seconds.")
        self.wait = wait


class LoginFailed(Exception):
    """Wrong e-mail or password (deliberately not saying which)."""


class LoginRefused(LoginFailed):
    """The right password of an account that is no active member of any organization.
    Said only once the password proved right, so it tells nothing to anyone without it."""


NO_ACTIVE_MEMBERSHIP = (
    "This account is no longer an active member of any organization. "
    "Ask an administrator of your organization to restore your access."
)


def sign_in(request: HttpRequest, email: str, password: str) -> User:
    """Check credentials under throttling, start a session and audit the outcome."""
    origin = Origin.of(request)
    email = (email or "").strip().lower()
    user, attempt = _checked(request, email, password, origin)
    if services.settle_active_organization(user) is None:
        # The attempt stays counted: to the throttle, this is a failure like any other.
        removed = not Membership.objects.filter(user=user).exists()
        _refusal("login.refused", email, origin, reason="removed" if removed else "deactivated")
        raise LoginRefused(NO_ACTIVE_MEMBERSHIP)
    auth.login(request, user)
    throttle.forgive(email, attempt)
    record("login.success", actor=user, origin=origin, organization_id=user.active_organization_id)
    return user


def join(request: HttpRequest, token: str, email: str, password: str) -> User:
    """An existing account joins the organization of an invite link, once its password
    proved right under the sign-in throttle (a refused join stays a counted attempt)."""
    origin = Origin.of(request)
    email = (email or "").strip().lower()
    user, attempt = _checked(request, email, password, origin)
    try:
        services.join_organization(token, user, origin=origin)
    except services.AccountError as exc:
        _refusal("member.join_refused", email, origin, reason=str(exc))
        raise
    throttle.forgive(email, attempt)
    return user


def confirm_password(request: HttpRequest, user: User, password: str) -> None:
    """Check a signed-in user's current password (before it is changed) under the sign-in
    throttle: a session alone must not let anyone guess it. A wrong one is audited."""
    origin = Origin.of(request)
    attempt = throttle.reserve(user.email, origin.ip_address)
    if attempt.wait:
        _refusal("password.change_throttled", user.email, origin)
        raise LoginThrottled(attempt.wait)
    if not user.check_password(password):
        _refusal("password.change_failure", user.email, origin)
        raise LoginFailed("Your current password is not correct.")
    throttle.forgive(user.email, attempt)


def _checked(
    request: HttpRequest, email: str, password: str, origin: Origin
) -> tuple[User, throttle.Attempt]:
    """The account, if the password is right; the attempt is counted until forgiven."""
    attempt = throttle.reserve(email, origin.ip_address)
    if attempt.wait:
        _refusal("login.throttled", email, origin)
        raise LoginThrottled(attempt.wait)
    user = auth.authenticate(request, username=email, password=password)
    if not isinstance(user, User):
        _refusal("login.failure", email, origin)
        raise LoginFailed("Wrong e-mail address or password.")
    return user, attempt


def _refusal(action: str, email: str, origin: Origin, **details: Any) -> None:
    """Audit a refused sign-in: in the account's organization when the e-mail is known."""
    known = User.objects.filter(email=email).only("id", "active_organization_id").first()
    record(
        action,
        actor=known,
        origin=origin,
        organization_id=known.active_organization_id if known else None,
        email=email,
        **details,
    )


def sign_out(request: HttpRequest) -> None:
    # The session's user, read from the session itself: an API view without
    # authentication classes has already replaced `request.user` with an anonymous one.
    user = auth.get_user(request)
    if isinstance(user, User):
        record(
            "logout",
            actor=user,
            origin=Origin.of(request),
            organization_id=user.active_organization_id,
        )
    auth.logout(request)
