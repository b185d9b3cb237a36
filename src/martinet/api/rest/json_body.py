"""A JSON request body as UTF-8 bytes, whatever charset its client wrote it in.

JSON on the wire is UTF-8 (RFC 8259), and that is what nearly every client sends: such a body passes through
untouched, after one look at its first bytes. The others are real clients too, and Jackson, the parser behind
Spring servers, reads them (it detects the Unicode encodings from the first bytes), so this door does as well
rather than answering a valid document with "not valid JSON":
- a UTF-8 byte order mark, which a file saved by Windows Notepad starts with (`curl --data-binary @body.json`);
  RFC 8259 lets a parser ignore it;
- UTF-16 and UTF-32, with or without a byte order mark, recognised as RFC 4627 said (by where the zero bytes of
  the first characters fall; `json.detect_encoding`, which `json.loads` uses on bytes);
- a charset named in Content-Type (`application/json; charset=ISO-8859-1`), which wins over the bytes.

Only the charsets such clients name are read: the Unicode ones, US-ASCII, ISO-8859-1, ISO-8859-15 and
Windows-1252. Any other name is refused (415), since Python's codecs include some that are no text encoding at
all (`rot13`, `zlib`) and one whose decoding takes quadratic time (`punycode`).
"""

from __future__ import annotations

import json
from typing import Final

from martinet.api.rest.problems import Problem

_UTF8: Final = "utf-8"
_UTF8_BOM: Final = b"\xef\xbb\xbf"

# Charset names as clients write them (lower case, `_` as `-`) → the codec that reads them.
_CHARSETS: Final[dict[str, str]] = {
    **dict.fromkeys(("utf-8", "utf8", "us-ascii", "ascii"), _UTF8),  # ASCII is UTF-8's first half
    **dict.fromkeys(("utf-16", "utf16"), "utf-16"),  # its byte order mark, or big-endian without one
    "utf-16le": "utf-16-le",
    "utf-16be": "utf-16-be",
    **dict.fromkeys(("utf-32", "utf32"), "utf-32"),
    "utf-32le": "utf-32-le",
    "utf-32be": "utf-32-be",
    **dict.fromkeys(("iso-8859-1", "iso8859-1", "latin1", "latin-1"), "iso-8859-1"),
    **dict.fromkeys(("iso-8859-15", "iso8859-15", "latin9", "latin-9"), "iso-8859-15"),
    **dict.fromkeys(("windows-1252", "cp1252"), "cp1252"),
}
_READ: Final = "utf-8, utf-16, utf-32, us-ascii, iso-8859-1, iso-8859-15 or windows-1252"


def utf8_json(body: bytes, content_type: bytes) -> bytes:
    """`body` as UTF-8 without a byte order mark; raises Problem when its charset cannot be read."""
    if body[:1] == b"{" and body[1:2] != b"\x00" and b";" not in content_type:
        return body  # UTF-8 (not UTF-16LE's "{\0"), no charset named: nearly every request
    charset = declared_charset(content_type)
    if charset is None:
        if b"\x00" not in body[:4] and not body.startswith((b"\xff\xfe", b"\xfe\xff")):
            return body[3:] if body.startswith(_UTF8_BOM) else body
        charset = json.detect_encoding(body)
    elif charset == _UTF8:
        return body[3:] if body.startswith(_UTF8_BOM) else body
    try:
        return body.decode(charset).removeprefix("\ufeff").encode(_UTF8)
    except UnicodeError:
        raise Problem("INVALID_JSON", f"the body is not valid {charset.upper()}") from None


def without_nul(body: bytes) -> bytes:
    """`body`, refused (Problem) when one of its strings holds a NUL (`\\u0000`): PostgreSQL's text cannot keep
    it where SQLite's can, and a request must not be kept on one database and fail on the other. An escaped
    backslash followed by `u0000` is text, not a NUL (one search in C for the common body without either)."""
    at = body.find(b"\\u0000")
    while at != -1:
        start = at
        while start > 0 and body[start - 1] == 0x5C:  # the backslashes before: an odd run escapes this one
            start -= 1
        if (at - start) % 2 == 0:
            raise Problem("INVALID_JSON", "a string holds a NUL character (\\u0000), which is not kept")
        at = body.find(b"\\u0000", at + 1)
    return body


def declared_charset(content_type: bytes) -> str | None:
    """The codec of the charset a Content-Type names; None when it names none. Raises Problem (415) for a
    charset this door does not read."""
    for parameter in content_type.split(b";")[1:]:
        key, _, value = parameter.partition(b"=")
        if key.strip().lower() != b"charset":
            continue
        name = value.strip().strip(b"\"'").strip().lower().replace(b"_", b"-").decode("latin-1")
        codec = _CHARSETS.get(name)
        if codec is None:
            raise Problem("UNSUPPORTED_MEDIA_TYPE", f"charset {name[:40]!r} is not read here: {_READ}")
        return codec
    return None
