"""Base class for API views: authenticated member, per-method permission, audit origin."""

from __future__ import annotations

from typing import ClassVar

from rest_framework import exceptions
from rest_framework.views import APIView

from labelkeep.accounts.models import Membership, User
from labelkeep.accounts.permissions import IsActiveMember, request_membership
from labelkeep.accounts.roles import Perm, Role
from labelkeep.audit.services import Origin


class MemberAPIView(APIView):
    """Every organization-scoped endpoint derives from this; scoping is not optional."""

    permission_classes = [IsActiveMember]
    required_perms: ClassVar[dict[str, Perm]] = {}

    @property
    def membership(self) -> Membership:
        membership = request_membership(self.request)
        if membership is None:  # IsActiveMember already refused such callers
            raise exceptions.PermissionDenied()
        return membership

    @property
    def role(self) -> Role:
        return Role(self.membership.role)

    @property
    def actor(self) -> User:
        user = self.request.user
        if not isinstance(user, User):  # IsActiveMember already refused such callers
            raise exceptions.NotAuthenticated()
        return user

    @property
    def origin(self) -> Origin:
        return Origin.of(self.request._request)
