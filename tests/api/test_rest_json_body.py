"""`utf8_json`: any JSON document, in any charset the REST door reads, comes out as the same UTF-8 bytes."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from martinet.api.rest.json_body import utf8_json
from martinet.api.rest.problems import Problem

pytestmark = pytest.mark.unit

# Text a document may hold: any code point but lone surrogates, which no Unicode charset can carry.
_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
_DOCUMENTS = st.dictionaries(st.sampled_from(["text", "to", "from", "ref"]), _TEXT, min_size=1, max_size=4)


@given(
    _DOCUMENTS, st.sampled_from(["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
)
def test_unicode_charsets_are_recognised_from_the_bytes_alone(document: dict[str, str], codec: str) -> None:
    encoded = json.dumps(document, ensure_ascii=False).encode(codec)
    assert orjson.loads(utf8_json(encoded, b"application/json")) == document


@given(_DOCUMENTS, st.sampled_from(["utf-8", "utf-16le", "utf-16be", "utf-32le", "utf-32be"]))
def test_a_named_unicode_charset_is_read_as_named(document: dict[str, str], charset: str) -> None:
    encoded = json.dumps(document, ensure_ascii=False).encode(charset.replace("le", "-le").replace("be", "-be"))
    assert orjson.loads(utf8_json(encoded, f"application/json; charset={charset}".encode())) == document


@given(st.dictionaries(st.just("text"), st.text(st.characters(max_codepoint=0xFF, exclude_categories=("Cs",)))))
def test_a_named_8_bit_charset_is_read_as_named(document: dict[str, str]) -> None:
    encoded = json.dumps(document, ensure_ascii=False).encode("latin-1")
    assert orjson.loads(utf8_json(encoded, b"application/json; charset=ISO-8859-1")) == document


def test_utf_8_passes_through_untouched() -> None:
    body = '{"text": "Café"}'.encode()
    assert utf8_json(body, b"application/json") is body


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        (b"{}", b"application/json; charset=rot13", "UNSUPPORTED_MEDIA_TYPE"),  # a codec, but no text encoding
        (b"{}", b"application/json; charset=punycode", "UNSUPPORTED_MEDIA_TYPE"),
        (b"{}", b"application/json; charset=" + b"x" * 10_000, "UNSUPPORTED_MEDIA_TYPE"),
        (b"{\x00}", b"application/json; charset=utf-16le", "INVALID_JSON"),  # half a character
        (b"\xff\xfe{\x00\x00\xd8}\x00", b"application/json", "INVALID_JSON"),  # a lone surrogate
    ],
)
def test_what_cannot_be_read_is_refused(body: bytes, content_type: bytes, code: str) -> None:
    with pytest.raises(Problem) as refused:
        utf8_json(body, content_type)
    assert refused.value.code == code
    assert len(refused.value.detail) < 200  # a long charset name is not echoed whole
