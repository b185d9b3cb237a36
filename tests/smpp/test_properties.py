"""Property-based tests of the codec and the streaming reader."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from martinet.smpp import (
    PDU,
    PDU_CLASSES,
    IncompletePDU,
    PDUError,
    PDUReader,
    SMPPError,
    decode,
    encode,
)

from .strategies import any_pdu, u32

pytestmark = pytest.mark.unit

pdu_lists = st.lists(any_pdu, min_size=1, max_size=6)


# (1) any valid PDU round-trips -------------------------------------------------------------


@given(any_pdu)
@settings(max_examples=500)
def test_valid_pdus_round_trip(pdu: PDU) -> None:
    data = encode(pdu)
    decoded = decode(data)
    assert decoded == pdu
    assert type(decoded) is type(pdu)
    assert encode(decoded) == data


# (2) arbitrary input only ever yields PDUs or the codec's typed errors -----------------------


@st.composite
def framed_garbage(draw: st.DrawFn) -> bytes:
    """A header with a consistent command_length (mostly a known command) and a random body,
    so the body decoders -- not just the length check -- see hostile input."""
    command_id = draw(st.one_of(st.sampled_from(sorted(PDU_CLASSES)), u32))
    body = draw(st.binary(max_size=300))
    return struct.pack(">IIII", 16 + len(body), command_id, draw(u32), draw(u32)) + body


@st.composite
def mutated_pdu(draw: st.DrawFn) -> bytes:
    """A valid PDU with some octets overwritten, keeping or breaking command_length."""
    data = bytearray(encode(draw(any_pdu)))
    for _ in range(draw(st.integers(1, 6))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        cut = draw(st.integers(16, len(data)))
        data = data[:cut]
        data[:4] = struct.pack(">I", len(data))
    return bytes(data)


hostile = st.one_of(st.binary(max_size=400), framed_garbage(), mutated_pdu())


@given(hostile)
@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
def test_decode_only_raises_typed_errors(data: bytes) -> None:
    try:
        pdu = decode(data)
    except SMPPError:
        return
    # Whatever was accepted can be written again, or is refused with a typed error.
    try:
        again = encode(pdu)
    except PDUError:
        return
    assert type(decode(again)) is type(pdu)


@given(st.lists(hostile, max_size=5), st.data())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_reader_only_yields_pdus_or_typed_errors(chunks: list[bytes], data: st.DataObject) -> None:
    reader = PDUReader(max_command_length=data.draw(st.sampled_from([16, 512, 65536])))
    for chunk in chunks:
        for item in reader.feed(chunk):
            assert isinstance(item, PDU | PDUError)


# (3) truncation never produces a PDU ---------------------------------------------------------


@given(any_pdu)
@settings(max_examples=200)
def test_truncated_pdu_is_incomplete(pdu: PDU) -> None:
    data = encode(pdu)
    for cut in range(len(data)):
        prefix = data[:cut]
        try:
            decode(prefix)
        except IncompletePDU as exc:
            assert exc.available == cut and exc.needed in (4, len(data))
        else:
            raise AssertionError(f"decoded a PDU from {cut} of {len(data)} octets")
        reader = PDUReader()
        assert reader.feed(prefix) == []
        assert reader.buffered == cut


# (4) a stream split anywhere yields exactly the PDUs sent ------------------------------------


@given(pdu_lists, st.data())
@settings(max_examples=300)
def test_split_stream_yields_the_same_pdus(pdus: list[PDU], data: st.DataObject) -> None:
    stream = b"".join(encode(p) for p in pdus)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    reader = PDUReader()
    received: list[PDU | PDUError] = []
    start = 0
    for cut in [*cuts, len(stream)]:
        received += reader.feed(stream[start:cut])
        start = cut
    assert received == pdus
    assert reader.buffered == 0
