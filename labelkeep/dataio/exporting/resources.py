"""Which image files an export may bundle: only the exported project's own uploads.

Task data is user input. A reference is bundled only when it names an upload of the
exported project (`/data/upload/<project id>/<path>`) whose path, percent-decoded once, has
no `..` segment, and whose real location (symlinks resolved) is a regular file inside that
project's folder of UPLOADS_ROOT. The upload-serving view (`labelkeep.dataio.uploads`)
applies the same project boundary, so an export never hands out a file its caller could
not fetch from the project. Everything else is refused and reported, never read: another
project's uploads (of this organization or another), absolute paths, `../`, symlinks
pointing out, URLs (exports never fetch), and local-files URIs (`/data/local-files/?d=…`):
local-files storage is not built yet, and when it is, its per-project paths join
`roots()` — never a server-wide document root that every project could read.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings

logger = logging.getLogger(__name__)

UPLOAD_PREFIX = "/data/upload/"
LOCAL_FILES_PREFIX = "/data/local-files"


class Refused(Exception):
    """The reference is not bundled; `reason` says why (shown in the export report)."""

    def __init__(self, reason: str, *, attack: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attack = attack  # an attempt to leave the roots, logged as a warning


def roots(project_id: int) -> dict[str, Path]:
    """The storage roots an export of the project may read, by kind: its own uploads."""
    return {"upload": Path(settings.UPLOADS_ROOT) / str(project_id)}


def _relative(reference: str) -> tuple[str, str]:
    """(root kind, path relative to it) named by a reference, or Refused."""
    parts = urlsplit(reference)
    if parts.scheme or parts.netloc:
        raise Refused("remote resource: exports never download URLs")
    if parts.path.startswith(UPLOAD_PREFIX):
        return "upload", unquote(parts.path[len(UPLOAD_PREFIX) :])
    if parts.path.rstrip("/") == LOCAL_FILES_PREFIX:
        given = parse_qs(parts.query).get("d", [""])[0]
        return "local-files", given
    leaves = parts.path.startswith("/") or ".." in PurePosixPath(unquote(parts.path)).parts
    raise Refused("outside the permitted storage roots", attack=leaves)


def _checked(relative: str) -> str:
    if not relative or "\x00" in relative or "\\" in relative:
        raise Refused("not a usable file path", attack=True)
    if relative.startswith("/") or ".." in PurePosixPath(relative).parts:
        raise Refused("path traversal: the path leaves its storage root", attack=True)
    return relative


def _within_project(relative: str, project_id: int) -> str:
    """The path inside the project's upload folder, or Refused for another project's."""
    owner, _, inside = relative.partition("/")
    if owner != str(project_id):
        raise Refused("not an upload of this project: exports bundle only their own", attack=True)
    return inside


def resolve(reference: Any, project_id: int) -> Path:
    """The real path of a reference an export of the project may bundle, or Refused."""
    if not isinstance(reference, str) or not reference:
        raise Refused("not a file reference")
    kind, relative = _relative(reference)
    relative = _checked(relative)
    if kind == "upload":
        relative = _checked(_within_project(str(PurePosixPath(relative)), project_id))
    root = roots(project_id).get(kind)
    if root is None:
        raise Refused("local files are not enabled on this server")
    try:
        base = root.resolve(strict=True)
        real = (base / relative).resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):
        raise Refused("file not found") from None
    except (OSError, RuntimeError):
        raise Refused("not a usable file path") from None
    if not real.is_relative_to(base):
        raise Refused("a symlink points outside the project's upload folder", attack=True)
    return real


def open_file(path: Path) -> tuple[BinaryIO, int]:
    """Open a resolved path without following a symlink swapped in since; (file, size)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        raise Refused("file not readable") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise Refused("not a regular file", attack=True)
    return os.fdopen(fd, "rb"), info.st_size


@dataclass
class Refusal:
    task_id: int
    reference: str
    reason: str


def note(task_id: int, reference: Any, refused: Refused) -> Refusal:
    """Record a refusal for the report; attempts to leave the roots are logged."""
    shown = reference if isinstance(reference, str) else repr(reference)
    if refused.attack:
        logger.warning("export: task %s refers to %r: %s", task_id, shown[:200], refused.reason)
    return Refusal(task_id, shown[:2000], refused.reason)
