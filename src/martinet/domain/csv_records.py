"""Reading CSV files as they arrive, a chunk of bytes at a time, with the standard `csv` module.

Files come from spreadsheets: French Excel writes `;` and ISO-8859-15 (or Windows-1252), others write `,` and
UTF-8, with or without a byte-order mark, and Excel's "Unicode text" is UTF-16 with its byte-order mark and tabs.
The separator is the one the header line uses most (outside quotes). The charset is UTF-8 or UTF-16 when the
file starts with the byte-order mark of either (UTF-16 is turned into UTF-8 as it arrives, by an incremental
decoder, so everything below reads UTF-8 bytes); otherwise each record is read as UTF-8 when it is valid UTF-8
and as ISO-8859-15 when not, or as Windows-1252 when it holds a byte of 0x80-0x9F: those are C1 control codes in
ISO-8859-15, never text, while Excel writes `€ ’ œ …` there. Deciding per record lets a file be read while it is
still arriving (an upload is never held whole in memory), and a record of plain ASCII reads the same either way.
A charset the upload declares (`Content-Type: text/csv; charset=...`) is honoured where guessing cannot do as
well, a byte-order mark still winning: UTF-8 (never read as anything else), UTF-16 without a byte-order mark, and
single-byte charsets other than the Latin-1 family (`windows-1250`, `koi8-r`...), read in place of ISO-8859-15
for the records that are not valid UTF-8. A Latin-1, ISO-8859-15, Windows-1252 or ASCII label changes nothing:
many HTTP clients put `ISO-8859-1` on any text by default, whatever the file, and the guess reads all of them.

Records, not lines: a quoted field may hold line breaks. Bytes are split at line feeds, and lines are joined
while the record has an odd number of `"` (an escaped quote is written `""`, so it never changes the parity);
a line with an even number, outside such a record, is a record by itself (most are).
"""

from __future__ import annotations

import codecs
import csv
import re
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


#: Bytes that are C1 control codes in ISO-8859-15 (never text) and letters or signs in Windows-1252.
_C1 = re.compile(b"[\x80-\x9f]")
#: Declared charsets the guess reads as well: a label some clients put on any text, whatever the file holds.
_GUESSED = frozenset({"iso8859_1", "latin_1", "ascii", "iso8859_15", "cp1252"})


def decode_record(raw: bytes, utf8: bool, codec: str | None = None) -> str:
    """A record's text: UTF-8 when valid (or `utf8`: the file is), else in `codec` when the file declares a
    single-byte one, else Windows-1252 when the record holds one of its bytes 0x80-0x9F, else ISO-8859-15."""
    if raw.isascii():
        return raw.decode("ascii")  # the same text in either charset
    if utf8:
        return raw.decode("utf-8", errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if codec is not None:
        return raw.decode(codec, errors="replace")
    if _C1.search(raw) is not None:
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:  # 0x81, 0x8d, 0x8f, 0x90, 0x9d: not Windows-1252 either
            pass
    return raw.decode("iso-8859-15")


def declared_codec(charset: str | None) -> str | None:
    """The codec to read a file whose upload declares `charset` (None: guess, see the module); raises CsvError
    for a charset Python does not know, or one that cannot be a CSV file's (not ASCII-compatible, but UTF-16)."""
    if not charset:
        return None
    try:
        name = codecs.lookup(charset.strip().strip('"')).name.replace("-", "_")
    except LookupError:
        raise CsvError(1, f"unknown charset {charset!r}") from None
    if name.startswith("utf_16") or name == "utf_8" or name == "utf_8_sig":
        return name
    if name in _GUESSED:
        return None
    try:
        ascii_compatible = ';"a,\n'.encode(name) == b';"a,\n'
    except (LookupError, UnicodeError, TypeError):  # a transform (rot13, zlib), not a charset
        ascii_compatible = False
    if not ascii_compatible:
        raise CsvError(1, f"unknown charset {charset!r}")
    return name


def charset_of(content_type: str | None) -> str | None:
    """The `charset=` parameter of a Content-Type header, if any."""
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"') or None
    return None


#: First characters that make a spreadsheet read a cell as a formula (OWASP's "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(text: str) -> str:
    """A client's own text as a CSV cell a spreadsheet shows as text and never runs as a formula: a `'` before
    one that starts like a formula (the rule of the history and ledger exports)."""
    return "'" + text if text[:1] in FORMULA_STARTS else text


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

    def __init__(self, max_record_bytes: int = 64 * 1024, codec: str | None = None) -> None:
        """`codec`: the file's declared charset (`declared_codec`), None to tell it record by record."""
        self._codec = codec
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
            self._utf16_from("utf-16")
        elif self._codec is not None and self._codec.startswith("utf_16"):
            self._utf16_from(self._codec)
        elif self._codec is not None and self._codec.startswith("utf_8"):
            self._utf8 = True

    def _utf16_from(self, codec: str) -> None:
        self._utf8 = True
        self._utf16 = codecs.getincrementaldecoder(codec)(errors="replace")
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
        text = decode_record(raw, self._utf8, self._codec).rstrip("\r\n")
        if not text.strip():
            self._line += 1
            return  # blank lines (a trailing one, above all) are not records
        if self._separator is None:
            self._separator = sniff_separator(text)
        self._line += 1
        records.append((self._line, text))


def read_all(data: bytes, chunk_size: int = 1 << 16, codec: str | None = None) -> Iterator[Record]:
    """Every record of a file held in memory, with its number (`codec`: its declared charset, `declared_codec`)."""
    reader = CsvRecords(codec=codec)
    for offset in range(0, len(data), chunk_size):
        yield from reader.feed(data[offset : offset + chunk_size])
    yield from reader.close()
