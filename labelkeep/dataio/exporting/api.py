"""Export endpoints: sync download, formats, and snapshots (Label Studio's paths and shapes)."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from labelkeep.accounts.apibase import MemberAPIView
from labelkeep.accounts.roles import Perm
from labelkeep.api.schema import MEMBER_ERRORS, responses
from labelkeep.dataio.exporting import params, services
from labelkeep.dataio.exporting.formats import FORMATS, get_format, listed
from labelkeep.dataio.exporting.serializers import (
    ConvertedSerializer,
    ConvertSerializer,
    ExportFormatSerializer,
    SnapshotCreateSerializer,
    SnapshotSerializer,
)
from labelkeep.dataio.models import ExportSnapshot
from labelkeep.jobs.services import wait_for
from labelkeep.projects.access import get_project_for
from labelkeep.projects.models import Project
from labelkeep.projects.services import stored_config
from labelkeep.tasks.saved_views import get_view_for

_EXPORT = Perm.TASKS_IMPORT_EXPORT
_FILE = OpenApiResponse(OpenApiTypes.BINARY, description="The file, as an attachment.")
_TAGS = ["export"]


class ExportAPIView(MemberAPIView):
    """Base of the export endpoints: every method needs the import/export permission."""

    # HEAD runs the GET handler, so it needs the same permission.
    required_perms: ClassVar = {m: _EXPORT for m in ("GET", "HEAD", "POST", "DELETE")}

    def project(self, pk: int) -> Project:
        return get_project_for(self.actor, self.role, pk)

    def snapshot(self, pk: int, export_pk: int) -> ExportSnapshot:
        found = (
            ExportSnapshot.objects.filter(project=self.project(pk), pk=export_pk)
            .select_related("project", "created_by")
            .first()
        )
        if found is None:
            raise Http404("Export not found.")
        return found


def _refused(exc: services.ExportError) -> exceptions.APIException:
    if isinstance(exc, services.NotReady):
        return exceptions.NotFound(str(exc))
    return exceptions.ValidationError({"detail": str(exc)})


class ExportView(ExportAPIView):
    """Streams the project's tasks in one format (only annotated ones unless asked)."""

    @extend_schema(
        tags=_TAGS,
        summary="Export tasks and annotations",
        parameters=[
            OpenApiParameter("export_type", str, description="Format name, e.g. JSON, CSV, COCO."),
            OpenApiParameter("exportType", str, description="Same as export_type."),
            OpenApiParameter(
                "download_all_tasks", bool, description="Also tasks without annotations."
            ),
            OpenApiParameter("download_resources", bool, description="Bundle uploaded images."),
            OpenApiParameter("ids", int, many=True, description="Only these task ids."),
        ],
        responses=responses({200: _FILE}, *MEMBER_ERRORS, 400, 404),
    )
    def get(self, request: Request, pk: int) -> HttpResponseBase:
        project = self.project(pk)
        options = params.export_options(request.query_params)
        try:
            export = services.start_export(project, options, actor=self.actor, origin=self.origin)
        except services.ExportError as exc:
            raise _refused(exc) from None
        return _download(StreamingHttpResponse(export.stream), export.content_type, export.filename)

    @extend_schema(exclude=True)
    def head(self, request: Request, pk: int) -> HttpResponseBase:
        """The GET's headers and refusals, without reading a task or auditing an export."""
        project = self.project(pk)
        options = params.export_options(request.query_params)
        try:
            services.config_for(project, options.format)
        except services.ExportError as exc:
            raise _refused(exc) from None
        name = services.filename(project, options.format)
        return _download(HttpResponse(), options.format.content_type, name)


def _download(response: HttpResponseBase, content_type: str, name: str) -> HttpResponseBase:
    response["Content-Type"] = content_type
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


class ExportFormatsView(ExportAPIView):
    """Lists every export format; those that do not fit the labeling config are `disabled`."""

    @extend_schema(
        tags=_TAGS,
        summary="List export formats",
        responses=responses({200: ExportFormatSerializer(many=True)}, *MEMBER_ERRORS, 404),
    )
    def get(self, request: Request, pk: int) -> Response:
        project = self.project(pk)
        return Response(listed(stored_config(project)))


class SnapshotsView(ExportAPIView):
    """Lists a project's export snapshots, newest first; creates one (written by a job)."""

    @extend_schema(
        tags=_TAGS,
        summary="List export snapshots",
        responses=responses({200: SnapshotSerializer(many=True)}, *MEMBER_ERRORS, 404),
    )
    def get(self, request: Request, pk: int) -> Response:
        project = self.project(pk)
        snapshots = ExportSnapshot.objects.filter(project=project).select_related("created_by")
        return Response(SnapshotSerializer(snapshots.order_by("-id"), many=True).data)

    @extend_schema(
        tags=_TAGS,
        summary="Create an export snapshot",
        request=SnapshotCreateSerializer,
        responses=responses({201: SnapshotSerializer}, *MEMBER_ERRORS, 400, 404),
    )
    def post(self, request: Request, pk: int) -> Response:
        project = self.project(pk)
        form = SnapshotCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        options = dict(form.validated_data)
        view_pk = (options.get("task_filter_options") or {}).get("view")
        view = None if view_pk is None else get_view_for(self.actor, self.role, view_pk)
        if view is not None and view.project_id != project.pk:
            raise exceptions.ValidationError({"view": "The view belongs to another project."})
        snapshot = services.create_snapshot(
            project, options, view=view, actor=self.actor, origin=self.origin
        )
        if settings.EXPORT_SNAPSHOT_WAIT and snapshot.job_id is not None:
            # Label Studio writes the snapshot inside this request, and scripts download
            # it straight away: give the worker a moment to finish it (it runs the job;
            # this request only watches).
            wait_for(snapshot.job_id, float(settings.EXPORT_SNAPSHOT_WAIT))
            snapshot.refresh_from_db()
        return Response(SnapshotSerializer(snapshot).data, status=status.HTTP_201_CREATED)


class SnapshotDetailView(ExportAPIView):
    """Reads or deletes one export snapshot (its files go with it)."""

    @extend_schema(
        tags=_TAGS,
        summary="Read an export snapshot",
        responses=responses({200: SnapshotSerializer}, *MEMBER_ERRORS, 404),
    )
    def get(self, request: Request, pk: int, export_pk: int) -> Response:
        return Response(SnapshotSerializer(self.snapshot(pk, export_pk)).data)

    @extend_schema(
        tags=_TAGS,
        summary="Delete an export snapshot",
        responses=responses({204: None}, *MEMBER_ERRORS, 404),
    )
    def delete(self, request: Request, pk: int, export_pk: int) -> Response:
        snapshot = self.snapshot(pk, export_pk)
        services.delete_snapshot(snapshot, actor=self.actor, origin=self.origin)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SnapshotConvertView(ExportAPIView):
    """Queues a conversion of a completed snapshot into another format."""

    @extend_schema(
        tags=_TAGS,
        summary="Convert an export snapshot",
        request=ConvertSerializer,
        responses=responses({200: ConvertedSerializer}, *MEMBER_ERRORS, 400, 404),
    )
    def post(self, request: Request, pk: int, export_pk: int) -> Response:
        snapshot = self.snapshot(pk, export_pk)
        form = ConvertSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        export_format = get_format(form.validated_data["export_type"])
        if export_format is None or export_format.name == "JSON":
            known = ", ".join(name for name in FORMATS if name != "JSON")
            raise exceptions.ValidationError({"export_type": f"Convert to one of {known}."})
        try:
            entry = services.convert_snapshot(
                snapshot,
                export_format,
                download_resources=form.validated_data["download_resources"],
                actor=self.actor,
                origin=self.origin,
            )
        except services.ExportError as exc:
            raise _refused(exc) from None
        if settings.EXPORT_SNAPSHOT_WAIT and entry.get("job"):
            # As for a new snapshot: the download that usually follows finds it written.
            wait_for(entry["job"], float(settings.EXPORT_SNAPSHOT_WAIT))
        return Response({"converted_format": entry["id"], "export_type": entry["export_type"]})


class SnapshotDownloadView(ExportAPIView):
    """Downloads a completed snapshot (`exportType=JSON`) or one of its converted files."""

    @extend_schema(
        tags=_TAGS,
        summary="Download an export snapshot",
        parameters=[
            OpenApiParameter("exportType", str, description="JSON (default) or a converted format.")
        ],
        responses=responses({200: _FILE}, *MEMBER_ERRORS, 400, 404),
    )
    def get(self, request: Request, pk: int, export_pk: int) -> HttpResponseBase:
        return self._answer(request, pk, export_pk, sending=True)

    @extend_schema(exclude=True)
    def head(self, request: Request, pk: int, export_pk: int) -> HttpResponseBase:
        return self._answer(request, pk, export_pk, sending=False)

    def _answer(
        self, request: Request, pk: int, export_pk: int, *, sending: bool
    ) -> HttpResponseBase:
        snapshot = self.snapshot(pk, export_pk)
        export_format = params.export_format(request.query_params, "exportType")
        try:
            path, name = services.snapshot_file(
                snapshot, export_format.name, actor=self.actor, origin=self.origin, audited=sending
            )
        except services.ExportError as exc:
            raise _refused(exc) from None
        if not sending:
            response = _download(HttpResponse(), export_format.content_type, name)
            response["Content-Length"] = str(path.stat().st_size)
            return response
        response = FileResponse(
            path.open("rb"),
            as_attachment=True,
            filename=name,
            content_type=export_format.content_type,
        )
        response["Cache-Control"] = "no-store"
        return response
