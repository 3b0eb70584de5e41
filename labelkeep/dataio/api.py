"""Import endpoints (`api/projects/{id}/import`, `…/imports/{pk}`) and uploaded files."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any, ClassVar

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, QueryDict
from django.http.response import HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from labelkeep.accounts.apibase import MemberAPIView
from labelkeep.accounts.roles import Perm
from labelkeep.api.errors import encodable, error_body
from labelkeep.api.parsers import BodyTooLarge, LimitedJSONParser, read_limited
from labelkeep.api.schema import MEMBER_ERRORS, responses
from labelkeep.dataio import services, uploads
from labelkeep.dataio.formats import FormatError
from labelkeep.dataio.models import ProjectImport
from labelkeep.dataio.prepare import Refused
from labelkeep.jobs.models import Job
from labelkeep.projects.access import get_project_for
from labelkeep.projects.models import Project
from labelkeep.projects.services import stored_config

_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


class LimitedFormParser(FormParser):
    """Form bodies (`url=…`) up to DATA_UPLOAD_MAX_MEMORY_SIZE; DRF's reads any length."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        raw = read_limited(stream, int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE))
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        return QueryDict(raw, encoding=encoding)


def _flag(request: Request, name: str, default: bool) -> bool:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise exceptions.ValidationError({name: "Use true or false."})


def _options(request: Request) -> services.Options:
    fields = [
        name.strip()
        for given in request.query_params.getlist("preannotated_from_fields")
        for name in given.split(",")
        if name.strip()
    ]
    return services.Options(
        commit=_flag(request, "commit_to_project", True),
        return_task_ids=_flag(request, "return_task_ids", False),
        preannotated_from_fields=tuple(dict.fromkeys(fields)),
    )


def _refusal(messages: list[str]) -> Response:
    detail = messages[0] if len(messages) == 1 else f"{messages[0]} (and {len(messages) - 1} more)"
    body = encodable(error_body(400, detail, validation_errors={"tasks": messages}))
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


def _body(report: services.Report, options: services.Options) -> dict[str, Any]:
    if report.queued is not None:
        queued = report.queued
        return {
            "import": queued.pk,
            "job": queued.job_id,
            "status": queued.status,
            "file_upload_ids": queued.file_upload_ids,
        }
    body: dict[str, Any] = {
        "task_count": report.task_count,
        "annotation_count": report.annotation_count,
        "prediction_count": report.prediction_count,
        "predictions_count": report.prediction_count,  # the SDK model's name for it
        "duration": round(report.duration, 4),
        "file_upload_ids": report.file_upload_ids,
        "could_be_tasks_list": report.could_be_tasks_list,
        # Label Studio: a count per extension when files were read, else an empty list
        # (the SDK's model declares a list).
        "found_formats": report.found_formats or [],
        "data_columns": report.data_columns,
    }
    if options.return_task_ids:
        body["task_ids"] = report.task_ids
    return body


IMPORT_RESPONSE = inline_serializer(
    "ImportResponse",
    {
        "task_count": serializers.IntegerField(required=False),
        "annotation_count": serializers.IntegerField(required=False),
        "prediction_count": serializers.IntegerField(required=False),
        "predictions_count": serializers.IntegerField(
            required=False, help_text="The same number, under the SDK model's name."
        ),
        "duration": serializers.FloatField(required=False, help_text="Seconds."),
        "file_upload_ids": serializers.ListField(child=serializers.IntegerField()),
        "could_be_tasks_list": serializers.BooleanField(required=False),
        "found_formats": serializers.JSONField(
            required=False,
            help_text='Files read, per extension (`{".csv": 1}`); `[]` for a JSON body.',
        ),
        "data_columns": serializers.ListField(child=serializers.CharField(), required=False),
        "task_ids": serializers.ListField(
            child=serializers.IntegerField(), required=False, help_text="With return_task_ids."
        ),
        "import": serializers.IntegerField(
            required=False, help_text="Queued imports only: poll imports/{import}."
        ),
        "job": serializers.IntegerField(required=False, help_text="Queued imports only."),
        "status": serializers.CharField(required=False, help_text="Queued imports only."),
    },
)


class ImportView(MemberAPIView):
    """Imports tasks into a project from a JSON body, uploaded files or a URL.

    JSON body: an array of tasks (`{"data", "annotations", "predictions", "meta"}` or a
    bare object, which is the data) or one task. Multipart: task files (JSON, JSONL, CSV,
    TSV, TXT) and media files. A form or JSON field `url`: a file fetched by a job.
    Imports of more than IMPORT_SYNC_MAX_TASKS tasks, and URL imports, answer
    `{"import": id}`; poll `GET api/projects/{id}/imports/{import}`.
    """

    required_perms: ClassVar = {"POST": Perm.TASKS_IMPORT_EXPORT}
    parser_classes = [LimitedJSONParser, MultiPartParser, LimitedFormParser]

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        # Before anything reads the body (the CSRF check of session logins may).
        request.upload_handlers = [uploads.LimitedUploadHandler(request)]
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(
        tags=["import"],
        summary="Import tasks",
        request={
            "application/json": OpenApiTypes.ANY,
            "multipart/form-data": OpenApiTypes.BINARY,
        },
        parameters=[
            OpenApiParameter("commit_to_project", bool, default=True),
            OpenApiParameter("return_task_ids", bool, default=False),
            OpenApiParameter(
                "preannotated_from_fields", str, description="Comma-separated data fields."
            ),
        ],
        responses=responses(
            {201: IMPORT_RESPONSE},
            (
                400,
                "Malformed input, a task the labeling config cannot use, or a count limit "
                "(IMPORT_MAX_TASKS, DATA_UPLOAD_MAX_NUMBER_FILES).",
            ),
            *MEMBER_ERRORS,
            404,
            (413, "A body or upload larger than its limit (the message names it)."),
        ),
    )
    def post(self, request: Request, pk: int) -> Response:
        project = get_project_for(self.actor, self.role, pk)
        options = _options(request)
        try:
            report = self._run(request, project, options)
        except Refused as refused:
            return _refusal(refused.messages)
        except FormatError as error:
            return _refusal([str(error)])
        return Response(_body(report, options), status=status.HTTP_201_CREATED)

    def _run(
        self, request: Request, project: Project, options: services.Options
    ) -> services.Report:
        data = _data(request)
        actor, origin = self.actor, self.origin
        files: list[UploadedFile] = [
            f for name in request.FILES for f in request.FILES.getlist(name)
        ]
        if files:
            return services.import_files(project, files, options, actor=actor, origin=origin)
        if isinstance(data, list):
            return services.import_items(project, data, options, actor=actor, origin=origin)
        url = _url(data, project)
        if url is not None:
            return services.import_url(project, url, options, actor=actor, origin=origin)
        if isinstance(data, dict) and not isinstance(data, QueryDict) and data:
            return services.import_items(project, [data], options, actor=actor, origin=origin)
        raise Refused(["No tasks found: send a JSON array of tasks, files, or a url."])


def _data(request: Request) -> Any:
    # Other limits of the form parsers (DATA_UPLOAD_MAX_NUMBER_FILES) are answered by
    # labelkeep.api.errors; a body too large to read gets advice fit for imports.
    try:
        return request.data
    except (BodyTooLarge, RequestDataTooBig):
        limit = int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        raise BodyTooLarge(
            f"The request body, not counting uploaded files, is larger than "
            f"DATA_UPLOAD_MAX_MEMORY_SIZE ({limit} bytes); upload the tasks as a file instead "
            "(up to IMPORT_MAX_FILE_SIZE)."
        ) from None


def _url(data: Any, project: Project) -> str | None:
    """The URL to import from: a form field, or a JSON body that is only `{"url": …}`
    (unless the labeling config reads `$url`: then that body is a task, as in Label Studio)."""
    if isinstance(data, QueryDict):
        url = data.get("url")
        return url if url else None
    only_url = isinstance(data, dict) and set(data) == {"url"} and isinstance(data["url"], str)
    if only_url and "url" not in stored_config(project).data_keys:
        return str(data["url"])
    return None


class ImportStatusSerializer(serializers.ModelSerializer[ProjectImport]):
    url = serializers.CharField(source="source_url")
    preannotated_from_fields = serializers.ListField(child=serializers.CharField())
    predictions_count = serializers.IntegerField(source="prediction_count")
    progress = serializers.SerializerMethodField()

    class Meta:
        model = ProjectImport
        fields = (
            "id",
            "project",
            "status",
            "url",
            "commit_to_project",
            "return_task_ids",
            "preannotated_from_fields",
            "task_count",
            "annotation_count",
            "prediction_count",
            "predictions_count",
            "error",
            "task_ids",
            "file_upload_ids",
            "could_be_tasks_list",
            "found_formats",
            "data_columns",
            "duration",
            "created_at",
            "updated_at",
            "finished_at",
            "job",
            "progress",
        )
        read_only_fields = fields

    def get_progress(self, done: ProjectImport) -> dict[str, Any] | None:
        """The job's progress: tasks done, of how many, and what it is doing."""
        job: Job | None = done.job
        if job is None:
            return None
        return {"done": job.progress, "total": job.total, "message": job.message}


class ImportStatusView(MemberAPIView):
    """Reads one import of a project: its status, counts, task ids, error and progress."""

    required_perms: ClassVar = {"GET": Perm.TASKS_IMPORT_EXPORT}

    @extend_schema(
        tags=["import"],
        summary="Read an import",
        responses=responses({200: ImportStatusSerializer}, *MEMBER_ERRORS, 404),
    )
    def get(self, request: Request, pk: int, import_pk: int) -> Response:
        project = get_project_for(self.actor, self.role, pk)
        found = (
            ProjectImport.objects.select_related("job")
            .filter(project=project, pk=import_pk)
            .first()
        )
        if found is None:
            raise exceptions.NotFound("Import not found.")
        return Response(ImportStatusSerializer(found).data)


class UploadView(MemberAPIView):
    """An uploaded file, to anyone who may see its project (others get 404)."""

    schema = None  # a file, not an API operation: kept out of the OpenAPI document

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # Browsers ask for `image/*` or `video/*`, which no API renderer offers: the file
        # is the answer whatever Accept says, and errors are JSON.
        return super().perform_content_negotiation(request, force=True)

    def get(self, request: Request, project_id: int, filename: str) -> HttpResponseBase:
        project = get_project_for(self.actor, self.role, project_id)
        # A range only if it cannot be stale: If-Range asks for the whole file otherwise.
        wanted = "" if request.META.get("HTTP_IF_RANGE") else request.META.get("HTTP_RANGE", "")
        return uploads.response(uploads.find(project, filename), wanted)
