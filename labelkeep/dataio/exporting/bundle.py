"""Putting task images into an archive: unique names, the project and traversal rules, the
report."""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from tempfile import SpooledTemporaryFile
from typing import Any

from labelkeep.dataio.exporting import resources
from labelkeep.dataio.exporting.context import ExportContext
from labelkeep.dataio.exporting.imaging import UniqueNames, file_name, safe_name
from labelkeep.dataio.exporting.zipstream import ZipStream

REPORT_NAME = "export_report.json"


class JsonSpool:
    """The elements of a JSON array, kept on disk past a few MiB, read back once."""

    def __init__(self) -> None:
        # Closed by close(), after the archive has copied it.
        self.file: Any = SpooledTemporaryFile(max_size=4 * 1024 * 1024, mode="w+b")  # noqa: SIM115
        self.count = 0

    def add(self, element: Any) -> None:
        text = (",\n" if self.count else "\n") + json.dumps(element, ensure_ascii=False)
        self.file.write(text.encode())
        self.count += 1

    def parts(self, before: bytes, after: bytes) -> tuple[list[Any], int]:
        """(parts, size) of `before` + the elements + `after`, for ZipStream.add_parts."""
        size = self.file.tell()
        self.file.seek(0)
        return [before, self.file, after], len(before) + size + len(after)

    def close(self) -> None:
        self.file.close()


@dataclass(frozen=True)
class Placed:
    """Where a task's image is: `member` in the archive when bundled, else only its name."""

    stem: str
    suffix: str
    member: str | None


class ImageBundler:
    """Names each task's image uniquely and, when asked to, copies in the permitted files:
    uploads of the exported project only (`resources.resolve`)."""

    def __init__(self, archive: ZipStream, ctx: ExportContext) -> None:
        self.archive = archive
        self.bundle = ctx.download_resources
        self.project_id = ctx.project_id
        self.names = UniqueNames()
        self.report = JsonSpool()
        self.bundled = 0

    def place(self, task_id: int, reference: Any) -> Generator[bytes, None, Placed]:
        stem, suffix = safe_name(file_name(reference), f"task-{task_id}")
        if not self.bundle:
            return Placed(self.names.claim(stem, task_id), suffix, None)
        try:
            handle, size = resources.open_file(resources.resolve(reference, self.project_id))
        except resources.Refused as refused:
            refusal = resources.note(task_id, reference, refused)
            self.report.add(
                {"task": task_id, "reference": refusal.reference, "reason": refusal.reason}
            )
            return Placed(self.names.claim(stem, task_id), suffix, None)
        stem = self.names.claim(stem, task_id)
        member = f"images/{stem}{suffix}"
        with handle:
            yield from self.archive.add_file(member, handle, size, compress=False)
        self.bundled += 1
        return Placed(stem, suffix, member)

    def finish(self) -> Iterator[bytes]:
        """The report of references not bundled (only when bundling was asked for)."""
        if self.bundle:
            parts, size = self.report.parts(b"[", b"\n]\n")
            yield from self.archive.add_parts(REPORT_NAME, parts, size)
        self.report.close()
