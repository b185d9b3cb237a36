"""Reading smsmode parameters from raw bytes.

smsmode clients percent-encode text in ISO-8859-15 (`%A4` is €, not ¤, and `%80` is read as € too), while careless ones
send UTF-8. Generic form parsers decode percent-escapes as UTF-8 and turn every ISO-8859-15 byte into U+FFFD,
losing the text, so this module splits and unescapes to bytes itself and decides the charset afterwards, on
the whole request: a charset declared in Content-Type wins; otherwise bytes that are valid UTF-8 and contain
multi-byte sequences are UTF-8; otherwise ISO-8859-15, which decodes any byte, so decoding never fails.
Parameter names are matched case-insensitively, as smsmode does.
"""

from __future__ import annotations

import codecs
from urllib.parse import unquote_to_bytes

LATIN9 = "iso-8859-15"

# Bytes 0x80-0x9F are C1 control characters in ISO-8859-15, which no SMS text contains; clients that call their
# Windows-1252 text "Latin" send `%80` for € and `%92` for ’ there. Reading that range as Windows-1252 keeps
# their text instead of turning it into `?`.
_C1_AS_CP1252 = {code: char for code in range(0x80, 0xA0) if (char := bytes([code]).decode("cp1252", errors="ignore"))}


def split_pairs(raw: bytes) -> list[tuple[bytes, bytes]]:
    """`a=1&b=x%20y` → [(b"a", b"1"), (b"b", b"x y")], `+` being a space as in HTML forms."""
    pairs = []
    for chunk in raw.split(b"&"):
        if not chunk:
            continue
        name, _, value = chunk.partition(b"=")
        pairs.append((unquote_to_bytes(name.replace(b"+", b" ")), unquote_to_bytes(value.replace(b"+", b" "))))
    return pairs


def declared_charset(content_type: str | None) -> str | None:
    """The charset named in a Content-Type header, if Python knows it."""
    if not content_type:
        return None
    for piece in content_type.split(";")[1:]:
        key, _, value = piece.strip().partition("=")
        if key.strip().lower() == "charset":
            name = value.strip().strip('"').strip("'")
            try:
                return codecs.lookup(name).name
            except LookupError:
                return None
    return None


def guess_charset(values: list[bytes]) -> str:
    """ASCII, UTF-8 when the bytes are valid multi-byte UTF-8, else ISO-8859-15.

    A Latin text is almost never valid UTF-8 by accident (an accented letter would have to be followed by the
    right continuation byte), so validity is a reliable test; this also covers `classe_msg=9`, whose text is
    UTF-8 by definition.
    """
    joined = b"".join(values)
    if joined.isascii():
        return "ascii"
    try:
        joined.decode("utf-8")
    except UnicodeDecodeError:
        return LATIN9
    return "utf-8"


def decode_params(query: bytes, body: bytes = b"", content_type: str | None = None) -> dict[str, str]:
    """The request's parameters, names lower-cased, body values winning over the query string."""
    params: dict[str, str] = {}
    _decode_into(params, split_pairs(query), None)
    if body:
        _decode_into(params, split_pairs(body), declared_charset(content_type))
    return params


def _decode_into(params: dict[str, str], pairs: list[tuple[bytes, bytes]], declared: str | None) -> None:
    if not pairs:
        return
    names = [name.decode("latin-1").strip().lower() for name, _ in pairs]
    charset = declared or guess_charset([v for _, v in pairs])
    for name, (_, value) in zip(names, pairs, strict=True):
        params[name] = _decode(value, charset)


def _decode(value: bytes, charset: str) -> str:
    if charset == "ascii":
        return value.decode("ascii")
    if charset == LATIN9:
        return value.decode(LATIN9).translate(_C1_AS_CP1252)
    try:
        return value.decode(charset)
    except UnicodeDecodeError:
        # A declared charset that the bytes do not follow: keep what decodes, mark the rest.
        return value.decode(charset, errors="replace")
