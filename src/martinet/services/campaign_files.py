"""Reading a CSV campaign file (`sendSMSBatch.do`'s `fichier`, `martinet send --file`) into its rows, a chunk of
bytes at a time: one reader for every door, so that a file is accepted or refused the same way wherever it comes.

The header names the columns `numero`, `message`, `emetteur` and optionally `refClient`, in any order, compared as
contact imports compare theirs (without case or accents: `Numéro`, `Émetteur`, `RefClient`); `;` or `,`, UTF-8,
UTF-16, ISO-8859-15 or Windows-1252 (`domain.csv_records`), or the charset the upload declares. Empty cells at
the end of the header are no columns: Excel writes a trailing separator on every line when a column beyond the
data was ever touched (`numero;message;emetteur;`), and the rows' cells there must then be empty too.

Each row goes to `on_row` as soon as it is read (the send service's `Campaign` checks it and makes its message
then), so a file is never held whole. The first problem, in the file or in a row, raises InvalidParameter naming
`fichier` and the line; the caller then stores nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from martinet.domain.contacts import free_field_name
from martinet.domain.csv_records import CsvError, CsvRecords
from martinet.services.accept import InvalidParameter
from martinet.services.personal_sends import CampaignRow, RowError

COLUMNS = ("numero", "message", "emetteur", "refclient")
REQUIRED = ("numero", "message")
MAX_RECORD_BYTES = 16 * 1024


class CampaignFile:
    """Feed it the file's bytes, then `close`; `rows` counts the rows handed to `on_row`."""

    def __init__(self, max_rows: int, on_row: Callable[[CampaignRow], None], codec: str | None = None) -> None:
        """`codec`: the charset the upload declares (`csv_records.declared_codec`), None to tell it per record."""
        self._max_rows = max_rows
        self._on_row = on_row
        self._csv = CsvRecords(MAX_RECORD_BYTES, codec)
        self._columns: dict[str, int] = {}
        # Set by the header: how many fields a row has (its named columns, and the empty cells the header ends
        # with, which a row may have or not), and where numero, message, emetteur, refClient are.
        self._width = 0
        self._trailing = 0
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
        named = len(fields)
        while named > 0 and not fields[named - 1].strip():
            named -= 1  # Excel's trailing separators: no column there
        for position, raw in enumerate(fields[:named]):
            name = _column_name(raw)
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
        self._trailing = len(fields) - named
        self._positions = (columns["numero"], columns["message"], columns.get("emetteur"), columns.get("refclient"))

    def _row(self, line: int, fields: list[str]) -> None:
        extra = len(fields) - self._width  # the cells under the header's trailing empty ones: empty, or absent
        if extra < 0 or extra > self._trailing or any(cell.strip() for cell in fields[self._width :]):
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


def _column_name(raw: str) -> str:
    """A header cell as a column name, compared as contact imports compare theirs (`free_field_name`: case,
    accents, a byte-order mark and separators between words ignored), so `Numéro`, `RefClient` and `ref_client`
    name their columns; COLUMNS are written without underscores."""
    return free_field_name(raw).replace("_", "")
