"""Reading a CSV campaign file (`sendSMSBatch.do`'s `fichier`, `martinet send --file`) into its rows, a chunk of
bytes at a time: one reader for every door, so that a file is accepted or refused the same way wherever it comes.

The header names the columns `numero`, `message`, `emetteur` and optionally `refClient`, in any order; `;` or `,`,
UTF-8, UTF-16, ISO-8859-15 or Windows-1252 (`domain.csv_records`). Each row goes to `on_row` as soon as it is read
(the send service's `Campaign` checks it and makes its message then), so a file is never held whole. The first
problem, in the file or in a row, raises InvalidParameter naming `fichier` and the line; the caller then stores
nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from martinet.domain.csv_records import CsvError, CsvRecords
from martinet.services.accept import InvalidParameter
from martinet.services.personal_sends import CampaignRow, RowError

COLUMNS = ("numero", "message", "emetteur", "refclient")
REQUIRED = ("numero", "message")
MAX_RECORD_BYTES = 16 * 1024


class CampaignFile:
    """Feed it the file's bytes, then `close`; `rows` counts the rows handed to `on_row`."""

    def __init__(self, max_rows: int, on_row: Callable[[CampaignRow], None]) -> None:
        self._max_rows = max_rows
        self._on_row = on_row
        self._csv = CsvRecords(MAX_RECORD_BYTES)
        self._columns: dict[str, int] = {}
        # Set by the header: how many fields a row has, and where numero, message, emetteur, refClient are.
        self._width = 0
        self._positions: tuple[int, int, int | None, int | None] = (0, 0, None, None)
        self.rows = 0

    def feed(self, chunk: bytes) -> None:
        try:
            records = self._csv.feed(chunk)
        except CsvError as exc:  # a record too long, or not valid CSV: named by its line, as a row's problem is
            raise InvalidParameter("fichier", str(exc)) from None
        self._records(records)

    def close(self) -> None:
        """The end of the file: its last record, and the checks only the whole file allows."""
        try:
            tail = self._csv.close()
        except CsvError as exc:  # a quoted field still open when the file ends
            raise InvalidParameter("fichier", str(exc)) from None
        self._records(tail)
        if not self._columns:
            raise InvalidParameter("fichier", "line 1: no header")

    def _records(self, records: list[tuple[int, list[str]]]) -> None:
        try:
            for line, fields in records:
                if not self._columns:
                    self._header(line, fields)
                    continue
                self._row(line, fields)
        except CsvError as exc:
            raise InvalidParameter("fichier", str(exc)) from None

    def _header(self, line: int, fields: list[str]) -> None:
        for position, raw in enumerate(fields):
            name = raw.strip().lstrip("\ufeff").lower()
            if name not in COLUMNS:
                raise InvalidParameter("fichier", f"line {line}: unknown column {raw.strip()!r}")
            if name in self._columns:
                raise InvalidParameter("fichier", f"line {line}: column {raw.strip()!r} twice")
            self._columns[name] = position
        for name in REQUIRED:
            if name not in self._columns:
                raise InvalidParameter("fichier", f"line {line}: no {name} column")
        columns = self._columns
        self._width = len(columns)
        self._positions = (columns["numero"], columns["message"], columns.get("emetteur"), columns.get("refclient"))

    def _row(self, line: int, fields: list[str]) -> None:
        if len(fields) != self._width:
            raise InvalidParameter("fichier", f"line {line}: {len(fields)} fields for {self._width} columns")
        if self.rows >= self._max_rows:
            raise InvalidParameter("fichier", f"more than {self._max_rows} rows")
        self.rows += 1
        numero, message, sender_at, ref_at = self._positions
        # Interned: a campaign names a few senders, each row would otherwise hold its own copy.
        sender = sys.intern(fields[sender_at].strip()) if sender_at is not None else ""
        ref = fields[ref_at].strip() if ref_at is not None else ""
        try:
            self._on_row(CampaignRow(line, fields[numero], fields[message], sender or None, ref or None))
        except RowError as exc:
            raise InvalidParameter("fichier", str(exc)) from None
