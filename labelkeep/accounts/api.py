"""Label Studio-compatible identity and organization endpoints (API-COMPAT.md)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.paginator import EmptyPage, Paginator
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

import labelkeep
from labelkeep.accounts import services, tokens
from labelkeep.accounts.apibase import MemberAPIView
from labelkeep.accounts.models import Membership, Organization, PersonalAccessToken, User
from labelkeep.accounts.roles import MATRIX, Perm, Role
from labelkeep.accounts.serializers import (
    MembershipSerializer,
    OrganizationSerializer,
    PersonalTokenSerializer,
    RefreshSerializer,
    RoleChangeSerializer,
    TokenSettingsSerializer,
    UserSerializer,
)


def _refused(exc: Exception) -> exceptions.ValidationError:
    return exceptions.ValidationError({"detail": str(exc)})


class VersionView(MemberAPIView):
    def get(self, request: Request) -> Response:
        return Response(
            {
                "release": labelkeep.__version__,
                "edition": "Community",
                "label-studio-os-package": {"version": labelkeep.__version__},
                "server": "labelkeep",
            }
        )


class WhoAmIView(MemberAPIView):
    def get(self, request: Request) -> Response:
        data = dict(UserSerializer(self.actor).data)
        org = self.membership.organization
        data["active_organization_meta"] = {"title": org.title, "email": org.contact_info}
        data["role"] = self.role.value
        data["permissions"] = sorted(p.value for p in MATRIX[self.role])
        return Response(data)


class TokenView(MemberAPIView):
    def get(self, request: Request) -> Response:
        return Response(
            {
                "detail": "API keys are stored only as hashes and shown once, when created. "
                "Reset the key to get a new one."
            }
        )


class ResetTokenView(MemberAPIView):
    def post(self, request: Request) -> Response:
        key = tokens.reset_legacy_token(self.actor, actor=self.actor, origin=self.origin)
        return Response({"token": key}, status=status.HTTP_201_CREATED)


class PersonalTokensView(MemberAPIView):
    required_perms: ClassVar = {"GET": Perm.OWN_TOKENS, "POST": Perm.OWN_TOKENS}

    def get(self, request: Request) -> Response:
        live = PersonalAccessToken.objects.filter(user=self.actor, revoked_at__isnull=True)
        return Response(PersonalTokenSerializer(live, many=True).data)

    def post(self, request: Request) -> Response:
        try:
            issued = tokens.create_pat(self.actor, actor=self.actor, origin=self.origin)
        except tokens.TokenError as exc:
            raise _refused(exc) from None
        body = {
            "token": issued.token,
            "created_at": issued.record.created_at,
            "expires_at": issued.record.expires_at,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class RefreshView(APIView):
    """Exchange a PAT for an access token; needs no other credentials."""

    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        body = RefreshSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            access = tokens.refresh_access(body.validated_data["refresh"])
        except tokens.TokenError as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from None
        return Response({"access": access})

    def get_authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class RotateView(MemberAPIView):
    def post(self, request: Request) -> Response:
        body = RefreshSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            issued = tokens.rotate_pat(
                body.validated_data["refresh"], actor=self.actor, origin=self.origin
            )
        except tokens.TokenError as exc:
            raise _refused(exc) from None
        return Response({"refresh": issued.token})


class BlacklistView(MemberAPIView):
    def post(self, request: Request) -> Response:
        body = RefreshSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            tokens.blacklist_pat(
                body.validated_data["refresh"], actor=self.actor, origin=self.origin
            )
        except tokens.TokenError:
            raise exceptions.NotFound("Token not found or already revoked.") from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenSettingsView(MemberAPIView):
    required_perms: ClassVar = {"POST": Perm.TOKEN_SETTINGS_MANAGE}

    def get(self, request: Request) -> Response:
        return Response(TokenSettingsSerializer(self.membership.organization).data)

    def post(self, request: Request) -> Response:
        org = self.membership.organization
        form = TokenSettingsSerializer(org, data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        services.update_token_settings(
            org, form.validated_data, actor=self.actor, origin=self.origin
        )
        return Response(TokenSettingsSerializer(org).data)


class UsersView(MemberAPIView):
    required_perms: ClassVar = {"GET": Perm.MEMBERS_VIEW}

    def get(self, request: Request) -> Response:
        users = User.objects.visible_to(self.actor).order_by(_user_ordering(request))
        return Response(UserSerializer(users, many=True).data)


def _user_ordering(request: Request) -> str:
    allowed = {"id", "-id", "email", "-email", "first_name", "-first_name", "date_joined"}
    ordering = request.query_params.get("ordering", "id")
    if ordering not in allowed | {"-date_joined"}:
        raise exceptions.ValidationError({"ordering": f"Not one of: {sorted(allowed)}"})
    return ordering


class UserDetailView(MemberAPIView):
    required_perms: ClassVar = {"GET": Perm.MEMBERS_VIEW, "DELETE": Perm.MEMBERS_MANAGE}

    def _user(self, pk: int) -> User:
        return get_object_or_404(User.objects.visible_to(self.actor), pk=pk)

    def get(self, request: Request, pk: int) -> Response:
        return Response(UserSerializer(self._user(pk)).data)

    def patch(self, request: Request, pk: int) -> Response:
        user = self._user(pk)
        if user.pk != self.actor.pk:
            raise exceptions.PermissionDenied("You can only change your own profile.")
        form = UserSerializer(user, data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        services.update_profile(user, form.validated_data, origin=self.origin)
        return Response(UserSerializer(user).data)

    def delete(self, request: Request, pk: int) -> Response:
        membership = get_object_or_404(
            Membership.objects.visible_to(self.actor).select_related("user"), user_id=pk
        )
        _remove(self, membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


def _remove(view: MemberAPIView, membership: Membership) -> None:
    try:
        services.remove_member(
            membership, actor=view.actor, actor_role=view.role, origin=view.origin
        )
    except services.AccountError as exc:
        raise _refused(exc) from None


class OrganizationsView(MemberAPIView):
    def get(self, request: Request) -> Response:
        orgs = Organization.objects.visible_to(self.actor)
        return Response(OrganizationSerializer(orgs, many=True).data)


def _own_org(view: MemberAPIView, pk: int) -> Organization:
    """The caller's active organization, if that is what `pk` names; 404 otherwise."""
    org = view.membership.organization
    if org.pk != pk:
        raise exceptions.NotFound()
    return org


class OrganizationDetailView(MemberAPIView):
    required_perms: ClassVar = {"PATCH": Perm.ORGANIZATION_CHANGE}

    def get(self, request: Request, pk: int) -> Response:
        return Response(OrganizationSerializer(_own_org(self, pk)).data)

    def patch(self, request: Request, pk: int) -> Response:
        org = _own_org(self, pk)
        form = OrganizationSerializer(org, data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        services.update_organization(org, form.validated_data, actor=self.actor, origin=self.origin)
        return Response(OrganizationSerializer(org).data)


class _EmptyPastLastPage(Paginator[Any]):
    """A page number past the last page is an empty page, not EmptyPage (404)."""

    def validate_number(self, number: Any) -> int:
        try:
            return super().validate_number(number)
        except EmptyPage:
            if int(number) < 1:  # only reached once int(number) has succeeded
                raise
            return int(number)


class MembersPagination(PageNumberPagination):
    """DRF pages. The SDK's members pager asks for page+1 after every non-empty page and,
    unlike the projects/tasks pagers, does not stop on a 404: past the end is empty."""

    django_paginator_class = _EmptyPastLastPage
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class MembershipsView(MemberAPIView):
    required_perms: ClassVar = {"GET": Perm.MEMBERS_VIEW}

    def get(self, request: Request, pk: int) -> Response:
        org = _own_org(self, pk)
        members = _filter_members(
            Membership.objects.filter(organization=org).select_related("user"), request
        )
        pager = MembersPagination()
        page = pager.paginate_queryset(members, request, view=self)
        return pager.get_paginated_response(MembershipSerializer(page, many=True).data)


def _filter_members(members: QuerySet[Membership], request: Request) -> QuerySet[Membership]:
    search = request.query_params.get("search", "").strip()
    if search:
        members = members.filter(
            Q(user__email__icontains=search)
            | Q(user__first_name__icontains=search)
            | Q(user__last_name__icontains=search)
            | Q(user__username__icontains=search)
        )
    role = request.query_params.get("role")
    if role:
        if role not in {r.value for r in Role}:
            raise exceptions.ValidationError({"role": f"Unknown role {role!r}."})
        members = members.filter(role=role)
    return members.order_by("id")


class MembershipDetailView(MemberAPIView):
    required_perms: ClassVar = {
        "GET": Perm.MEMBERS_VIEW,
        "PATCH": Perm.MEMBERS_MANAGE,
        "DELETE": Perm.MEMBERS_MANAGE,
    }

    def _membership(self, pk: int, user_pk: int) -> Membership:
        org = _own_org(self, pk)
        return get_object_or_404(
            Membership.objects.filter(organization=org).select_related("user"), user_id=user_pk
        )

    def get(self, request: Request, pk: int, user_pk: int) -> Response:
        return Response(MembershipSerializer(self._membership(pk, user_pk)).data)

    def patch(self, request: Request, pk: int, user_pk: int) -> Response:
        membership = self._membership(pk, user_pk)
        form = RoleChangeSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            services.change_role(
                membership,
                Role(form.validated_data["role"]),
                actor=self.actor,
                actor_role=self.role,
                origin=self.origin,
            )
        except services.AccountError as exc:
            raise _refused(exc) from None
        return Response(MembershipSerializer(membership).data)

    def delete(self, request: Request, pk: int, user_pk: int) -> Response:
        _remove(self, self._membership(pk, user_pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _invite_body(request: Request, org: Organization) -> dict[str, Any]:
    return {
        "token": org.invite_token,
        "invite_url": f"/user/signup/?token={org.invite_token}",
        "absolute_url": request.build_absolute_uri(f"/user/signup/?token={org.invite_token}"),
    }


class InviteView(MemberAPIView):
    required_perms: ClassVar = {"GET": Perm.INVITES_MANAGE}

    def get(self, request: Request) -> Response:
        return Response(_invite_body(request, self.membership.organization))


class InviteResetView(MemberAPIView):
    required_perms: ClassVar = {"POST": Perm.INVITES_MANAGE}

    def post(self, request: Request) -> Response:
        org = self.membership.organization
        services.reset_invite(org, actor=self.actor, origin=self.origin)
        return Response(_invite_body(request, org), status=status.HTTP_201_CREATED)
