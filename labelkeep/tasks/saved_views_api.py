"""Label Studio's Data Manager views (`api/dm/views/…`): saved filters and ordering."""

from __future__ import annotations

from typing import Any, ClassVar

from django.http.response import HttpResponseBase
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from labelkeep.accounts.roles import Perm
from labelkeep.api.fields import IdField, parse_id
from labelkeep.api.schema import MEMBER_ERRORS, responses
from labelkeep.api.streaming import json_array
from labelkeep.projects.models import Project
from labelkeep.tasks import filters
from labelkeep.tasks.api import TaskScopedView
from labelkeep.tasks.models import SavedView
from labelkeep.tasks.saved_views import (
    COLUMNS,
    MAX_VIEWS,
    checked_data,
    create_view,
    delete_project_views,
    delete_view,
    get_view_for,
    may_change,
    reorder_views,
    update_view,
    view_json,
    view_row_json,
    visible_views,
)

_NO_VIEW = (404, "No such view, or the caller may not see its project.")
_NO_PROJECT = (404, "No such project, or the caller may not see it.")
_DATA_HELP = (
    "The tab's settings: `filters` (`{conjunction, items}`, as in the task list's `query`), "
    '`ordering` (one field, e.g. `["-tasks:created_at"]`), `selectedItems`, and display '
    "settings such as `title`, kept as given."
)
_VIEW = inline_serializer(
    "SavedView",
    {
        "id": serializers.IntegerField(),
        "project": serializers.IntegerField(),
        "user": serializers.IntegerField(allow_null=True, help_text="Who saved the view."),
        "order": serializers.IntegerField(help_text="The tab's position, from 0."),
        "data": serializers.JSONField(help_text=_DATA_HELP),
        "ordering": serializers.JSONField(help_text="`data.ordering`, or `[]`."),
        "selected_items": serializers.JSONField(help_text="`data.selectedItems`, or null."),
        "created_at": serializers.DateTimeField(),
        "updated_at": serializers.DateTimeField(),
    },
)


class _ViewWrite(serializers.Serializer[Any]):
    """What saving a view accepts (`data` is read by `checked_data`; a serializer field
    of that name would hide the serializer's own `data`)."""

    project = IdField(required=False)


_VIEW_WRITE = inline_serializer(
    "SavedViewWrite",
    {
        "project": serializers.IntegerField(help_text="Required when saving a new view."),
        "data": serializers.JSONField(required=False, help_text=_DATA_HELP),
    },
)


class _Order(serializers.Serializer[Any]):
    project = IdField()
    ids = serializers.ListField(child=IdField(), max_length=MAX_VIEWS)


def _body(request: Request, form_class: type[serializers.Serializer[Any]]) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise exceptions.ValidationError({"detail": "Send a JSON object."})
    form = form_class(data=request.data)
    form.is_valid(raise_exception=True)
    return dict(form.validated_data)


class _ViewScoped(TaskScopedView):
    def scope(self, project: Project) -> filters.Scope:
        """The saver's, as the task list would read the view for them: an annotator's
        view may filter on their own annotations only."""
        own_only = self.own_annotations_only()
        return filters.Scope(project=project, user=self.actor, own_only=own_only)

    def changeable(self, pk: int) -> SavedView:
        view = get_view_for(self.actor, self.role, pk)
        if not may_change(self.actor, self.role, view):
            raise exceptions.PermissionDenied("Only the view's author or a manager changes it.")
        return view


class SavedViewsView(_ViewScoped):
    """Lists the views of the projects the caller sees; saves a new one."""

    @extend_schema(
        tags=["views"],
        summary="List saved views",
        operation_id="views_list",
        parameters=[OpenApiParameter("project", int, description="Only this project's views.")],
        responses=responses({200: _VIEW}, (400, "A `project` that is not an id."), *MEMBER_ERRORS),
    )
    def get(self, request: Request) -> HttpResponseBase:
        views = visible_views(self.actor, self.role)
        raw = request.query_params.get("project")
        if not raw:
            # Every project's: any number of them, streamed a chunk at a time, by id.
            return json_array(views, COLUMNS, view_row_json, size=100)
        project = parse_id(raw)
        if project is None:
            raise exceptions.ValidationError({"project": "Give the project id: ?project=<id>."})
        tabs = views.filter(project_id=project).order_by("order", "id")  # at most MAX_VIEWS
        return Response([view_json(view) for view in tabs])

    @extend_schema(
        tags=["views"],
        summary="Save a view",
        operation_id="views_create",
        request=_VIEW_WRITE,
        responses=responses(
            {201: _VIEW},
            (400, "No `project`, filters or ordering the task list refuses, or too many views."),
            *MEMBER_ERRORS,
            _NO_PROJECT,
            413,
        ),
    )
    def post(self, request: Request) -> Response:
        values = _body(request, _ViewWrite)
        if "project" not in values:
            raise exceptions.ValidationError({"project": "Give the project id."})
        project = self.project(values["project"])
        data = checked_data(request.data.get("data", {}), self.scope(project))
        view = create_view(project, data, actor=self.actor, origin=self.origin)
        return Response(view_json(view), status=status.HTTP_201_CREATED)


_CHANGED = responses(
    {200: _VIEW},
    (400, "Filters or ordering the task list refuses."),
    *MEMBER_ERRORS,
    _NO_VIEW,
    413,
)


class SavedViewDetailView(_ViewScoped):
    """Reads, changes or deletes one view (changes: its author or a manager)."""

    @extend_schema(
        tags=["views"],
        summary="Read a saved view",
        operation_id="views_retrieve",
        responses=responses({200: _VIEW}, *MEMBER_ERRORS, _NO_VIEW),
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(view_json(get_view_for(self.actor, self.role, pk)))

    @extend_schema(
        tags=["views"],
        summary="Change a saved view (its `data`; `project` cannot change)",
        operation_id="views_update",
        request=_VIEW_WRITE,
        responses=_CHANGED,
    )
    def patch(self, request: Request, pk: int) -> Response:
        view = self.changeable(pk)
        values = _body(request, _ViewWrite)
        if values.get("project", view.project_id) != view.project_id:
            raise exceptions.ValidationError({"project": "A view stays in its project."})
        if "data" in request.data:
            data = checked_data(request.data["data"], self.scope(view.project))
            update_view(view, data, actor=self.actor, origin=self.origin)
        return Response(view_json(view))

    @extend_schema(
        tags=["views"],
        summary="Change a saved view (as PATCH)",
        operation_id="views_replace",
        request=_VIEW_WRITE,
        responses=_CHANGED,
    )
    def put(self, request: Request, pk: int) -> Response:
        return self.patch(request, pk)

    @extend_schema(
        tags=["views"],
        summary="Delete a saved view",
        operation_id="views_destroy",
        responses=responses({204: None}, *MEMBER_ERRORS, _NO_VIEW),
    )
    def delete(self, request: Request, pk: int) -> Response:
        delete_view(self.changeable(pk), actor=self.actor, origin=self.origin)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ResetViewsView(_ViewScoped):
    """Deletes every view of a project."""

    required_perms: ClassVar = {"DELETE": Perm.PROJECTS_MANAGE}

    @extend_schema(
        tags=["views"],
        summary="Delete all of a project's views",
        operation_id="views_reset",
        parameters=[OpenApiParameter("project", int, description="Or in the body.")],
        request=inline_serializer(
            "ViewsReset", {"project": serializers.IntegerField(required=False)}
        ),
        responses=responses({204: None}, (400, "No `project`."), *MEMBER_ERRORS, _NO_PROJECT),
    )
    def delete(self, request: Request) -> Response:
        pk = parse_id(request.query_params.get("project"))
        if pk is None and isinstance(request.data, dict):
            pk = parse_id(str(request.data.get("project", "")))
        if pk is None:
            raise exceptions.ValidationError({"project": "Give the project id: ?project=<id>."})
        delete_project_views(self.project(pk), actor=self.actor, origin=self.origin)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReorderViewsView(_ViewScoped):
    """Sets the order of a project's tabs."""

    required_perms: ClassVar = {"POST": Perm.PROJECTS_MANAGE}

    @extend_schema(
        tags=["views"],
        summary="Reorder a project's views",
        operation_id="views_order",
        request=_Order,
        responses=responses(
            {204: None},
            (400, "No `project`, or `ids` that are not the project's views."),
            *MEMBER_ERRORS,
            _NO_PROJECT,
        ),
    )
    def post(self, request: Request) -> Response:
        values = _body(request, _Order)
        project = self.project(values["project"])
        reorder_views(project, values["ids"], actor=self.actor, origin=self.origin)
        return Response(status=status.HTTP_204_NO_CONTENT)
