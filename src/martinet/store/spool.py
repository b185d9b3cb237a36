"""Rows kept on disk until they are written: a campaign's messages while its file is read and its send committed.

A 100,000-row campaign of long texts would otherwise hold every message in the HTTP worker until the acceptance
transaction commits (hundreds of MiB at the upload limit). The rows go instead, a chunk at a time, to a private
temporary file (`marshal` of a list of tuples of plain values, behind its length), and are read back a chunk at a
time: the memory held is one chunk, whatever the file's size. The file is the worker's own (created mode 0600,
read only by the process that wrote it) and is removed by `close`.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import struct
import tempfile
from collections.abc import Iterator

#: Rows per chunk: large enough that marshal and the file cost little per row, small enough to be no memory.
CHUNK = 2000
PREFIX = "martinet-spool-"
_LENGTH = struct.Struct("<I")

Row = tuple[object, ...]


class Spool:
    """Tuples of `str`, `int` and None, appended then read back in order (as often as needed) in chunks."""

    def __init__(self, directory: str | None = None, chunk: int = CHUNK) -> None:
        fd, self.path = tempfile.mkstemp(prefix=PREFIX, dir=directory)
        self._file = os.fdopen(fd, "w+b")
        self._chunk = chunk
        self._pending: list[Row] = []
        self.count = 0

    def append(self, row: Row) -> None:
        self._pending.append(row)
        self.count += 1
        if len(self._pending) >= self._chunk:
            self._flush()

    def chunks(self) -> Iterator[list[Row]]:
        """Every row so far, a chunk at a time, from the first."""
        self._flush()
        self._file.seek(0)
        while head := self._file.read(_LENGTH.size):
            (size,) = _LENGTH.unpack(head)
            rows: list[Row] = marshal.loads(self._file.read(size))  # noqa: S302 (our own 0600 file, read back)
            yield rows
        # Appending after a reading goes on at the end: the position is left there.

    def close(self) -> None:
        """Remove the file (its rows are written or refused); closing twice does nothing."""
        self._pending.clear()
        if not self._file.closed:
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def _flush(self) -> None:
        if not self._pending:
            return
        blob = marshal.dumps(self._pending)
        self._file.seek(0, os.SEEK_END)
        self._file.write(_LENGTH.pack(len(blob)) + blob)
        self._pending = []
