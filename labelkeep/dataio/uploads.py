"""Uploaded files: stored under UPLOADS_ROOT with names the server makes, served back safely.

A stored file lives at `<UPLOADS_ROOT>/<project id>/<32 hex digits><extension>`; task data
refers to it as `/data/upload/<project id>/<name>`. The user's file name is kept only as a
label. Serving finds the file through its `FileUpload` row (so only names the server made
are ever opened), refuses symlinks, and sends a type from a short allowlist: anything that
could run script in a browser (HTML, SVG, XML, PDF…) goes out as an attachment of type
`application/octet-stream`, under a sandboxing Content-Security-Policy.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.http import content_disposition_header
from rest_framework import exceptions, status

from labelkeep.accounts.models import User
from labelkeep.dataio.models import FileUpload
from labelkeep.projects.models import Project

URL_PREFIX = "/data/upload/"
# Served inline with their own type; everything else is an attachment. Only raster images,
# audio and video: a browser shows them without running anything. SVG (script runs on our
# origin when it is opened), HTML, XML and PDF stay attachments whatever the config shows;
# tests/dataio/test_import_uploads.py holds every accepted media type to one of the two.
INLINE_TYPES: dict[str, str] = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
    # Few browsers render TIFF (Safari does); inline is harmless, others download it.
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".opus": "audio/ogg",  # Opus files are Ogg streams (RFC 7845 names audio/ogg)
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".ogv": "video/ogg",
    ".mov": "video/quicktime",
    # MP4 under Apple's extension: every browser that plays MP4 knows video/mp4.
    ".m4v": "video/mp4",
}
ATTACHMENT_TYPE = "application/octet-stream"
UPLOAD_CSP = "default-src 'none'; sandbox"
STORED_NAME = re.compile(r"[0-9a-f]{32}\.[a-z0-9]{1,8}")
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


class UploadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "upload_too_large"

    def __init__(self) -> None:
        limit = int(settings.IMPORT_MAX_FILE_SIZE)
        super().__init__(
            f"The uploaded files are larger than IMPORT_MAX_FILE_SIZE ({limit} bytes together)."
        )


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Stops a multipart upload once its files together pass IMPORT_MAX_FILE_SIZE.

    Django's own limits leave file parts unbounded (they go to temporary files)."""

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.limit = int(settings.IMPORT_MAX_FILE_SIZE)
        self.received = 0

    def handle_raw_input(
        self,
        input_data: IO[bytes],
        META: dict[str, Any],
        content_length: int,
        boundary: Any,
        encoding: str | None = None,
    ) -> None:
        # Form fields besides the files are bounded by DATA_UPLOAD_MAX_MEMORY_SIZE.
        if content_length > self.limit + int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE):
            raise UploadTooLarge()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.limit:
            raise UploadTooLarge()
        return super().receive_data_chunk(raw_data, start)


def root() -> Path:
    return Path(settings.UPLOADS_ROOT)


def url_of(upload: FileUpload) -> str:
    """How task data refers to an upload."""
    return URL_PREFIX + upload.path


def store(
    project: Project,
    original_name: str,
    ext: str,
    chunks: Iterable[bytes],
    *,
    actor: User | None,
    content_type: str = "",
) -> FileUpload:
    """Write the file under a new server-made name and record it (unsaved on failure)."""
    folder = root() / str(project.pk)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}{ext}"
    path = folder / name
    size = 0
    descriptor = os.open(path, _CREATE_FLAGS, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
                size += len(chunk)
        return FileUpload.objects.create(
            project=project,
            created_by=actor,
            path=f"{project.pk}/{name}",
            original_name=display_name(original_name),
            content_type=media_type_label(content_type),
            size=size,
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def display_name(name: str) -> str:
    """The user's file name, kept for display only: last path part, no control chars."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(c for c in base if c.isprintable())[:255] or "upload"


def media_type_label(given: str) -> str:
    """The Content-Type a client or remote server sent, kept as a label only: printable
    ASCII, as the header's grammar allows (a NUL would fail the write on PostgreSQL)."""
    return "".join(c for c in given if " " <= c <= "~").strip()[:100]


def read(upload: FileUpload) -> bytes:
    with _open(upload) as handle:
        return handle.read()


def delete(uploads: Iterable[FileUpload]) -> None:
    """Remove the files and their rows."""
    for upload in uploads:
        _path(upload).unlink(missing_ok=True)
        if upload.pk:
            upload.delete()


def forget_file(sender: Any, instance: FileUpload, **kwargs: Any) -> None:
    """post_delete: once the deletion commits (a project's, say), remove the file too."""

    def remove() -> None:
        with contextlib.suppress(Http404, OSError):  # not a name the server made, or gone
            _path(instance).unlink(missing_ok=True)

    transaction.on_commit(remove)


def _path(upload: FileUpload) -> Path:
    project_id, name = upload.path.split("/", 1)
    if not project_id.isdigit() or not STORED_NAME.fullmatch(name):
        raise Http404("File not found.")
    return root() / project_id / name


def _open(upload: FileUpload) -> IO[bytes]:
    """The stored file, never through a symlink, never outside the project's folder."""
    path = _path(upload)
    folder = (root() / upload.path.split("/", 1)[0]).resolve()
    if path.parent.resolve() != folder or not folder.is_relative_to(root().resolve()):
        raise Http404("File not found.")
    try:
        descriptor = os.open(path, _OPEN_FLAGS)
    except OSError:
        raise Http404("File not found.") from None
    return os.fdopen(descriptor, "rb")


def find(project: Project, filename: str) -> FileUpload:
    """The project's upload of that stored name; Http404 for anything else."""
    if not STORED_NAME.fullmatch(filename):
        raise Http404("File not found.")
    upload = FileUpload.objects.filter(project=project, path=f"{project.pk}/{filename}").first()
    if upload is None:
        raise Http404("File not found.")
    return upload


_RANGE = re.compile(r"bytes=(\d{0,18})-(\d{0,18})")
_CHUNK = 64 * 1024


def byte_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """The one range `Range: bytes=…` asks for, as (first, last) inclusive; None to send the
    whole file (no header, several ranges, or one we do not read); False when it lies
    wholly past the end (416).

    A suffix longer than the file is the whole file (RFC 9110, 14.1.1). An empty file has no
    byte to send and `Content-Range` no way to write an empty range (`bytes 0--1/0`), so
    every range of it, a suffix one included, is a 416 with `bytes */0`."""
    found = _RANGE.fullmatch(header.strip())
    if not found or not (found.group(1) or found.group(2)):
        return None
    first_text, last_text = found.groups()
    if not first_text:  # the last N bytes
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            return False
        return max(0, size - suffix), size - 1
    first = int(first_text)
    last = min(int(last_text), size - 1) if last_text else size - 1
    if last_text and int(last_text) < first:
        return None
    if first >= size:
        return False
    return first, last


def _part(handle: IO[bytes], first: int, length: int) -> Iterable[bytes]:
    with handle:
        handle.seek(first)
        while length > 0:
            chunk = handle.read(min(_CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


def _disposition(attachment: bool, name: str) -> str:
    fallback = "attachment" if attachment else "inline"
    return content_disposition_header(attachment, name) or fallback


def _guarded(served: HttpResponseBase, name: str, inline: str | None) -> HttpResponseBase:
    served["X-Content-Type-Options"] = "nosniff"
    served["Content-Security-Policy"] = UPLOAD_CSP
    served["Cache-Control"] = "private, max-age=300"
    served["Cross-Origin-Resource-Policy"] = "same-origin"
    served["Accept-Ranges"] = "bytes"
    if inline is not None:
        served["Content-Disposition"] = _disposition(False, name)
    return served


def response(upload: FileUpload, range_header: str = "") -> HttpResponseBase:
    """The file, streamed, with a type from the allowlist and headers that keep it inert.
    One byte range (`Range: bytes=…`, how browsers seek in audio and video) gets a 206
    with just those bytes."""
    name = upload.path.rsplit("/", 1)[-1]
    ext = "." + name.rsplit(".", 1)[-1]
    inline = INLINE_TYPES.get(ext)
    handle = _open(upload)
    size = os.fstat(handle.fileno()).st_size
    wanted = byte_range(range_header, size) if range_header else None
    if wanted is False:
        handle.close()
        refused = HttpResponse(status=status.HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE)
        refused["Content-Range"] = f"bytes */{size}"
        return _guarded(refused, name, inline)
    if isinstance(wanted, tuple):
        first, last = wanted
        part = StreamingHttpResponse(
            _part(handle, first, last - first + 1),
            status=status.HTTP_206_PARTIAL_CONTENT,
            content_type=inline or ATTACHMENT_TYPE,
        )
        part["Content-Length"] = str(last - first + 1)
        part["Content-Range"] = f"bytes {first}-{last}/{size}"
        if inline is None:
            part["Content-Disposition"] = _disposition(True, name)
        return _guarded(part, name, inline)
    served = FileResponse(
        handle,
        content_type=inline or ATTACHMENT_TYPE,
        as_attachment=inline is None,
        filename=name,
    )
    return _guarded(served, name, None)
