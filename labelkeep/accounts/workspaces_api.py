"""Workspaces: folders of projects inside the caller's organization."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from labelkeep.accounts import workspaces
from labelkeep.accounts.apibase import MemberAPIView
from labelkeep.accounts.models import Workspace
from labelkeep.accounts.roles import Perm
from labelkeep.accounts.serializers import WorkspaceSerializer
from labelkeep.api.schema import MEMBER_ERRORS, responses

_TITLE_400 = (400, "Invalid input, or the organization has a workspace with this title.")


class WorkspacesView(MemberAPIView):
    """Lists the workspaces of the caller's organization, or creates one."""

    required_perms: ClassVar = {"GET": Perm.WORKSPACES_VIEW, "POST": Perm.WORKSPACES_MANAGE}

    @extend_schema(
        tags=["workspaces"],
        summary="List workspaces",
        responses=responses({200: WorkspaceSerializer(many=True)}, *MEMBER_ERRORS),
    )
    def get(self, request: Request) -> Response:
        found = Workspace.objects.visible_to(self.actor)
        return Response(WorkspaceSerializer(found, many=True).data)

    @extend_schema(
        tags=["workspaces"],
        summary="Create a workspace",
        request=WorkspaceSerializer,
        responses=responses({201: WorkspaceSerializer}, _TITLE_400, *MEMBER_ERRORS, 413),
    )
    def post(self, request: Request) -> Response:
        form = WorkspaceSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        workspace = _saved(
            lambda: workspaces.create_workspace(
                self.membership.organization,
                form.validated_data,
                actor=self.actor,
                origin=self.origin,
            )
        )
        return Response(WorkspaceSerializer(workspace).data, status=status.HTTP_201_CREATED)


def _saved(action: Callable[[], Workspace]) -> Workspace:
    try:
        with transaction.atomic():
            return action()
    except IntegrityError:
        raise exceptions.ValidationError({"title": "A workspace with this title exists."}) from None


class WorkspaceDetailView(MemberAPIView):
    """Reads, renames or deletes a workspace of the caller's organization."""

    required_perms: ClassVar = {
        "GET": Perm.WORKSPACES_VIEW,
        "PATCH": Perm.WORKSPACES_MANAGE,
        "DELETE": Perm.WORKSPACES_MANAGE,
    }

    def _workspace(self, pk: int) -> Workspace:
        return get_object_or_404(Workspace.objects.visible_to(self.actor), pk=pk)

    @extend_schema(
        tags=["workspaces"],
        summary="Read a workspace",
        responses=responses({200: WorkspaceSerializer}, *MEMBER_ERRORS, 404),
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(WorkspaceSerializer(self._workspace(pk)).data)

    @extend_schema(
        tags=["workspaces"],
        summary="Change a workspace",
        request=WorkspaceSerializer(partial=True),
        responses=responses({200: WorkspaceSerializer}, _TITLE_400, *MEMBER_ERRORS, 404, 413),
    )
    def patch(self, request: Request, pk: int) -> Response:
        workspace = self._workspace(pk)
        form = WorkspaceSerializer(workspace, data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        _saved(
            lambda: workspaces.update_workspace(
                workspace, form.validated_data, actor=self.actor, origin=self.origin
            )
        )
        return Response(WorkspaceSerializer(workspace).data)

    @extend_schema(
        tags=["workspaces"],
        summary="Delete a workspace",
        responses=responses({204: None}, *MEMBER_ERRORS, 404),
    )
    def delete(self, request: Request, pk: int) -> Response:
        workspaces.delete_workspace(self._workspace(pk), actor=self.actor, origin=self.origin)
        return Response(status=status.HTTP_204_NO_CONTENT)
