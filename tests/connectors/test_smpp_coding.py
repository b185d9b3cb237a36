"""GSM 03.38 and UCS-2 coding of SMPP short messages: known vectors, round trips, tolerant decoding."""

from __future__ import annotations

import codecs

import gsmcodecs  # noqa: F401  (registers the gsm23.038 codec used as an independent reference)
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from martinet.connectors.smpp.coding import (
    decode_text,
    encode_text,
    gsm_septets,
    is_gsm_coding,
    pack_septets,
    septets_to_text,
    unpack_septets,
)
from martinet.domain.text import GSM_BASIC, GSM_CHARACTERS, GSM_EXTENSION, Encoding

pytestmark = pytest.mark.unit

gsm_text = st.text(alphabet=sorted(GSM_CHARACTERS), max_size=400)
any_text = st.text(max_size=200)  # hypothesis leaves out lone surrogates by default


def reference_pack(septets: bytes) -> bytes:
    """Packing written the slow, obvious way: a bit string, least significant bit first, cut into octets."""
    bits = "".join(format(septet, "07b")[::-1] for septet in septets)
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i : i + 8][::-1], 2) for i in range(0, len(bits), 8))


# --- Known vectors ---


@pytest.mark.parametrize(
    ("text", "packed"),
    [
        ("hellohello", "E8329BFD4697D9EC37"),  # the classic 03.38 example
        ("Hello", "C8329BFD06"),
        ("1234567", "31D98C56B3DD1A"),  # 7 septets: the spare bits hold a CR (0x0D << 1 = 0x1A)
        ("12345678", "31D98C56B3DD70"),  # 8 septets fill 7 octets exactly
        ("", ""),
    ],
)
def test_packed_known_vectors(text: str, packed: str) -> None:
    assert encode_text(text, Encoding.GSM7, gsm_packed=True) == (0x00, bytes.fromhex(packed))
    assert decode_text(0x00, bytes.fromhex(packed), gsm_packed=True) == text


def test_unpacked_is_one_septet_per_octet_with_escape_for_extension() -> None:
    assert encode_text("@£$ A€[", Encoding.GSM7, gsm_packed=False) == (0x00, bytes.fromhex("00 01 02 20 41 1B65 1B3C"))
    assert gsm_septets("{}") == b"\x1b\x28\x1b\x29"
    assert gsm_septets("\x0c") == b"\x1b\x0a"  # form feed is an extension character


def test_unpacked_matches_gsmcodecs() -> None:
    text = "".join(sorted(GSM_CHARACTERS))
    assert gsm_septets(text) == codecs.encode(text, "gsm23.038")


def test_every_gsm_character_is_mapped() -> None:
    for char in GSM_BASIC:
        assert len(gsm_septets(char)) == 1
    for char in GSM_EXTENSION:
        assert gsm_septets(char)[0] == 0x1B and len(gsm_septets(char)) == 2


def test_ucs2_is_utf16_be_with_surrogate_pairs() -> None:
    assert encode_text("é😀", Encoding.UCS2, gsm_packed=True) == (0x08, bytes.fromhex("00E9D83DDE00"))
    assert decode_text(0x08, bytes.fromhex("00E9D83DDE00")) == "é😀"


def test_non_gsm_character_in_gsm_text_is_a_bug() -> None:
    with pytest.raises(ValueError, match="position 3"):
        encode_text("aé€ж", Encoding.GSM7, gsm_packed=False)


@given(st.binary(max_size=200).map(lambda data: bytes(octet & 0x7F for octet in data)))
def test_packing_matches_the_bit_string_reference(septets: bytes) -> None:
    packed = pack_septets(septets)
    # 03.38 §6.1.2.3.1: a CR in 7 spare bits, and a second CR after one ending on an octet boundary
    padded = len(septets) % 8 == 7 or (len(septets) % 8 == 0 and septets.endswith(b"\r"))
    if padded:
        assert packed == reference_pack(septets + b"\r")
    else:
        assert packed == reference_pack(septets)


# --- Round trips ---


@given(gsm_text)
def test_gsm_unpacked_round_trip(text: str) -> None:
    data_coding, octets = encode_text(text, Encoding.GSM7, gsm_packed=False)
    assert decode_text(data_coding, octets) == text


@given(gsm_text)
def test_gsm_packed_round_trip(text: str) -> None:
    data_coding, octets = encode_text(text, Encoding.GSM7, gsm_packed=True)
    decoded = decode_text(data_coding, octets, gsm_packed=True)
    if text.endswith("\r") and len(gsm_septets(text)) % 8 == 0:
        # 03.38 §6.1.2.3.1: a CR ending on an octet boundary is doubled, the one ambiguity of packing.
        assert decoded == text + "\r"
    else:
        assert decoded == text


def test_gsm_packed_cr_on_the_boundary_is_doubled() -> None:
    text = "1234567\r"
    octets = encode_text(text, Encoding.GSM7, gsm_packed=True)[1]
    assert len(octets) == 8
    assert decode_text(0, octets, gsm_packed=True) == text + "\r"


@given(any_text)
def test_ucs2_round_trip_including_emoji(text: str) -> None:
    data_coding, octets = encode_text(text, Encoding.UCS2, gsm_packed=False)
    assert data_coding == 0x08
    assert decode_text(data_coding, octets) == text


def test_ucs2_round_trip_of_emoji_and_scripts() -> None:
    text = "Привет 👋🏽 مرحبا 你好 𝄞"
    assert decode_text(*encode_text(text, Encoding.UCS2, gsm_packed=False)) == text


# --- Tolerant decoding ---


@pytest.mark.parametrize(
    ("data_coding", "payload", "text"),
    [
        (0x01, b"Hello", "Hello"),
        (0x01, b"caf\xe9", "caf\ufffd"),  # IA5 has no octet above 0x7F
        (0x03, b"caf\xe9", "café"),
        (0x00, b"Caf\xe9 d\xe9j\xe0 @ 5\x80", "Café déjà @ 5\x80"),  # no septet is above 0x7F: a Latin-1 SMSC
        (0x00, b"Caf\x05 \x00", "Café @"),  # septets: GSM 03.38
        (0x06, bytes([0xBF, 0xE0]), "Пр"),  # ISO-8859-5
        (0x07, bytes([0xE0]), "א"),  # ISO-8859-8
        (0x02, b"\x00\xffHi", "00ff4869"),  # binary → hex
        (0x04, b"\x01\x02", "0102"),
        (0x08, b"\x00A\xd8\x3d", "A\ufffd"),  # lone high surrogate at the end
        (0x08, b"\x00A\x00", "A\ufffd"),  # odd trailing octet
        (0x05, b"caf\xe9", "café"),  # JIS: not decoded, read as Latin-1
        (0x99, b"caf\xe9", "café"),  # reserved: Latin-1
        (0xF0, b"Hello", "Hello"),  # DCS class 0, GSM 7-bit
        (0xF4, b"\x01", "01"),  # DCS class 0, 8-bit data
        (0x11, b"Hello", "Hello"),  # general coding, class 1, GSM 7-bit
        (0x18, b"\x00A", "A"),  # general coding, class 0, UCS-2
        (0x14, b"\xab", "ab"),  # general coding, 8-bit
        (0x30, b"\xab", "ab"),  # compressed: treated as binary
        (0xC0, b"Hi", "Hi"),  # message waiting, GSM
        (0xE0, b"\x00H", "H"),  # message waiting, UCS-2
    ],
)
def test_decode_by_data_coding(data_coding: int, payload: bytes, text: str) -> None:
    assert decode_text(data_coding, payload) == text


def test_gsm_decoding_oddities() -> None:
    assert septets_to_text(b"A\x1b") == "A"  # lone trailing escape: nothing to escape
    assert septets_to_text(b"\x1b\x41") == "A"  # unknown extension code: its basic character
    assert septets_to_text(b"\x1b\x1b") == " "  # reserved further extension: a space, as 03.38 says
    assert septets_to_text(b"A\x80B") == "A\ufffdB"  # not a septet
    assert septets_to_text(b"\x00\x11\x1b\x65") == "@_€"


def test_is_gsm_coding() -> None:
    assert [dc for dc in range(256) if is_gsm_coding(dc)][:8] == [0x00, 0x10, 0x11, 0x12, 0x13, 0x40, 0x41, 0x42]
    assert is_gsm_coding(0xF0) and is_gsm_coding(0xC8) and not is_gsm_coding(0xF4) and not is_gsm_coding(0x08)


@given(st.integers(0, 255), st.binary(max_size=300), st.booleans())
@settings(max_examples=300)
def test_decode_never_raises(data_coding: int, payload: bytes, packed: bool) -> None:
    assert isinstance(decode_text(data_coding, payload, gsm_packed=packed), str)


@given(st.binary(max_size=200))
def test_unpack_then_pack_is_stable(octets: bytes) -> None:
    septets = unpack_septets(octets)
    assert all(septet < 0x80 for septet in septets)
    assert unpack_septets(pack_septets(septets)) == septets or septets.endswith(b"\r")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=sorted(GSM_CHARACTERS), max_size=200))
def test_any_gsm_text_is_written_as_the_independent_codec_writes_it(text: str) -> None:
    """Texts made only of GSM characters take the one-call path (`str.translate`); its septets are the codec's."""
    assert gsm_septets(text) == codecs.encode(text, "gsm23.038")
