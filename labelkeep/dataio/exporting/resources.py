"""Which image files an export may bundle: only files inside the permitted storage roots.

Task data is user input. A reference is bundled only when it names a Labelkeep upload
(`/data/upload/<path>`) or a local-files URI (`/data/local-files/?d=<path>`, when a
local-files root is configured) whose path, percent-decoded once, has no `..` segment, and
whose real location (symlinks resolved) is a regular file inside that root. Everything else
(absolute paths, `../`, symlinks pointing out, URLs, which exports never fetch) is refused
and reported, never read.
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


def roots() -> dict[str, Path]:
    """The storage roots an export may read, by kind."""
    found = {"upload": Path(settings.UPLOADS_ROOT)}
    # Set by the local-files storage when a root is configured; off otherwise.
    local = getattr(settings, "LOCAL_FILES_DOCUMENT_ROOT", None)
    if local:
        found["local-files"] = Path(local)
    return found


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


def resolve(reference: Any) -> Path:
    """The real path of a bundlable reference, or Refused."""
    if not isinstance(reference, str) or not reference:
        raise Refused("not a file reference")
    kind, relative = _relative(reference)
    root = roots().get(kind)
    if root is None:
        raise Refused("local files are not enabled on this server")
    base = root.resolve()
    try:
        real = (base / _checked(relative)).resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):
        raise Refused("file not found") from None
    except (OSError, RuntimeError):
        raise Refused("not a usable file path") from None
    if not real.is_relative_to(base):
        raise Refused("a symlink points outside the storage root", attack=True)
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
