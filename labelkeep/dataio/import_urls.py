"""Routes of the import endpoints and of uploaded files (included by labelkeep/urls.py)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpResponseBase
from django.urls import URLPattern, path

from labelkeep.dataio import api, upload_records_api


def _both(route: str, view: Callable[..., HttpResponseBase], name: str) -> list[URLPattern]:
    """With and without the trailing slash (as labelkeep.urls.both; importing it would be
    circular): the SDK posts to `…/import` and polls `…/imports/{pk}/`."""
    bare = route.rstrip("/")
    return [path(bare, view, name=name), path(bare + "/", view)]


urlpatterns: list[URLPattern] = [
    *_both("api/projects/<int:pk>/import", api.ImportView.as_view(), "api-project-import"),
    *_both(
        "api/projects/<int:pk>/imports/<int:import_pk>",
        api.ImportStatusView.as_view(),
        "api-project-import-status",
    ),
    *_both(
        "api/projects/<int:pk>/file-uploads",
        upload_records_api.ProjectUploadsView.as_view(),
        "api-project-file-uploads",
    ),
    *_both(
        "api/import/file-upload/<int:pk>",
        upload_records_api.UploadRecordView.as_view(),
        "api-file-upload",
    ),
    path("data/upload/<int:project_id>/<str:filename>", api.UploadView.as_view(), name="upload"),
]
