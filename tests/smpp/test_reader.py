"""The streaming reader: partial input, several PDUs per chunk, errors in the middle."""

from __future__ import annotations

import struct

import pytest

from martinet.smpp import (
    EnquireLink,
    EnquireLinkResp,
    InvalidCommandLength,
    PDUError,
    PDUReader,
    SubmitSm,
    SubmitSmResp,
    UnknownCommandId,
    encode,
)

pytestmark = pytest.mark.unit

PDUS = [
    SubmitSm(sequence_number=1, source_addr="Martinet", destination_addr="33612345678", short_message=b"one"),
    SubmitSmResp(sequence_number=1, message_id="id-1"),
    EnquireLink(sequence_number=2),
]
STREAM = b"".join(encode(p) for p in PDUS)
UNKNOWN = struct.pack(">IIII", 17, 0x0000_0110, 0, 99) + b"\x0f"


def test_byte_by_byte() -> None:
    reader = PDUReader()
    out = []
    for i in range(len(STREAM)):
        out += reader.feed(STREAM[i : i + 1])
    assert out == PDUS
    assert reader.buffered == 0


def test_all_at_once() -> None:
    assert PDUReader().feed(STREAM) == PDUS


def test_partial_frame_is_kept() -> None:
    reader = PDUReader()
    assert reader.feed(STREAM[:-3]) == PDUS[:2]
    assert reader.buffered == len(encode(PDUS[2])) - 3
    assert reader.feed(STREAM[-3:]) == PDUS[2:]


def test_recoverable_error_keeps_its_place_in_the_stream() -> None:
    items = PDUReader().feed(encode(PDUS[0]) + UNKNOWN + encode(PDUS[2]))
    assert items[0] == PDUS[0] and items[2] == PDUS[2]
    error = items[1]
    assert isinstance(error, UnknownCommandId) and error.sequence_number == 99 and not error.fatal


def test_fatal_error_sticks() -> None:
    reader = PDUReader()
    bad = struct.pack(">IIII", 8, 0x15, 0, 5)
    first = reader.feed(encode(PDUS[2]) + bad + encode(PDUS[2]))
    assert first[0] == PDUS[2]
    assert isinstance(first[1], InvalidCommandLength) and first[1].fatal and len(first) == 2
    buffered = reader.buffered
    again = reader.feed(encode(PDUS[2]) * 100)
    assert again == [first[1]]
    assert reader.buffered == buffered  # nothing more is buffered once framing is lost
    with pytest.raises(InvalidCommandLength):
        reader.next_pdu()


def test_next_pdu_style() -> None:
    reader = PDUReader()
    reader.receive_data(UNKNOWN + encode(EnquireLinkResp(sequence_number=3))[:10])
    with pytest.raises(UnknownCommandId):
        reader.next_pdu()
    assert reader.next_pdu() is None
    reader.receive_data(encode(EnquireLinkResp(sequence_number=3))[10:])
    assert reader.next_pdu() == EnquireLinkResp(sequence_number=3)
    assert reader.next_pdu() is None


def test_custom_maximum() -> None:
    reader = PDUReader(max_command_length=64)
    big = encode(SubmitSm(short_message=b"x" * 100))
    items = reader.feed(big[:4])
    assert len(items) == 1 and isinstance(items[0], PDUError) and items[0].fatal
    with pytest.raises(ValueError):
        PDUReader(max_command_length=15)
