"""A zip archive written as a stream of byte blocks, never held whole in memory or on disk."""

from __future__ import annotations

import time
import zipfile
from collections.abc import Iterable, Iterator
from typing import IO


class _Sink:
    """A write-only file for ZipFile: it collects what is written until taken."""

    def __init__(self) -> None:
        self.blocks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.blocks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.blocks = b"".join(self.blocks), []
        return data


class ZipStream:
    """Add entries, take the bytes produced so far after each; `finish` ends the archive.

    ZipFile sees an unseekable file, so each entry's sizes follow its data (a data
    descriptor) and nothing is rewritten. Compressed formats (images) are stored as is.
    """

    COPY_BLOCK = 1024 * 1024

    def __init__(self) -> None:
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(self._sink, "w", allowZip64=True)
        now = time.gmtime()
        self._stamp = (now.tm_year, now.tm_mon, now.tm_mday, now.tm_hour, now.tm_min, now.tm_sec)

    def _info(self, name: str, size: int, *, compress: bool) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self._stamp)
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.file_size = size  # lets ZipFile choose ZIP64 up front for large entries
        info.external_attr = 0o600 << 16
        return info

    def add(self, name: str, data: bytes) -> bytes:
        """A small entry, compressed; returns the archive bytes produced."""
        self._zip.writestr(self._info(name, len(data), compress=True), data)
        return self._sink.take()

    def add_file(
        self, name: str, source: IO[bytes], size: int, *, compress: bool
    ) -> Iterator[bytes]:
        """An entry copied from an open file, a block at a time."""
        return self.add_parts(name, [source], size, compress=compress)

    def add_parts(
        self, name: str, parts: Iterable[bytes | IO[bytes]], size: int, *, compress: bool = True
    ) -> Iterator[bytes]:
        """An entry of `size` bytes made of byte strings and open files, in order."""
        with self._zip.open(self._info(name, size, compress=compress), "w") as entry:
            for part in parts:
                if isinstance(part, bytes):
                    entry.write(part)
                    continue
                while block := part.read(self.COPY_BLOCK):
                    entry.write(block)
                    yield self._sink.take()
        yield self._sink.take()

    def finish(self) -> bytes:
        self._zip.close()
        return self._sink.take()
