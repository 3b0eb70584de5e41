"""Routes of the export endpoints (included by labelkeep/urls.py).

Each route answers with and without its trailing slash (the SDK uses `exports/` for the
list and no slash for the rest), never with a redirect.
"""

from collections.abc import Callable

from django.http import HttpResponseBase
from django.urls import URLPattern, path

from labelkeep.dataio.exporting import api


def _both(route: str, view: Callable[..., HttpResponseBase], name: str) -> list[URLPattern]:
    bare = route.rstrip("/")
    return [path(bare, view, name=name), path(bare + "/", view)]


_SNAPSHOT = "api/projects/<int:pk>/exports/<int:export_pk>"

urlpatterns: list[URLPattern] = [
    *_both("api/projects/<int:pk>/export", api.ExportView.as_view(), "api-export"),
    *_both(
        "api/projects/<int:pk>/export/formats",
        api.ExportFormatsView.as_view(),
        "api-export-formats",
    ),
    *_both("api/projects/<int:pk>/exports", api.SnapshotsView.as_view(), "api-exports"),
    *_both(_SNAPSHOT, api.SnapshotDetailView.as_view(), "api-export-snapshot"),
    *_both(f"{_SNAPSHOT}/convert", api.SnapshotConvertView.as_view(), "api-export-convert"),
    *_both(f"{_SNAPSHOT}/download", api.SnapshotDownloadView.as_view(), "api-export-download"),
]
