"""Sign-in and sign-out, shared by the HTML pages and the JSON API."""

from __future__ import annotations

from django.contrib import auth
from django.http import HttpRequest

from labelkeep.accounts import throttle
from labelkeep.accounts.models import User
from labelkeep.accounts.permissions import membership_of
from labelkeep.audit.services import Origin, record


class LoginThrottled(Exception):
    """Too many failures for this account or address."""

    def __init__(self, wait: int) -> None:
        super().__init__(f"Too many failed sign-in attempts. Try again in {wait} seconds.")
        self.wait = wait


class LoginFailed(Exception):
    """Wrong e-mail or password (deliberately not saying which)."""


def sign_in(request: HttpRequest, email: str, password: str) -> User:
    """Check credentials under throttling, start a session and audit the outcome."""
    origin = Origin.of(request)
    email = (email or "").strip().lower()
    attempt = throttle.reserve(email, origin.ip_address)
    if attempt.wait:
        _refusal("login.throttled", email, origin)
        raise LoginThrottled(attempt.wait)
    user = auth.authenticate(request, username=email, password=password)
    if not isinstance(user, User) or not _may_sign_in(user):
        _refusal("login.failure", email, origin)
        raise LoginFailed("Wrong e-mail address or password.")
    auth.login(request, user)
    throttle.forgive(email, attempt)
    record("login.success", actor=user, origin=origin, organization_id=user.active_organization_id)
    return user


def _refusal(action: str, email: str, origin: Origin) -> None:
    """Audit a refused sign-in: in the account's organization when the e-mail is known."""
    known = User.objects.filter(email=email).only("id", "active_organization_id").first()
    record(
        action,
        actor=known,
        origin=origin,
        organization_id=known.active_organization_id if known else None,
        email=email,
    )


def _may_sign_in(user: User) -> bool:
    membership = membership_of(user)
    return membership is None or membership.is_active


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
