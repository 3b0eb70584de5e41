"""Request-level access: the caller's membership and the permission an endpoint needs."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from labelkeep.accounts.models import Membership, User
from labelkeep.accounts.roles import Perm, has_perm


def membership_of(user: User) -> Membership | None:
    """The user's membership in their active organization, if any."""
    if not user.active_organization_id:
        return None
    return (
        Membership.objects.select_related("organization")
        .filter(user=user, organization_id=user.active_organization_id)
        .first()
    )


def request_membership(request: Request) -> Membership | None:
    """The caller's membership, looked up once per request."""
    cache: dict[str, Membership | None] = request.__dict__.setdefault("_labelkeep", {})
    if "membership" not in cache:
        user = request.user
        cache["membership"] = membership_of(user) if isinstance(user, User) else None
    return cache["membership"]


NO_MEMBERSHIP = "This account is not an active member of any organization."
DEACTIVATED = "Your membership in this organization has been deactivated."


class IsActiveMember(BasePermission):
    """An authenticated, non-deactivated member holding the view's `required_perms[method]`."""

    message = "You do not have permission to perform this action."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        membership = request_membership(request)
        if membership is None:
            self.message = NO_MEMBERSHIP
            return False
        if not membership.is_active:
            self.message = DEACTIVATED
            return False
        # HEAD runs the GET handler, so it needs what GET needs.
        method = "GET" if request.method == "HEAD" else request.method
        needed: Perm | None = getattr(view, "required_perms", {}).get(method)
        return needed is None or has_perm(membership.role, needed)
