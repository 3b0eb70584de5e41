"""Label Studio-compatible identity and organization endpoints (API-COMPAT.md)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth import SESSION_KEY, update_session_auth_hash
from django.db import transaction
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication
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
    MembershipDetailSerializer,
    MembershipSerializer,
    OrganizationSerializer,
    PersonalTokenSerializer,
    ProfileSerializer,
    RefreshSerializer,
    RoleChangeSerializer,
    TokenSettingsSerializer,
    UserSerializer,
    WhoAmISerializer,
)
from labelkeep.api.fields import MAX_ID, search_text
from labelkeep.api.pagination import PagePagination
from labelkeep.api.schema import MEMBER_ERRORS, page_parameters, responses
from labelkeep.audit.services import Origin

_TOKEN_400 = (
    400,
    "The token is invalid, expired, revoked or not the caller's, "
    "or personal access tokens are turned off.",
)


def _refused(exc: Exception) -> exceptions.ValidationError:
    return exceptions.ValidationError({"detail": str(exc)})


class VersionView(MemberAPIView):
    """The server's release, in the shape Label Studio clients expect."""

    @extend_schema(
        tags=["version"],
        summary="Server version",
        responses=responses(
            {
                200: inline_serializer(
                    "Version",
                    {
                        "release": serializers.CharField(),
                        "edition": serializers.CharField(),
                        "label-studio-os-package": inline_serializer(
                            "VersionPackage", {"version": serializers.CharField()}
                        ),
                        "server": serializers.CharField(),
                    },
                )
            },
            *MEMBER_ERRORS,
        ),
    )
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
    """The caller's profile with their active organization, role and permissions."""

    @extend_schema(
        tags=["users"],
        summary="Current user",
        responses=responses({200: WhoAmISerializer}, *MEMBER_ERRORS),
    )
    def get(self, request: Request) -> Response:
        data = dict(UserSerializer(self.actor).data)
        org = self.membership.organization
        data["active_organization_meta"] = {"title": org.title, "email": org.contact_info}
        data["role"] = self.role.value
        data["permissions"] = sorted(p.value for p in MATRIX[self.role])
        return Response(data)


class TokenView(MemberAPIView):
    """Explains that the legacy API key cannot be read back; reset it to get a new one."""

    @extend_schema(
        tags=["tokens"],
        summary="Legacy API key (not readable)",
        responses=responses(
            {200: inline_serializer("TokenNotice", {"detail": serializers.CharField()})},
            *MEMBER_ERRORS,
        ),
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "detail": "API keys are stored only as hashes and shown once, when created. "
                "Reset the key to get a new one."
            }
        )


class ResetTokenView(MemberAPIView):
    """Replaces the caller's legacy API key and returns the new key, this once only."""

    @extend_schema(
        tags=["tokens"],
        summary="Reset legacy API key",
        request=None,
        responses=responses(
            {201: inline_serializer("LegacyApiKey", {"token": serializers.CharField()})},
            *MEMBER_ERRORS,
        ),
    )
    def post(self, request: Request) -> Response:
        key = tokens.reset_legacy_token(self.actor, actor=self.actor, origin=self.origin)
        return Response({"token": key}, status=status.HTTP_201_CREATED)


class PersonalTokensView(MemberAPIView):
    """Lists the caller's unrevoked personal access tokens, or creates one (shown once)."""

    required_perms: ClassVar = {"GET": Perm.OWN_TOKENS, "POST": Perm.OWN_TOKENS}

    @extend_schema(
        tags=["tokens"],
        summary="List personal access tokens",
        responses=responses({200: PersonalTokenSerializer(many=True)}, *MEMBER_ERRORS),
    )
    def get(self, request: Request) -> Response:
        live = PersonalAccessToken.objects.filter(user=self.actor, revoked_at__isnull=True)
        return Response(PersonalTokenSerializer(live, many=True).data)

    @extend_schema(
        tags=["tokens"],
        summary="Create a personal access token",
        request=None,
        responses=responses(
            {
                201: inline_serializer(
                    "IssuedPersonalToken",
                    {
                        "token": serializers.CharField(help_text="The refresh token, shown once."),
                        "created_at": serializers.DateTimeField(),
                        "expires_at": serializers.DateTimeField(),
                    },
                )
            },
            (400, "Personal access tokens are turned off, or the caller has too many."),
            *MEMBER_ERRORS,
        ),
    )
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

    @extend_schema(
        tags=["tokens"],
        summary="Get an access token",
        request=RefreshSerializer,
        responses=responses(
            {200: inline_serializer("AccessToken", {"access": serializers.CharField()})},
            400,
            (401, "The refresh token is invalid, expired or revoked, or tokens are turned off."),
            413,
        ),
    )
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
    """Revokes one of the caller's personal access tokens and returns its replacement."""

    @extend_schema(
        tags=["tokens"],
        summary="Rotate a personal access token",
        request=RefreshSerializer,
        responses=responses(
            {200: inline_serializer("RotatedToken", {"refresh": serializers.CharField()})},
            _TOKEN_400,
            *MEMBER_ERRORS,
            413,
        ),
    )
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
    """Revokes one of the caller's personal access tokens."""

    @extend_schema(
        tags=["tokens"],
        summary="Revoke a personal access token",
        request=RefreshSerializer,
        responses=responses(
            {204: None},
            400,
            *MEMBER_ERRORS,
            (404, "Not a live token of the caller (unknown, malformed or already revoked)."),
            413,
        ),
    )
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
    """Reads or changes which API token kinds the organization allows, and their lifetime."""

    required_perms: ClassVar = {"POST": Perm.TOKEN_SETTINGS_MANAGE}

    @extend_schema(
        tags=["tokens"],
        summary="Read token settings",
        responses=responses({200: TokenSettingsSerializer}, *MEMBER_ERRORS),
    )
    def get(self, request: Request) -> Response:
        return Response(TokenSettingsSerializer(self.membership.organization).data)

    @extend_schema(
        tags=["tokens"],
        summary="Change token settings (fields may be omitted)",
        request=TokenSettingsSerializer(partial=True),
        responses=responses({200: TokenSettingsSerializer}, 400, *MEMBER_ERRORS, 413),
    )
    def post(self, request: Request) -> Response:
        org = self.membership.organization
        form = TokenSettingsSerializer(org, data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        services.update_token_settings(
            org, form.validated_data, actor=self.actor, origin=self.origin
        )
        return Response(TokenSettingsSerializer(org).data)


_USER_ORDERINGS = ("id", "-id", "email", "-email", "first_name", "-first_name", "date_joined")


class UsersView(MemberAPIView):
    """Lists the users the caller can see: the members of their organization."""

    required_perms: ClassVar = {"GET": Perm.MEMBERS_VIEW}

    @extend_schema(
        tags=["users"],
        summary="List users",
        parameters=[
            OpenApiParameter(
                "ordering",
                str,
                enum=[*_USER_ORDERINGS, "-date_joined"],
                default="id",
                description="Sort key; a leading `-` sorts descending.",
            )
        ],
        responses=responses(
            {200: UserSerializer(many=True)}, (400, "Unknown `ordering`."), *MEMBER_ERRORS
        ),
    )
    def get(self, request: Request) -> Response:
        users = User.objects.visible_to(self.actor).order_by(_user_ordering(request))
        return Response(UserSerializer(users, many=True).data)


def _user_ordering(request: Request) -> str:
    allowed = set(_USER_ORDERINGS)
    ordering = request.query_params.get("ordering", "id")
    if ordering not in allowed | {"-date_joined"}:
        raise exceptions.ValidationError({"ordering": f"Not one of: {sorted(allowed)}"})
    return ordering


def _switch(user: User, organization_id: int, origin: Origin) -> None:
    try:
        services.switch_organization(user, organization_id, origin=origin)
    except services.AccountError as exc:
        raise exceptions.ValidationError({"active_organization": [str(exc)]}) from None


class UserDetailView(MemberAPIView):
    """Reads a visible user, edits the caller's own profile, or removes a member."""

    required_perms: ClassVar = {"GET": Perm.MEMBERS_VIEW, "DELETE": Perm.MEMBERS_MANAGE}

    def _user(self, pk: int) -> User:
        return get_object_or_404(User.objects.visible_to(self.actor), pk=pk)

    @extend_schema(
        tags=["users"],
        summary="Read a user",
        responses=responses({200: UserSerializer}, *MEMBER_ERRORS, 404),
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(UserSerializer(self._user(pk)).data)

    @extend_schema(
        tags=["users"],
        summary="Edit your own profile",
        request=ProfileSerializer(partial=True),
        responses=responses(
            {200: UserSerializer},
            400,
            401,
            (403, "Not the caller's own profile, or the caller is not an active member."),
            404,
            413,
        ),
    )
    def patch(self, request: Request, pk: int) -> Response:
        user = self._user(pk)
        if user.pk != self.actor.pk:
            raise exceptions.PermissionDenied("You can only change your own profile.")
        form = ProfileSerializer(user, data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        changes = dict(form.validated_data)
        switch_to = changes.pop("active_organization", None)
        with transaction.atomic():  # a refused profile change switches nothing
            if switch_to is not None:
                _switch(user, switch_to, self.origin)
            if changes:
                try:
                    services.update_profile(user, changes, origin=self.origin)
                except services.AccountError as exc:
                    raise exceptions.ValidationError({"username": [str(exc)]}) from None
        if switch_to is not None and str(request.session.get(SESSION_KEY)) == str(user.pk):
            # Once committed: the session, bound to the active membership, goes on in the
            # new one (the user's other sessions end).
            update_session_auth_hash(request._request, user)
        return Response(UserSerializer(user).data)

    @extend_schema(
        tags=["users"],
        summary="Remove a user from the organization",
        responses=responses(
            {204: None},
            (400, "Refused: removing yourself, an owner (unless an owner), or the last owner."),
            *MEMBER_ERRORS,
            404,
        ),
    )
    def delete(self, request: Request, pk: int) -> Response:
        _remove(self, _member(Membership.objects.visible_to(self.actor), pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _member(memberships: QuerySet[Membership], user_pk: int) -> Membership:
    """The membership of user `user_pk` among `memberships`, or 404. An id beyond 64 bits
    names nobody, and SQLite cannot even compare a foreign key with it (a 500)."""
    if user_pk > MAX_ID:
        raise exceptions.NotFound()
    return get_object_or_404(memberships.select_related("user"), user_id=user_pk)


def _remove(view: MemberAPIView, membership: Membership) -> None:
    try:
        services.remove_member(membership, actor=view.actor, origin=view.origin)
    except services.AccountError as exc:
        raise _refused(exc) from None


class OrganizationsView(MemberAPIView):
    """Lists the organizations the caller belongs to."""

    @extend_schema(
        tags=["organizations"],
        summary="List organizations",
        responses=responses({200: OrganizationSerializer(many=True)}, *MEMBER_ERRORS),
    )
    def get(self, request: Request) -> Response:
        orgs = Organization.objects.visible_to(self.actor)
        return Response(OrganizationSerializer(orgs, many=True).data)


def _own_org(view: MemberAPIView, pk: int) -> Organization:
    """The caller's active organization, if that is what `pk` names; 404 otherwise."""
    org = view.membership.organization
    if org.pk != pk:
        raise exceptions.NotFound()
    return org


_NOT_OWN_ORG = (404, "Not the caller's active organization.")


class OrganizationDetailView(MemberAPIView):
    """Reads or changes the caller's active organization."""

    required_perms: ClassVar = {"PATCH": Perm.ORGANIZATION_CHANGE}

    @extend_schema(
        tags=["organizations"],
        summary="Read an organization",
        responses=responses({200: OrganizationSerializer}, *MEMBER_ERRORS, _NOT_OWN_ORG),
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(OrganizationSerializer(_own_org(self, pk)).data)

    @extend_schema(
        tags=["organizations"],
        summary="Change an organization",
        request=OrganizationSerializer(partial=True),
        responses=responses({200: OrganizationSerializer}, 400, *MEMBER_ERRORS, _NOT_OWN_ORG, 413),
    )
    def patch(self, request: Request, pk: int) -> Response:
        org = _own_org(self, pk)
        form = OrganizationSerializer(org, data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        services.update_organization(org, form.validated_data, actor=self.actor, origin=self.origin)
        return Response(OrganizationSerializer(org).data)


class MembershipsView(MemberAPIView):
    """Lists the members of the caller's organization, a page at a time, oldest first."""

    required_perms: ClassVar = {"GET": Perm.MEMBERS_VIEW}
    pagination_class = PagePagination

    @extend_schema(
        tags=["memberships"],
        summary="List memberships",
        parameters=[
            OpenApiParameter(
                "search",
                str,
                description="Keep members whose e-mail, first or last name or username "
                "contains this (case-insensitive).",
            ),
            OpenApiParameter(
                "role", str, enum=[r.value for r in Role], description="Keep members in this role."
            ),
            *page_parameters("members"),
        ],
        responses=responses(
            {200: MembershipSerializer(many=True)},
            (400, "Unknown `role`."),
            *MEMBER_ERRORS,
            (404, "Not the caller's active organization, or an invalid page number."),
        ),
    )
    def get(self, request: Request, pk: int) -> Response:
        org = _own_org(self, pk)
        members = _filter_members(
            Membership.objects.filter(organization=org).select_related("user"), request
        )
        pager = self.pagination_class()
        page = pager.paginate_queryset(members, request, view=self)
        return pager.get_paginated_response(MembershipSerializer(page, many=True).data)


def _filter_members(members: QuerySet[Membership], request: Request) -> QuerySet[Membership]:
    search = search_text(request.query_params, "search")
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


_NO_MEMBERSHIP = (404, "Not the caller's active organization, or no such member.")


class MembershipDetailView(MemberAPIView):
    """Reads, changes the role of, or removes one member of the caller's organization."""

    required_perms: ClassVar = {
        "GET": Perm.MEMBERS_VIEW,
        "PATCH": Perm.MEMBERS_MANAGE,
        "DELETE": Perm.MEMBERS_MANAGE,
    }

    def _membership(self, pk: int, user_pk: int) -> Membership:
        return _member(Membership.objects.filter(organization=_own_org(self, pk)), user_pk)

    @extend_schema(
        tags=["memberships"],
        summary="Read a membership",
        responses=responses({200: MembershipDetailSerializer}, *MEMBER_ERRORS, _NO_MEMBERSHIP),
    )
    def get(self, request: Request, pk: int, user_pk: int) -> Response:
        return Response(MembershipDetailSerializer(self._membership(pk, user_pk)).data)

    @extend_schema(
        tags=["memberships"],
        summary="Change a member's role",
        request=RoleChangeSerializer,
        responses=responses(
            {200: MembershipDetailSerializer},
            (
                400,
                "Invalid role, or refused: only owners grant or change the owner role, "
                "and an organization keeps at least one owner.",
            ),
            *MEMBER_ERRORS,
            _NO_MEMBERSHIP,
            413,
        ),
    )
    def patch(self, request: Request, pk: int, user_pk: int) -> Response:
        membership = self._membership(pk, user_pk)
        form = RoleChangeSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            membership = services.change_role(
                membership, Role(form.validated_data["role"]), actor=self.actor, origin=self.origin
            )
        except services.AccountError as exc:
            raise _refused(exc) from None
        return Response(MembershipDetailSerializer(membership).data)

    @extend_schema(
        tags=["memberships"],
        summary="Remove a member",
        responses=responses(
            {204: None},
            (400, "Refused: removing yourself, an owner (unless an owner), or the last owner."),
            *MEMBER_ERRORS,
            _NO_MEMBERSHIP,
        ),
    )
    def delete(self, request: Request, pk: int, user_pk: int) -> Response:
        _remove(self, self._membership(pk, user_pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _invite_body(request: Request, org: Organization) -> dict[str, Any]:
    return {
        "token": org.invite_token,
        "invite_url": f"/user/signup/?token={org.invite_token}",
        "absolute_url": request.build_absolute_uri(f"/user/signup/?token={org.invite_token}"),
    }


_INVITE = inline_serializer(
    "Invite",
    {
        "token": serializers.CharField(),
        "invite_url": serializers.CharField(help_text="The sign-up path, relative to the server."),
        "absolute_url": serializers.URLField(),
    },
)


class InviteView(MemberAPIView):
    """The organization's invite link for new members to sign up with."""

    required_perms: ClassVar = {"GET": Perm.INVITES_MANAGE}

    @extend_schema(
        tags=["invites"],
        summary="Read the invite link",
        responses=responses({200: _INVITE}, *MEMBER_ERRORS),
    )
    def get(self, request: Request) -> Response:
        return Response(_invite_body(request, self.membership.organization))


class InviteResetView(MemberAPIView):
    """Replaces the organization's invite link; the old link stops working."""

    required_perms: ClassVar = {"POST": Perm.INVITES_MANAGE}

    @extend_schema(
        tags=["invites"],
        summary="Reset the invite link",
        request=None,
        responses=responses({201: _INVITE}, *MEMBER_ERRORS),
    )
    def post(self, request: Request) -> Response:
        org = self.membership.organization
        services.reset_invite(org, actor=self.actor, origin=self.origin)
        return Response(_invite_body(request, org), status=status.HTTP_201_CREATED)
