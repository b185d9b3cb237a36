"""Long messages: submit_sm layouts per mode, byte for byte, and MO reassembly."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from martinet.connectors.smpp.coding import encode_text
from martinet.connectors.smpp.concat import (
    LongMessageMode,
    MoSegment,
    Reassembler,
    Submission,
    capacity,
    segment_of,
    submissions,
)
from martinet.domain.text import GSM_CHARACTERS, Encoding, analyze
from martinet.smpp import TLV, DataSm, DeliverSm, Tag, decode, encode

pytestmark = pytest.mark.unit

UDH8, UDH16, SAR, PAYLOAD = LongMessageMode.UDH8, LongMessageMode.UDH16, LongMessageMode.SAR, LongMessageMode.PAYLOAD
GSM, UCS2 = Encoding.GSM7, Encoding.UCS2


def mo(
    short_message: bytes = b"",
    *,
    esm_class: int = 0,
    data_coding: int = 0,
    tlvs: tuple[TLV, ...] = (),
    source: str = "33612345678",
) -> DeliverSm:
    """An MO deliver_sm, through the real codec so that it is exactly what a session would hand over."""
    pdu = DeliverSm(
        sequence_number=1,
        source_addr=source,
        destination_addr="36180",
        esm_class=esm_class,
        data_coding=data_coding,
        short_message=short_message,
        tlvs=tlvs,
    )
    decoded = decode(encode(pdu))
    assert isinstance(decoded, DeliverSm)
    return decoded


def as_mo(piece: Submission) -> DeliverSm:
    """What the handset side would receive for `piece` (the same fields, in a deliver_sm)."""
    return mo(piece.short_message, esm_class=piece.esm_class, data_coding=piece.data_coding, tlvs=piece.tlvs)


# --- Outbound layouts ---


def test_single_part_is_plain_in_every_mode() -> None:
    for mode in LongMessageMode:
        for packed in (False, True):
            [piece] = submissions(("Hello",), GSM, mode=mode, reference=7, gsm_packed=packed)
            assert piece.esm_class == 0 and piece.tlvs == ()
            assert piece.short_message == encode_text("Hello", GSM, gsm_packed=packed)[1]
    [piece] = submissions(("x" * 160,), GSM, mode=UDH8, reference=7, gsm_packed=False)
    assert piece.short_message == b"x" * 160  # 160 septets unpacked: 160 octets, no UDH
    [piece] = submissions(("€" * 35,), UCS2, mode=SAR, reference=7, gsm_packed=False)
    assert piece.data_coding == 0x08 and len(piece.short_message) == 70


def test_udh8_layout_unpacked() -> None:
    pieces = submissions(("ab", "c"), GSM, mode=UDH8, reference=0x1A2, gsm_packed=False)
    assert [p.esm_class for p in pieces] == [0x40, 0x40]
    assert pieces[0].short_message == bytes.fromhex("050003A2 0201") + b"ab"  # reference masked to 8 bits
    assert pieces[1].short_message == bytes.fromhex("050003A2 0202") + b"c"
    assert all(p.tlvs == () and p.data_coding == 0 for p in pieces)


def test_udh16_layout_ucs2() -> None:
    pieces = submissions(("é", "€"), UCS2, mode=UDH16, reference=0x1234, gsm_packed=False)
    assert pieces[0].short_message == bytes.fromhex("06080412340201 00E9")
    assert pieces[1].short_message == bytes.fromhex("06080412340202 20AC")
    assert [p.data_coding for p in pieces] == [0x08, 0x08]
    assert [p.esm_class for p in pieces] == [0x40, 0x40]


def packed_after_udh(udh: bytes, text: bytes) -> bytes:
    """The 03.40 layout, computed independently: UDH octets, fill bits to the next septet, septets LSB first."""
    fill = -len(udh) * 8 % 7
    bits = "0" * fill + "".join(format(septet, "07b")[::-1] for septet in text)
    bits += "0" * (-len(bits) % 8)
    return udh + bytes(int(bits[i : i + 8][::-1], 2) for i in range(0, len(bits), 8))


def test_udh8_packed_aligns_text_on_a_septet_boundary() -> None:
    [first, _] = submissions(("hellohello", "x"), GSM, mode=UDH8, reference=1, gsm_packed=True)
    assert first.short_message == packed_after_udh(bytes.fromhex("050003010201"), b"hellohello")
    # one fill bit, then "h" (0x68) shifted left by one
    assert first.short_message[6] == 0xD0
    # 7 header septets + 10 text septets = 17 septets = 15 octets
    assert len(first.short_message) == 15


def test_udh16_packed_needs_no_fill_bits() -> None:
    [first, _] = submissions(("hellohello", "x"), GSM, mode=UDH16, reference=1, gsm_packed=True)
    # 7 UDH octets = 56 bits = 8 septets exactly: the text packs as it would alone.
    assert first.short_message == bytes.fromhex("06080400010201") + bytes.fromhex("E8329BFD4697D9EC37")


def test_sar_layout() -> None:
    pieces = submissions(("ab", "cd", "e"), GSM, mode=SAR, reference=0x12345, gsm_packed=False)
    assert [p.short_message for p in pieces] == [b"ab", b"cd", b"e"]
    assert [p.esm_class for p in pieces] == [0, 0, 0]
    assert pieces[1].tlvs == (
        TLV(Tag.SAR_MSG_REF_NUM, 0x2345),  # masked to 16 bits
        TLV(Tag.SAR_TOTAL_SEGMENTS, 3),
        TLV(Tag.SAR_SEGMENT_SEQNUM, 2),
    )
    # and they encode on the wire
    encode(DeliverSm(short_message=pieces[1].short_message, tlvs=pieces[1].tlvs))


def test_payload_is_one_submission_with_the_whole_text() -> None:
    analysis = analyze("a€" * 200)
    [piece] = submissions(analysis.parts, GSM, mode=PAYLOAD, reference=1, gsm_packed=False)
    assert piece.short_message == b"" and piece.esm_class == 0 and piece.text == analysis.text
    assert piece.tlvs == (TLV(Tag.MESSAGE_PAYLOAD, b"a\x1b\x65" * 200),)


def test_mode_accepts_any_case() -> None:
    assert LongMessageMode("udh8") is UDH8 and LongMessageMode("payload") is PAYLOAD and LongMessageMode("sar") is SAR
    with pytest.raises(ValueError):
        LongMessageMode("udh32")


@pytest.mark.parametrize(
    ("encoding", "mode", "packed", "limit", "size"),
    [
        (GSM, UDH8, True, None, 153),
        (GSM, UDH8, False, None, 153),
        (GSM, UDH8, False, 140, 134),
        (GSM, UDH8, True, 140, 153),
        (GSM, UDH16, True, None, 152),
        (GSM, UDH16, False, 140, 133),
        (GSM, SAR, False, 140, 153),
        (UCS2, UDH8, False, None, 67),
        (UCS2, UDH16, False, None, 66),
        (UCS2, SAR, False, None, 67),
    ],
)
def test_capacity(encoding: Encoding, mode: LongMessageMode, packed: bool, limit: int | None, size: int) -> None:
    assert capacity(encoding, mode, gsm_packed=packed, udh_octet_limit=limit) == size


def test_capacity_refuses_an_absurd_limit() -> None:
    with pytest.raises(ValueError):
        capacity(GSM, UDH8, gsm_packed=False, udh_octet_limit=7)


def test_full_parts_fit_140_octets_on_air() -> None:
    text = "x" * 153 * 3
    parts = analyze(text).parts
    assert [len(p) for p in parts] == [153, 153, 153]
    packed = submissions(parts, GSM, mode=UDH8, reference=9, gsm_packed=True)
    assert [len(p.short_message) for p in packed] == [140, 140, 140]
    unpacked = submissions(parts, GSM, mode=UDH8, reference=9, gsm_packed=False)
    assert [len(p.short_message) for p in unpacked] == [159, 159, 159]  # the SMSC packs them to 140
    ucs2 = submissions(analyze("ж" * 134, classe=9).parts, UCS2, mode=UDH8, reference=9, gsm_packed=False)
    assert [len(p.short_message) for p in ucs2] == [140, 140]


def test_unpacked_with_a_140_octet_limit_recuts_the_text() -> None:
    analysis = analyze("y" * 306)  # two full parts of 153
    pieces = submissions(analysis.parts, GSM, mode=UDH8, reference=9, gsm_packed=False, udh_octet_limit=140)
    assert [len(p.text) for p in pieces] == [134, 134, 38]
    assert all(len(p.short_message) <= 140 for p in pieces)
    assert [p.short_message[4:6] for p in pieces] == [b"\x03\x01", b"\x03\x02", b"\x03\x03"]
    assert "".join(p.text for p in pieces) == analysis.text


def test_udh16_recuts_full_parts_without_splitting_escapes_or_surrogates() -> None:
    text = "a" * 151 + "€" + "b" * 150  # the € would straddle septets 152-153 of the first part
    analysis = analyze(text)
    assert len(analysis.parts) == 2
    pieces = submissions(analysis.parts, GSM, mode=UDH16, reference=1, gsm_packed=True)
    assert [p.text for p in pieces] == ["a" * 151, "€" + "b" * 150]
    emoji = "😀" * 40  # 80 UTF-16 units: 67 + 13 with UDH8, but 66 max with UDH16
    pieces = submissions(analyze(emoji, classe=9).parts, UCS2, mode=UDH16, reference=1, gsm_packed=False)
    assert [p.text for p in pieces] == ["😀" * 33, "😀" * 7]


def test_parts_that_fit_are_kept_as_the_engine_cut_them() -> None:
    pieces = submissions(("short", "parts"), GSM, mode=UDH16, reference=1, gsm_packed=False)
    assert [p.text for p in pieces] == ["short", "parts"]


def test_too_many_parts() -> None:
    with pytest.raises(ValueError, match="255"):
        submissions(("x",) * 256, GSM, mode=UDH8, reference=1, gsm_packed=False)


# --- Inbound segments ---


def test_segment_from_udh8_and_udh16() -> None:
    segment = segment_of(mo(bytes.fromhex("0500037F0302") + b"hi", esm_class=0x40))
    assert (segment.reference, segment.total, segment.seq, segment.body) == (0x7F, 3, 2, b"hi")
    segment = segment_of(mo(bytes.fromhex("060804ABCD0201") + b"hi", esm_class=0x43))
    assert (segment.reference, segment.total, segment.seq, segment.body) == (0xABCD, 2, 1, b"hi")


def test_segment_skips_other_information_elements() -> None:
    # application port addressing (IEI 0x05, 4 octets) before the concatenation element
    udh = bytes.fromhex("0B 0504 0B841234 000301 0201")
    segment = segment_of(mo(udh + b"x", esm_class=0x40))
    assert (segment.reference, segment.total, segment.seq, segment.body) == (1, 2, 1, b"x")


def test_segment_from_sar_tlvs() -> None:
    tlvs = (TLV(Tag.SAR_MSG_REF_NUM, 513), TLV(Tag.SAR_TOTAL_SEGMENTS, 2), TLV(Tag.SAR_SEGMENT_SEQNUM, 2))
    segment = segment_of(mo(b"end", tlvs=tlvs))
    assert (segment.reference, segment.total, segment.seq, segment.body) == (513, 2, 2, b"end")


def test_segment_from_sar_tlvs_of_the_wrong_size() -> None:
    """A one-octet sar_msg_ref_num, as some carriers send it, kept as raw octets by the lenient decoding."""
    tlvs = (TLV(Tag.SAR_TOTAL_SEGMENTS, 2), TLV(Tag.SAR_SEGMENT_SEQNUM, 1))
    sloppy = encode(mo(b"start", tlvs=tlvs)) + struct.pack(">HHB", Tag.SAR_MSG_REF_NUM, 1, 7)
    sloppy = struct.pack(">I", len(sloppy)) + sloppy[4:]
    pdu = decode(sloppy, lenient=True)
    assert isinstance(pdu, DeliverSm)
    segment = segment_of(pdu)
    assert (segment.reference, segment.total, segment.seq, segment.body) == (7, 2, 1, b"start")


def test_segment_of_a_data_sm_with_payload() -> None:
    pdu = DataSm(
        source_addr="33600000000",
        destination_addr="36180",
        data_coding=8,
        tlvs=(TLV(Tag.MESSAGE_PAYLOAD, b"\x00H\x00i"),),
    )
    assert Reassembler().add(pdu, now=0) is not None


@pytest.mark.parametrize(
    ("short_message", "esm_class", "body"),
    [
        (bytes.fromhex("0400030102") + b"abc", 0x40, b"abc"),  # concatenation element cut short: plain, UDH dropped
        (bytes.fromhex("0500030103"), 0x40, bytes.fromhex("0500030103")),  # UDH overruns the message: keep it all
        (bytes.fromhex("0900030101") + b"abc", 0x40, bytes.fromhex("0900030101") + b"abc"),  # UDH overruns: keep it all
        (bytes.fromhex("050003010000") + b"abc", 0x40, b"abc"),  # total 0
        (bytes.fromhex("050003010203") + b"abc", 0x40, b"abc"),  # seq beyond total
        (bytes.fromhex("050003010101") + b"abc", 0x40, b"abc"),  # a "concatenation" of one part
        (b"", 0x40, b""),
    ],
)
def test_unusable_concatenation_data_gives_a_plain_message(short_message: bytes, esm_class: int, body: bytes) -> None:
    segment = segment_of(mo(short_message, esm_class=esm_class))
    assert segment.reference is None and segment.body == body


def test_packed_gsm_mo_with_udh() -> None:
    [first, second] = submissions(("hellohello", "world"), GSM, mode=UDH8, reference=3, gsm_packed=True)
    reassembler = Reassembler(gsm_packed=True)
    assert reassembler.add(as_mo(second), now=0) is None
    message = reassembler.add(as_mo(first), now=1)
    assert message is not None and message.text == "hellohelloworld"


# --- Reassembly ---


def parts_of(
    text: str, *, reference: int = 5, mode: LongMessageMode = UDH8, encoding: Encoding = GSM
) -> list[DeliverSm]:
    analysis = analyze(text, classe=9 if encoding is UCS2 else 2)
    return [as_mo(p) for p in submissions(analysis.parts, encoding, mode=mode, reference=reference, gsm_packed=False)]


def test_plain_message_is_handed_on_at_once() -> None:
    message = Reassembler().add(mo(b"Oui \x1b\x65"), now=0)
    assert message is not None
    assert (message.source, message.destination, message.text, message.parts, message.complete) == (
        "33612345678",
        "36180",
        "Oui €",
        1,
        True,
    )


@pytest.mark.parametrize("mode", [UDH8, UDH16, SAR])
def test_out_of_order_parts(mode: LongMessageMode) -> None:
    text = "".join(str(i % 10) for i in range(400))
    parts = parts_of(text, mode=mode)
    assert len(parts) == 3
    reassembler = Reassembler()
    assert reassembler.add(parts[2], now=0) is None
    assert reassembler.add(parts[0], now=1) is None
    assert len(reassembler) == 1
    message = reassembler.add(parts[1], now=2)
    assert message is not None and message.text == text and message.parts == 3 and message.complete
    assert len(reassembler) == 0


def test_duplicates_are_ignored_before_and_after_completion() -> None:
    parts = parts_of("z" * 200)
    reassembler = Reassembler()
    assert reassembler.add(parts[0], now=0) is None
    assert reassembler.add(parts[0], now=1) is None
    message = reassembler.add(parts[1], now=2)
    assert message is not None and message.text == "z" * 200
    # the SMSC resends the last part (our deliver_sm_resp was lost): no phantom message
    assert reassembler.add(parts[1], now=3) is None
    assert len(reassembler) == 0
    assert reassembler.expire(now=10_000) == []


def test_reference_reused_after_completion_starts_a_new_message() -> None:
    reassembler = Reassembler()
    for part in parts_of("a" * 200):
        reassembler.add(part, now=0)
    second = parts_of("b" * 200)
    assert reassembler.add(second[0], now=1) is None
    message = reassembler.add(second[1], now=2)
    assert message is not None and message.text == "b" * 200


def test_messages_are_kept_apart_by_source_and_reference() -> None:
    reassembler = Reassembler()
    ours = parts_of("o" * 200, reference=1)
    other_reference = parts_of("r" * 200, reference=2)
    other_source = [
        mo(p.short_message, esm_class=p.esm_class, source="33700000000") for p in parts_of("s" * 200, reference=1)
    ]
    for part in (ours[0], other_reference[0], other_source[0]):
        assert reassembler.add(part, now=0) is None
    assert len(reassembler) == 3
    done = [reassembler.add(part, now=1) for part in (other_source[1], ours[1], other_reference[1])]
    assert [m.text[0] for m in done if m is not None] == ["s", "o", "r"]


def test_eviction_by_age_returns_what_arrived() -> None:
    parts = parts_of("q" * 400)
    reassembler = Reassembler(max_age=60)
    reassembler.add(parts[0], now=0)
    reassembler.add(parts[2], now=30)
    assert reassembler.expire(now=59) == []
    [evicted] = reassembler.expire(now=60)
    assert not evicted.complete and evicted.parts == 3 and evicted.received == 2
    assert evicted.text == "q" * (len(parts[0].short_message) - 6 + len(parts[2].short_message) - 6)
    assert len(reassembler) == 0
    # the late middle part starts a new, lonely message instead of completing the old one
    assert reassembler.add(parts[1], now=61) is None
    assert reassembler.expire(now=61) == []


def test_aged_entries_are_evicted_when_parts_arrive_too() -> None:
    reassembler = Reassembler(max_age=10)
    reassembler.add(parts_of("a" * 200, reference=1)[0], now=0)
    reassembler.add(parts_of("b" * 200, reference=2)[0], now=20)
    assert len(reassembler) == 1
    assert [m.text[0] for m in reassembler.expire(now=20)] == ["a"]


def test_pending_entries_are_capped() -> None:
    reassembler = Reassembler(max_pending=2)
    for reference in (1, 2, 3):
        reassembler.add(parts_of("c" * 200, reference=reference)[0], now=reference)
    assert len(reassembler) == 2
    [evicted] = reassembler.expire(now=4)
    assert not evicted.complete
    # reference 1 was the oldest and was evicted; 2 and 3 still complete
    assert reassembler.add(parts_of("c" * 200, reference=3)[1], now=5) is not None


def test_different_total_for_the_same_key_restarts() -> None:
    reassembler = Reassembler()
    reassembler.add(parts_of("d" * 400)[0], now=0)  # 3 parts announced
    new = parts_of("e" * 200)  # same reference, 2 parts
    assert reassembler.add(new[0], now=1) is None
    message = reassembler.add(new[1], now=2)
    assert message is not None and message.text == "e" * 200
    [evicted] = reassembler.expire(now=3)
    assert evicted.text.startswith("d") and not evicted.complete


def test_ucs2_surrogate_pair_split_across_parts_is_rejoined() -> None:
    high, low = "😀".encode("utf-16-be")[:2], "😀".encode("utf-16-be")[2:]
    first = mo(bytes.fromhex("050003090201") + "a".encode("utf-16-be") + high, esm_class=0x40, data_coding=8)
    second = mo(bytes.fromhex("050003090202") + low + "b".encode("utf-16-be"), esm_class=0x40, data_coding=8)
    reassembler = Reassembler()
    reassembler.add(first, now=0)
    message = reassembler.add(second, now=0)
    assert message is not None and message.text == "a😀b"


def test_gsm_escape_split_across_parts_is_rejoined() -> None:
    reassembler = Reassembler()
    reassembler.add(mo(bytes.fromhex("050003090201") + b"a\x1b", esm_class=0x40), now=0)
    message = reassembler.add(mo(bytes.fromhex("050003090202") + b"\x65b", esm_class=0x40), now=0)
    assert message is not None and message.text == "a€b"


def test_parts_with_different_codings_are_decoded_one_by_one() -> None:
    reassembler = Reassembler()
    reassembler.add(MoSegment("1", "2", 0x00, b"Ol\x7f", reference=4, total=2, seq=1), now=0)
    message = reassembler.add(MoSegment("1", "2", 0x08, "é!".encode("utf-16-be"), reference=4, total=2, seq=2), now=0)
    assert message is not None and message.text == "Olàé!"


def test_reassembler_arguments() -> None:
    with pytest.raises(ValueError):
        Reassembler(max_age=0)
    with pytest.raises(ValueError):
        Reassembler(max_pending=0)


# --- Properties: what we send, a handset reassembles ---

gsm_texts = st.text(alphabet=sorted(GSM_CHARACTERS - {"\r"}), min_size=1, max_size=700)
ucs2_texts = st.text(min_size=1, max_size=300)


@given(
    st.one_of(gsm_texts.map(lambda t: (t, GSM)), ucs2_texts.map(lambda t: (t, UCS2))),
    st.sampled_from(list(LongMessageMode)),
    st.booleans(),
    st.integers(0, 0xFFFF),
    st.permutations(range(8)),
)
@settings(max_examples=150, deadline=None)
def test_submissions_reassemble_to_the_text(
    case: tuple[str, Encoding], mode: LongMessageMode, packed: bool, reference: int, order: list[int]
) -> None:
    text, encoding = case
    analysis = analyze(text, classe=9 if encoding is UCS2 else 2)
    pieces = submissions(analysis.parts, encoding, mode=mode, reference=reference, gsm_packed=packed)
    assert "".join(p.text for p in pieces) == analysis.text
    for piece in pieces:
        encode(DeliverSm(short_message=piece.short_message, tlvs=piece.tlvs))  # every piece is a valid PDU
        if piece.esm_class & 0x40:
            assert len(piece.short_message) <= (140 if packed or encoding is UCS2 else 159)
    if mode is PAYLOAD or len(pieces) == 1:
        assert len(pieces) == 1
    elif mode is not UDH16:
        assert len(pieces) == len(analysis.parts)  # UDH8 and SAR never re-cut the engine's parts
    reassembler = Reassembler(gsm_packed=packed)
    ranked = sorted(range(len(pieces)), key=lambda i: order[i % 8] * 1000 + i)
    results = [reassembler.add(as_mo(pieces[i]), now=0) for i in ranked]
    assert results[:-1] == [None] * (len(pieces) - 1)
    assert results[-1] is not None and results[-1].text == analysis.text


@given(st.binary(max_size=260), st.integers(0, 255), st.integers(0, 255))
@settings(max_examples=300)
def test_inbound_never_raises(short_message: bytes, esm_class: int, data_coding: int) -> None:
    pdu = DeliverSm(short_message=short_message, esm_class=esm_class, data_coding=data_coding)
    for packed in (False, True):
        reassembler = Reassembler(gsm_packed=packed)
        reassembler.add(pdu, now=0)
        reassembler.expire(now=1e9)
