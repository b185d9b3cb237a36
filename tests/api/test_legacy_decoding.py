"""The charset rules of the smsmode door, on raw bytes (no HTTP needed: the function is pure)."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import given
from hypothesis import strategies as st

from martinet.api.legacy.decoding import decode_params, split_pairs

pytestmark = pytest.mark.unit


def test_latin9_percent_escapes_give_the_euro_sign_both_ways() -> None:
    # %A4 is € in ISO-8859-15; %80 is € in Windows-1252, which clients mislabel as Latin-9.
    assert decode_params(b"", b"message=Caf%E9+%E0+5%A4")["message"] == "Café à 5€"


def test_valid_multibyte_utf8_is_read_as_utf8() -> None:
    assert decode_params(b"", b"message=Caf%C3%A9+%E2%82%AC")["message"] == "Café €"


def test_utf8_emoji_for_unicode_class() -> None:
    params = decode_params(b"", b"classe_msg=9&message=Hi+%F0%9F%98%80")
    assert params["message"] == "Hi 😀"


def test_declared_charset_wins_over_guessing() -> None:
    body = b"message=Caf%C3%A9"  # valid UTF-8, but the client says Latin-9
    params = decode_params(b"", body, "application/x-www-form-urlencoded; charset=ISO-8859-15")
    assert params["message"] == "CafÃ©"


def test_declared_charset_that_the_bytes_break_still_decodes() -> None:
    params = decode_params(b"", b"message=Caf%E9", "application/x-www-form-urlencoded; charset=utf-8")
    assert params["message"] == "Caf\ufffd"


def test_unknown_declared_charset_is_ignored() -> None:
    params = decode_params(b"", b"message=Caf%E9", "application/x-www-form-urlencoded; charset=klingon")
    assert params["message"] == "Café"


def test_names_are_case_insensitive_and_body_wins_over_query() -> None:
    params = decode_params(b"AccessToken=q&smsID=1", b"accesstoken=b")
    assert params == {"accesstoken": "b", "smsid": "1"}


def test_plus_is_space_and_escaped_plus_is_plus() -> None:
    assert decode_params(b"numero=%2B33612345678&message=a+b")["numero"] == "+33612345678"
    assert decode_params(b"message=a+b")["message"] == "a b"


def test_split_pairs_tolerates_empty_chunks_and_missing_values() -> None:
    assert split_pairs(b"&a=1&&b&c=") == [(b"a", b"1"), (b"b", b""), (b"c", b"")]


#: Forms made of what changes how a form splits and unescapes: separators, `+`, escapes whole, cut short or
#: escaping a separator, bytes above ASCII.
_FORM_PIECES = st.sampled_from(
    [b"&", b"=", b"+", b"%", b"%2", b"%2B", b"%26", b"%3D", b"%zz", b"a", b"Z", b"\xe9", b" "]
)


@given(st.lists(_FORM_PIECES, max_size=30).map(b"".join))
def test_pairs_are_each_name_and_value_unescaped_on_its_own(raw: bytes) -> None:
    """The form is split on `&`, each pair at its first `=`, and only then are `+` and `%XX` read in each part:
    an escaped separator (`%26`, `%3D`) stays inside its value, an escaped `+` stays a `+`."""
    expected = [
        (unquote_to_bytes(name.replace(b"+", b" ")), unquote_to_bytes(value.replace(b"+", b" ")))
        for name, _, value in (chunk.partition(b"=") for chunk in raw.split(b"&") if chunk)
    ]
    assert split_pairs(raw) == expected


@given(st.binary(max_size=200), st.sampled_from([None, "text/plain; charset=utf-8", "x; charset=latin-1"]))
def test_any_bytes_decode_deterministically(body: bytes, content_type: str | None) -> None:
    first = decode_params(b"", body, content_type)
    assert first == decode_params(b"", body, content_type)
    assert all(isinstance(v, str) for v in first.values())
