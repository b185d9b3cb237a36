"""Reading CSV files as they arrive, a chunk of bytes at a time, with the standard `csv` module.

Files come from spreadsheets: French Excel writes `;` and ISO-8859-15 (or Windows-1252), others write `,` and
UTF-8, with or without a byte-order mark, and Excel's "Unicode text" is UTF-16 with its byte-order mark and tabs.
The separator is the one the header line uses most (outside quotes). The charset is UTF-8 or UTF-16 when the
file starts with the byte-order mark of either (UTF-16 is turned into UTF-8 as it arrives, by an incremental
decoder, so everything below reads UTF-8 bytes); otherwise each record is read as UTF-8 when it is valid UTF-8
and as ISO-8859-15 when not. Deciding per record lets a file be read while it is still arriving (an upload is
never held whole in memory), and a record of plain ASCII reads the same either way.

Records, not lines: a quoted field may hold line breaks. Bytes are split at line feeds, and lines are joined
while the record has an odd number of `"` (an escaped quote is written `""`, so it never changes the parity);
a line with an even number, outside such a record, is a record by itself (most are).
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator

#: A record and its number in the file (the header is 1; blank lines count).
Record = tuple[int, list[str]]

BOM = b"\xef\xbb\xbf"
#: UTF-16's byte-order marks, little-endian (what Windows writes) and big-endian.
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
SEPARATORS = (";", ",", "\t")


class CsvError(ValueError):
    """A file that cannot be read as CSV; `line` is the record's number in the file (the header is 1)."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


def decode_record(raw: bytes, utf8: bool) -> str:
    if raw.isascii():
        return raw.decode("ascii")  # the same text in either charset
    if utf8:
        return raw.decode("utf-8", errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("iso-8859-15")


def sniff_separator(header: str) -> str:
    """The separator the header uses most outside quotes (`,` when it has none: a one-column file)."""
    counts = dict.fromkeys(SEPARATORS, 0)
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(SEPARATORS, key=lambda s: counts[s])
    return best if counts[best] else ","


class CsvRecords:
    """A push parser: `feed` bytes as they come, get back the records completed so far (numbered); `close`
    at the end of the file. The first record is the header; its separator is used for every record.

    Memory is bounded by the longest record (`max_record_bytes`), whatever the size of the file.
    """

    def __init__(self, max_record_bytes: int = 64 * 1024) -> None:
        self._pending = bytearray()
        self._record: list[bytes] = []  # lines of a record whose quoted field spans line breaks
        self._record_size = 0
        self._quotes = 0
        self._started = False
        self._utf8 = False
        self._utf16: codecs.IncrementalDecoder | None = None  # set for a file that starts with a UTF-16 BOM
        self._separator: str | None = None
        self._line = 0  # records read, header included
        self._max = max_record_bytes

    @property
    def line(self) -> int:
        """The number (from 1) of the last record returned."""
        return self._line

    @property
    def separator(self) -> str | None:
        return self._separator

    def feed(self, chunk: bytes) -> list[Record]:
        if self._utf16 is not None:
            chunk = self._utf16.decode(chunk).encode("utf-8")
        self._pending += chunk
        if not self._started:
            if self._may_be_a_bom():
                return []
            self._started = True
            self._take_bom()
        texts: list[tuple[int, str]] = []
        last = self._pending.rfind(b"\n")
        if last >= 0:
            # Every complete line at once: one copy and one split in C, then a line at a time.
            lines = bytes(self._pending[:last]).split(b"\n")
            del self._pending[: last + 1]
            for line in lines:
                self._line_done(line, texts)
        if len(self._pending) + self._record_size > self._max:
            raise CsvError(self._line + 1, f"a record longer than {self._max} bytes")
        return self._parse(texts)

    def _may_be_a_bom(self) -> bool:
        """Whether the bytes so far are too few to tell a byte-order mark (they begin one)."""
        start = bytes(self._pending)
        return any(len(start) < len(mark) and mark.startswith(start) for mark in (BOM, *UTF16_BOMS))

    def _take_bom(self) -> None:
        """Reads the file's byte-order mark, if any, and removes it: UTF-8, or UTF-16 turned into UTF-8."""
        if self._pending.startswith(BOM):
            self._utf8 = True
            del self._pending[: len(BOM)]
        elif self._pending.startswith(UTF16_BOMS):
            self._utf8 = True
            self._utf16 = codecs.getincrementaldecoder("utf-16")(errors="replace")
            self._pending[:] = self._utf16.decode(bytes(self._pending)).encode("utf-8")

    def close(self) -> list[Record]:
        if self._utf16 is not None:
            self._pending += self._utf16.decode(b"", final=True).encode("utf-8")
        texts: list[tuple[int, str]] = []
        if self._pending:
            self._line_done(bytes(self._pending), texts)
            self._pending.clear()
        if self._record:
            raise CsvError(self._line + 1, "a quoted field is not closed")
        return self._parse(texts)

    def _parse(self, texts: list[tuple[int, str]]) -> list[Record]:
        """Complete records, each a text, through one `csv.reader` (one per record costs more than the record)."""
        if not texts:
            return []
        assert self._separator is not None
        reader = csv.reader((text for _, text in texts), delimiter=self._separator, strict=True)
        records: list[Record] = []
        numbers = iter(texts)
        try:
            for fields in reader:
                records.append((next(numbers)[0], fields))
        except csv.Error as exc:
            raise CsvError(texts[len(records)][0], f"not valid CSV ({exc})") from None
        return records

    def _line_done(self, line: bytes, records: list[tuple[int, str]]) -> None:
        """A line without its line feed: a record, or part of one whose quoted field spans line breaks."""
        size = len(line) + 1  # its line feed counted
        if not self._record and not line.count(b'"') % 2:  # a whole record (most lines): nothing to join
            if size > self._max:
                raise CsvError(self._line + 1, f"a record longer than {self._max} bytes")
            self._record_done(line, records)
            return
        self._record.append(line)
        self._record_size += size
        if self._record_size > self._max:
            raise CsvError(self._line + 1, f"a record longer than {self._max} bytes")
        self._quotes += line.count(b'"')
        if self._quotes % 2:
            return  # inside a quoted field: the record goes on
        raw = b"\n".join(self._record)
        self._record.clear()
        self._record_size = 0
        self._quotes = 0
        self._record_done(raw, records)

    def _record_done(self, raw: bytes, records: list[tuple[int, str]]) -> None:
        text = decode_record(raw, self._utf8).rstrip("\r\n")
        if not text.strip():
            self._line += 1
            return  # blank lines (a trailing one, above all) are not records
        if self._separator is None:
            self._separator = sniff_separator(text)
        self._line += 1
        records.append((self._line, text))


def read_all(data: bytes, chunk_size: int = 1 << 16) -> Iterator[Record]:
    """Every record of a file held in memory, with its number."""
    reader = CsvRecords()
    for offset in range(0, len(data), chunk_size):
        yield from reader.feed(data[offset : offset + chunk_size])
    yield from reader.close()
