"""What every format writer gets: the tasks, the labeling config, and the export options."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from labelkeep.projects.labelconfig import LabelConfig

BUFFER_BYTES = 512 * 1024


class Source(Protocol):
    def raw(self) -> Iterator[str]: ...

    def tasks(self) -> Iterator[dict[str, Any]]: ...

    def data_keys(self) -> set[str]: ...


@dataclass(frozen=True)
class ExportContext:
    source: Source
    config: LabelConfig
    project_id: int
    download_resources: bool = False


def buffered(pieces: Iterable[str], size: int = BUFFER_BYTES) -> Iterator[bytes]:
    """Text pieces joined into UTF-8 blocks of about `size` bytes (few, large writes)."""
    pending: list[str] = []
    length = 0
    for piece in pieces:
        pending.append(piece)
        length += len(piece)
        if length >= size:
            yield "".join(pending).encode()
            pending, length = [], 0
    if pending:
        yield "".join(pending).encode()
