"""Label Studio's file-upload records: `api/projects/{id}/file-uploads` and
`api/import/file-upload/{id}` (the client's `ls.files`)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from django.http.response import HttpResponseBase
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from labelkeep.accounts.apibase import MemberAPIView
from labelkeep.accounts.roles import Perm
from labelkeep.api.fields import IdField, parse_id
from labelkeep.api.schema import MEMBER_ERRORS, responses
from labelkeep.api.streaming import json_array
from labelkeep.dataio.models import FileUpload
from labelkeep.dataio.upload_records import (
    COLUMNS,
    InUse,
    delete_uploads,
    upload_json,
    uploads_of,
)
from labelkeep.projects.access import get_project_for
from labelkeep.projects.models import Project

MAX_IDS = 1000
_PERMS = {m: Perm.TASKS_IMPORT_EXPORT for m in ("GET", "HEAD", "DELETE")}
_UPLOAD = inline_serializer(
    "FileUpload",
    {
        "id": serializers.IntegerField(),
        "file": serializers.CharField(help_text="Where task data refers to it."),
        "original_name": serializers.CharField(help_text="The name it was uploaded with."),
        "content_type": serializers.CharField(help_text="As sent; serving decides its own."),
        "size": serializers.IntegerField(help_text="Bytes."),
        "project": serializers.IntegerField(),
        "created_by": serializers.IntegerField(allow_null=True),
        "created_at": serializers.DateTimeField(),
    },
)
_DELETED = inline_serializer("DeletedUploads", {"deleted": serializers.IntegerField()})
_IN_USE = (400, "A file tasks still show, or one an unfinished import reads: nothing is deleted.")


def _ids(request: Request) -> list[int] | None:
    """`ids` as the client sends it (repeated), as a JSON list, or comma-separated."""
    raw = request.query_params.getlist("ids")
    if not raw:
        return None
    found: list[int] = []
    for value in raw:
        try:
            parsed = json.loads(value) if value.startswith("[") else value.split(",")
        except (ValueError, RecursionError):
            parsed = None
        if not isinstance(parsed, list):
            raise exceptions.ValidationError({"ids": "Give upload ids: ids=1&ids=2 or [1,2]."})
        for item in parsed:
            pk = parse_id(str(item).strip())
            if pk is None:
                raise exceptions.ValidationError({"ids": f"Not an upload id: {str(item)[:40]}."})
            found.append(pk)
    if len(found) > MAX_IDS:
        raise exceptions.ValidationError({"ids": f"At most {MAX_IDS} ids."})
    return found


def _deleted(project: Project, chosen: Any, view: MemberAPIView) -> int:
    try:
        return delete_uploads(project, chosen, actor=view.actor, origin=view.origin)
    except InUse as exc:
        raise exceptions.ValidationError({"file_upload_ids": [str(exc)]}) from None


class FileUploadIdsSerializer(serializers.Serializer[Any]):
    """`{file_upload_ids: [ids]}`: the uploads to delete; without it (or null), all of them."""

    file_upload_ids = serializers.ListField(
        child=IdField(), max_length=MAX_IDS, required=False, allow_null=True
    )


class ProjectUploadsView(MemberAPIView):
    """Lists a project's uploaded files; deletes some or all of them."""

    required_perms: ClassVar = _PERMS

    @extend_schema(
        tags=["import"],
        summary="List a project's uploaded files",
        operation_id="files_list",
        parameters=[
            OpenApiParameter("ids", int, many=True, description="These uploads (up to 1000)."),
            OpenApiParameter("all", bool, description="`true`: every upload of the project."),
        ],
        responses=responses(
            {200: _UPLOAD},
            (400, "`ids` that are not ids, or more than 1000."),
            *MEMBER_ERRORS,
            404,
        ),
    )
    def get(self, request: Request, pk: int) -> HttpResponseBase:
        project = get_project_for(self.actor, self.role, pk)
        ids = _ids(request)
        every = request.query_params.get("all", "").lower() in ("true", "1")
        if ids is None and not every:
            return Response([])  # Label Studio: only the uploads asked for
        found = uploads_of(project, None if every else ids)
        return json_array(found, COLUMNS, upload_json, size=1000)

    @extend_schema(
        tags=["import"],
        summary="Delete a project's uploaded files",
        operation_id="files_delete_many",
        request=FileUploadIdsSerializer,
        responses=responses({200: _DELETED}, _IN_USE, *MEMBER_ERRORS, 404),
    )
    def delete(self, request: Request, pk: int) -> Response:
        project = get_project_for(self.actor, self.role, pk)
        data = request.data if isinstance(request.data, dict) else None
        if data is None:
            raise exceptions.ValidationError({"detail": "Send a JSON object: {file_upload_ids}."})
        form = FileUploadIdsSerializer(data=data)
        form.is_valid(raise_exception=True)
        ids = form.validated_data.get("file_upload_ids")
        return Response({"deleted": _deleted(project, uploads_of(project, ids), self)})


class UploadRecordView(MemberAPIView):
    """Reads or deletes one uploaded file's record (and with it the file)."""

    required_perms: ClassVar = _PERMS

    def _upload(self, pk: int) -> dict[str, Any]:
        visible = Project.objects.visible_to(self.actor, self.role).values("pk")
        found: dict[str, Any] | None = (
            FileUpload.objects.filter(project__in=visible, pk=pk).values(*COLUMNS).first()
        )
        if found is None:
            raise exceptions.NotFound("Upload not found.")
        return found

    @extend_schema(
        tags=["import"],
        summary="Read an uploaded file's record",
        operation_id="files_retrieve",
        responses=responses({200: _UPLOAD}, *MEMBER_ERRORS, 404),
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(upload_json(self._upload(pk)))

    @extend_schema(
        tags=["import"],
        summary="Delete an uploaded file",
        operation_id="files_destroy",
        responses=responses({204: None}, _IN_USE, *MEMBER_ERRORS, 404),
    )
    def delete(self, request: Request, pk: int) -> Response:
        upload = self._upload(pk)
        project = get_project_for(self.actor, self.role, upload["project_id"])
        if not _deleted(project, uploads_of(project, [upload["id"]]), self):
            raise exceptions.NotFound("The upload was deleted meanwhile.")
        return Response(status=status.HTTP_204_NO_CONTENT)
