"""Label Studio-compatible project endpoints (`api/projects/…`)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import F, Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from labelkeep.accounts.apibase import MemberAPIView
from labelkeep.accounts.models import User
from labelkeep.accounts.roles import Perm
from labelkeep.api.fields import parse_id, search_text
from labelkeep.api.pagination import PagePagination
from labelkeep.api.schema import MEMBER_ERRORS, page_parameters, responses
from labelkeep.projects import services
from labelkeep.projects.access import get_project_for
from labelkeep.projects.counts import ALL as COUNT_FIELDS
from labelkeep.projects.counts import STORED as STORED_COUNTS
from labelkeep.projects.counts import counts_of
from labelkeep.projects.models import Project, ProjectMember
from labelkeep.projects.serializers import (
    LabelConfigSerializer,
    MemberIdsSerializer,
    ProjectSerializer,
)

ORDERING = {
    "id",
    "-id",
    "title",
    "-title",
    "created_at",
    "-created_at",
    "updated_at",
    "-updated_at",
    "pinned_at",
    "-pinned_at",
}
# `filter`, as the client's `projects.list(filter=…)` sends it.
PINNED = {
    "all": Q(),
    "pinned_only": Q(pinned_at__isnull=False),
    "exclude_pinned": Q(pinned_at__isnull=True),
}


def _refused(exc: services.ProjectError) -> exceptions.ValidationError:
    return exceptions.ValidationError({exc.field: exc.messages})


def _id_list(raw: str, name: str) -> list[int]:
    ids = [parse_id(part.strip()) for part in raw.split(",") if part.strip()]
    if None in ids:
        raise exceptions.ValidationError({name: "A comma-separated list of ids."})
    return [pk for pk in ids if pk is not None]


def _filtered(projects: QuerySet[Project], request: Request) -> QuerySet[Project]:
    params = request.query_params
    if params.get("ids"):
        projects = projects.filter(pk__in=_id_list(params["ids"], "ids"))
    if params.get("workspaces"):
        projects = projects.filter(workspace_id__in=_id_list(params["workspaces"], "workspaces"))
    if title := search_text(params, "title"):
        projects = projects.filter(title__icontains=title)
    if term := search_text(params, "search"):
        projects = projects.filter(Q(title__icontains=term) | Q(description__icontains=term))
    pinned = params.get("filter", "all")
    if pinned not in PINNED:
        raise exceptions.ValidationError({"filter": f"Not one of: {sorted(PINNED)}"})
    projects = projects.filter(PINNED[pinned])
    ordering = params.get("ordering", "-id")
    if ordering not in ORDERING:
        raise exceptions.ValidationError({"ordering": f"Not one of: {sorted(ORDERING)}"})
    if ordering.lstrip("-") == "pinned_at":  # pinned projects first either way
        pinned_at = F("pinned_at")
        key = (
            pinned_at.desc(nulls_last=True)
            if ordering[0] == "-"
            else pinned_at.asc(nulls_last=True)
        )
        return projects.order_by(key, "-id")
    return projects.order_by(ordering, "-id")


_NO_PROJECT = (404, "No such project, or the caller may not see it.")
_CONFIG_400 = (
    400,
    "Invalid input, an invalid labeling config, or a config change that would orphan "
    "existing annotations or read task data keys the tasks lack (see `validation_errors` "
    "and docs/labeling-configs.md).",
)


_LIST_PARAMETERS = [
    OpenApiParameter(
        "ids", str, description="Keep these projects: comma-separated ids, e.g. `1,2`."
    ),
    OpenApiParameter(
        "workspaces",
        str,
        description="Keep projects in these workspaces: comma-separated workspace ids.",
    ),
    OpenApiParameter(
        "title", str, description="Keep projects whose title contains this (any case)."
    ),
    OpenApiParameter(
        "search",
        str,
        description="Keep projects whose title or description contains this (any case).",
    ),
    OpenApiParameter(
        "filter",
        str,
        enum=sorted(PINNED),
        default="all",
        description="`pinned_only`: projects with a `pinned_at`; `exclude_pinned`: those without.",
    ),
    OpenApiParameter(
        "ordering",
        str,
        enum=sorted(ORDERING),
        default="-id",
        description="Sort key; a leading `-` sorts descending. Ties: newest first. "
        "By `pinned_at`, unpinned projects come last either way.",
    ),
    *page_parameters("projects"),
]


class ProjectsView(MemberAPIView):
    """Lists the projects the caller may see; creates projects (managers and above)."""

    required_perms: ClassVar = {"POST": Perm.PROJECTS_MANAGE}
    pagination_class = PagePagination

    @extend_schema(
        tags=["projects"],
        summary="List projects",
        parameters=_LIST_PARAMETERS,
        responses=responses(
            {200: ProjectSerializer(many=True)},
            (400, "A malformed `ids` or `workspaces`, an unknown `filter` or `ordering`."),
            *MEMBER_ERRORS,
            (404, "Invalid page number."),
        ),
    )
    def get(self, request: Request) -> Response:
        visible = Project.objects.visible_to(self.actor, self.role).select_related("created_by")
        projects = _filtered(visible, request)
        pager = self.pagination_class()
        page = pager.paginate_queryset(projects, request, view=self) or []
        context = {"user": self.actor, "counts": counts_of(page, self.actor)}
        data = ProjectSerializer(page, many=True, context=context).data
        return pager.get_paginated_response(data)

    @extend_schema(
        tags=["projects"],
        summary="Create a project",
        request=ProjectSerializer,
        responses=responses(
            {201: ProjectSerializer},
            (
                400,
                "Invalid input, an invalid labeling config, or a workspace outside the "
                "caller's organization.",
            ),
            *MEMBER_ERRORS,
            413,
        ),
    )
    def post(self, request: Request) -> Response:
        org = self.membership.organization
        form = ProjectSerializer(data=request.data, context={"organization_id": org.pk})
        form.is_valid(raise_exception=True)
        try:
            project = services.create_project(
                org, form.validated_data, actor=self.actor, origin=self.origin
            )
        except services.ProjectError as exc:
            raise _refused(exc) from None
        data = ProjectSerializer(project, context={"user": self.actor}).data
        return Response(data, status=status.HTTP_201_CREATED)


class ProjectDetailView(MemberAPIView):
    """Reads, changes or deletes one project."""

    required_perms: ClassVar = {"PATCH": Perm.PROJECTS_MANAGE, "DELETE": Perm.PROJECTS_MANAGE}

    @extend_schema(
        tags=["projects"],
        summary="Read a project",
        responses=responses({200: ProjectSerializer}, *MEMBER_ERRORS, _NO_PROJECT),
    )
    def get(self, request: Request, pk: int) -> Response:
        project = get_project_for(self.actor, self.role, pk)
        return Response(ProjectSerializer(project, context={"user": self.actor}).data)

    @extend_schema(
        tags=["projects"],
        summary="Change a project",
        request=ProjectSerializer(partial=True),
        responses=responses(
            {200: ProjectSerializer}, _CONFIG_400, *MEMBER_ERRORS, _NO_PROJECT, 413
        ),
    )
    def patch(self, request: Request, pk: int) -> Response:
        project = get_project_for(self.actor, self.role, pk)
        form = ProjectSerializer(
            project,
            data=request.data,
            partial=True,
            context={"organization_id": project.organization_id},
        )
        form.is_valid(raise_exception=True)
        try:
            services.update_project(
                project, form.validated_data, actor=self.actor, origin=self.origin
            )
        except services.ProjectError as exc:
            raise _refused(exc) from None
        return Response(ProjectSerializer(project, context={"user": self.actor}).data)

    @extend_schema(
        tags=["projects"],
        summary="Delete a project with its tasks, annotations and predictions",
        responses=responses({204: None}, *MEMBER_ERRORS, _NO_PROJECT),
    )
    def delete(self, request: Request, pk: int) -> Response:
        project = get_project_for(self.actor, self.role, pk)
        services.delete_project(project, actor=self.actor, origin=self.origin)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ValidateConfigView(MemberAPIView):
    """Checks a labeling config against the language and the project's annotations."""

    required_perms: ClassVar = {"POST": Perm.PROJECTS_MANAGE}

    @extend_schema(
        tags=["projects"],
        summary="Validate a labeling config",
        request=LabelConfigSerializer,
        responses=responses(
            {
                200: inline_serializer(
                    "ValidatedLabelConfig",
                    {
                        "label_config": serializers.CharField(help_text="The config, as sent."),
                        "config_essential_data_has_changed": serializers.BooleanField(
                            help_text="Whether the parsed config differs from the project's "
                            "current one."
                        ),
                    },
                )
            },
            _CONFIG_400,
            *MEMBER_ERRORS,
            _NO_PROJECT,
            413,
        ),
    )
    def post(self, request: Request, pk: int) -> Response:
        project = get_project_for(self.actor, self.role, pk)
        form = LabelConfigSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        config = form.validated_data["label_config"]
        try:
            parsed = services.parsed_config(config)
        except services.ProjectError as exc:
            raise _refused(exc) from None
        if config != project.label_config:
            problems = services.config_problems(project, config)
            if problems:
                raise exceptions.ValidationError({"label_config": problems})
        changed = parsed != project.parsed_label_config
        return Response({"label_config": config, "config_essential_data_has_changed": changed})


_MEMBERS = inline_serializer(
    "ProjectMember",
    {
        "user": inline_serializer(
            "ProjectMemberUser",
            {
                "id": serializers.IntegerField(),
                "email": serializers.EmailField(),
                "username": serializers.CharField(),
            },
        ),
        "created_at": serializers.DateTimeField(help_text="When they joined the project."),
    },
    many=True,
)
_MEMBERS_400 = (400, "Neither or both of `users` and `user`, or users outside the organization.")


class ProjectMembersView(MemberAPIView):
    """Who works in a project; managers add and remove people of the organization."""

    required_perms: ClassVar = {"POST": Perm.PROJECTS_MANAGE, "DELETE": Perm.PROJECTS_MANAGE}

    @extend_schema(
        tags=["projects"],
        summary="List project members",
        responses=responses({200: _MEMBERS}, *MEMBER_ERRORS, _NO_PROJECT),
    )
    def get(self, request: Request, pk: int) -> Response:
        project = get_project_for(self.actor, self.role, pk)
        members = ProjectMember.objects.filter(project=project).select_related("user")
        return Response([_member(m) for m in members.order_by("id")])

    @extend_schema(
        tags=["projects"],
        summary="Add project members",
        request=MemberIdsSerializer,
        responses=responses(
            {
                200: _MEMBERS,
                201: inline_serializer("AddedProjectMember", {"user": serializers.IntegerField()}),
            },
            _MEMBERS_400,
            *MEMBER_ERRORS,
            _NO_PROJECT,
            413,
        ),
    )
    def post(self, request: Request, pk: int) -> Response:
        """`{users: [ids]}` → the member list; the SDK's `{user: id}` → 201 `{user}`."""
        project = get_project_for(self.actor, self.role, pk)
        users = self._users(request.data, project)
        services.add_members(project, users, actor=self.actor, origin=self.origin)
        if "users" not in request.data:
            return Response({"user": users[0].pk}, status=status.HTTP_201_CREATED)
        return self.get(request, pk)

    @extend_schema(
        tags=["projects"],
        summary="Remove project members",
        request=MemberIdsSerializer,
        parameters=[
            OpenApiParameter(
                "user", int, description="The user to remove, when the body names nobody."
            )
        ],
        responses=responses({204: None}, _MEMBERS_400, *MEMBER_ERRORS, _NO_PROJECT, 413),
    )
    def delete(self, request: Request, pk: int) -> Response:
        """Body `{users: [ids]}` or `{user: id}`, or the SDK's query `?user=<id>`."""
        project = get_project_for(self.actor, self.role, pk)
        given = request.data or {"user": request.query_params.get("user")}
        for user in self._users(given, project):
            services.remove_member(project, user, actor=self.actor, origin=self.origin)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _users(self, given: Any, project: Project) -> list[User]:
        form = MemberIdsSerializer(data=given)
        form.is_valid(raise_exception=True)
        wanted = set(form.validated_data["users"])
        found = list(
            User.objects.filter(pk__in=wanted, memberships__organization_id=project.organization_id)
        )
        missing = wanted - {u.pk for u in found}
        if missing:
            raise exceptions.ValidationError(
                {"users": f"Not in this organization: {sorted(missing)}"}
            )
        return found


def _member(member: ProjectMember) -> dict[str, Any]:
    user = member.user
    return {
        "user": {"id": user.pk, "email": user.email, "username": user.username},
        "created_at": member.created_at,
    }


def _included(request: Request) -> tuple[str, ...]:
    """The counts named in `include` (repeated, or comma-separated; `id`, which always
    comes, may be named too); every count when none is named."""
    given = ",".join(request.query_params.getlist("include"))
    wanted = tuple(part.strip() for part in given.split(",") if part.strip() not in ("", "id"))
    unknown = sorted(set(wanted) - set(COUNT_FIELDS))
    if unknown:
        raise exceptions.ValidationError(
            {"include": f"Unknown counts {unknown}; these exist: {list(COUNT_FIELDS)}"}
        )
    return wanted or COUNT_FIELDS


_COUNTS = inline_serializer(
    "ProjectCounts",
    {
        "id": serializers.IntegerField(),
        **{
            name: serializers.IntegerField(
                required=False, help_text="As in the project (`api/projects/{id}/`)."
            )
            for name in COUNT_FIELDS
        },
    },
    many=True,
)


class ProjectCountsView(MemberAPIView):
    """The counts of the projects the caller may see, without their configs and settings."""

    pagination_class = PagePagination

    @extend_schema(
        tags=["projects"],
        summary="List projects' counts",
        parameters=[
            OpenApiParameter(
                "include",
                str,
                description="Only these counts (comma-separated names; default: all), e.g. "
                "`task_number,finished_task_number`. `id` always comes.",
            ),
            *_LIST_PARAMETERS,
        ],
        responses=responses(
            {200: _COUNTS},
            (
                400,
                "An unknown count in `include`, a malformed `ids` or `workspaces`, an "
                "unknown `filter` or `ordering`.",
            ),
            *MEMBER_ERRORS,
            (404, "Invalid page number."),
        ),
    )
    def get(self, request: Request) -> Response:
        fields = _included(request)
        visible = Project.objects.visible_to(self.actor, self.role)
        visible = visible.only("id", "created_at", "tasks_version", *STORED_COUNTS)
        pager = self.pagination_class()
        page = pager.paginate_queryset(_filtered(visible, request), request, view=self) or []
        counts = counts_of(page, self.actor, fields)
        return pager.get_paginated_response([{"id": p.pk, **counts[p.pk]} for p in page])
