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
    wait = throttle.retry_after(email, origin.ip_address)
    if wait:
        record("login.throttled", actor=None, origin=origin, email=email)
        raise LoginThrottled(wait)
    user = auth.authenticate(request, username=email, password=password)
    if not isinstance(user, User) or not _may_sign_in(user):
        throttle.note_failure(email, origin.ip_address)
        known = User.objects.filter(email=email).only("id", "active_organization_id").first()
        record(
            "login.failure",
            actor=known,
            origin=origin,
            organization_id=known.active_organization_id if known else None,
            email=email,
        )
        raise LoginFailed("Wrong e-mail address or password.")
    auth.login(request, user)
    throttle.clear_account(email)
    record("login.success", actor=user, origin=origin, organization_id=user.active_organization_id)
    return user


def _may_sign_in(user: User) -> bool:
    membership = membership_of(user)
    return membership is None or membership.is_active


def sign_out(request: HttpRequest) -> None:
    user = request.user
    if isinstance(user, User):
        record(
            "logout",
            actor=user,
            origin=Origin.of(request),
            organization_id=user.active_organization_id,
        )
    auth.logout(request)
