"""Delivery receipts from deliver_sm / data_sm: TLVs, the text form, both, and garbage."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from martinet.connectors.smpp.receipts import MESSAGE_STATES, STATES, is_receipt, parse_receipt
from martinet.domain.status import STATUS_CODES, State
from martinet.smpp import TLV, DataSm, DeliverSm, Tag, decode, encode

pytestmark = pytest.mark.unit

STANDARD = b"id:0A1B2C3D sub:001 dlvrd:001 submit date:2301311200 done date:2301311201 stat:DELIVRD err:000 text:Hello"


def receipt(
    short_message: bytes = b"", *, esm_class: int = 0x04, tlvs: tuple[TLV, ...] = (), data_coding: int = 0
) -> DeliverSm:
    pdu = DeliverSm(
        sequence_number=9,
        source_addr="33612345678",
        destination_addr="Martinet",
        esm_class=esm_class,
        data_coding=data_coding,
        short_message=short_message,
        tlvs=tlvs,
    )
    decoded = decode(encode(pdu))
    assert isinstance(decoded, DeliverSm)
    return decoded


def test_text_form() -> None:
    parsed = parse_receipt(receipt(STANDARD))
    assert parsed is not None
    assert parsed.message_id == "0A1B2C3D"
    assert (parsed.stat, parsed.state, parsed.code) == ("DELIVRD", State.DELIVERED, 11)
    assert parsed.error == "000"
    assert parsed.submitted_at == datetime(2023, 1, 31, 12, 0)
    assert parsed.done_at == datetime(2023, 1, 31, 12, 1)
    assert parsed.raw == STANDARD.decode()
    assert parsed.detail == "stat:DELIVRD err:000"
    assert not parsed.intermediate


def test_tlvs_only() -> None:
    tlvs = (
        TLV(Tag.RECEIPTED_MESSAGE_ID, "abc-123"),
        TLV(Tag.MESSAGE_STATE, 5),
        TLV(Tag.NETWORK_ERROR_CODE, b"\x03\x00\x01"),
    )
    parsed = parse_receipt(receipt(tlvs=tlvs))
    assert parsed is not None
    assert (parsed.message_id, parsed.stat, parsed.state, parsed.code) == ("abc-123", "UNDELIV", State.UNDELIVERED, 21)
    assert parsed.network_error == (3, 1)
    assert parsed.error is None and parsed.done_at is None and parsed.raw == ""
    assert parsed.detail == "stat:UNDELIV network:3/1"


def test_tlvs_win_over_text() -> None:
    tlvs = (TLV(Tag.RECEIPTED_MESSAGE_ID, "2587"), TLV(Tag.MESSAGE_STATE, 3))
    parsed = parse_receipt(receipt(STANDARD, tlvs=tlvs))
    assert parsed is not None
    assert (parsed.message_id, parsed.stat, parsed.state, parsed.code) == ("2587", "EXPIRED", State.EXPIRED, 37)
    assert parsed.error == "000" and parsed.done_at == datetime(2023, 1, 31, 12, 1)  # text still fills the rest


def test_tlv_id_with_text_state() -> None:
    parsed = parse_receipt(receipt(b"id:1 stat:REJECTD err:0x0B", tlvs=(TLV(Tag.RECEIPTED_MESSAGE_ID, "X9"),)))
    assert parsed is not None and (parsed.message_id, parsed.stat, parsed.code, parsed.error) == (
        "X9",
        "REJECTD",
        22,
        "0x0B",
    )


def test_mixed_case_extra_spaces_and_spellings() -> None:
    text = b"ID: 77  Sub:1 DLVRD:1 Submit_Date: 230131120005 DONE  DATE:  230131120106  Stat: delivrd  Err:0 Text: hi"
    parsed = parse_receipt(receipt(text))
    assert parsed is not None
    assert (parsed.message_id, parsed.stat, parsed.error) == ("77", "DELIVRD", "0")
    assert parsed.submitted_at == datetime(2023, 1, 31, 12, 0, 5)
    assert parsed.done_at == datetime(2023, 1, 31, 12, 1, 6)


def test_fields_in_another_order_and_missing() -> None:
    parsed = parse_receipt(receipt(b"stat:UNDELIV id:abc"))
    assert parsed is not None and (parsed.message_id, parsed.stat, parsed.error, parsed.done_at) == (
        "abc",
        "UNDELIV",
        None,
        None,
    )


def test_text_field_may_contain_anything() -> None:
    text = b"id:42 sub:001 dlvrd:000 submit date:2301311200 done date:2301311201 stat:UNDELIV err:001 text:id:99 stat:DELIVRD \xff"
    parsed = parse_receipt(receipt(text))
    assert parsed is not None and (parsed.message_id, parsed.stat) == ("42", "UNDELIV")


def test_dates_with_separators_and_impossible_dates() -> None:
    parsed = parse_receipt(receipt(b"id:1 submit date:23-01-31 12:00 done date:2313311200 stat:DELIVRD"))
    assert parsed is not None
    assert parsed.submitted_at == datetime(2023, 1, 31, 12, 0)
    assert parsed.done_at is None  # month 13


def test_dates_in_a_known_zone() -> None:
    parsed = parse_receipt(receipt(STANDARD), tz=UTC)
    assert parsed is not None and parsed.done_at == datetime(2023, 1, 31, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("stat", "expected", "state", "code"),
    [
        ("ENROUTE", "ENROUTE", State.SENT, 13),
        ("ACCEPTD", "ACCEPTD", State.SENT, 13),
        ("DELIVRD", "DELIVRD", State.DELIVERED, 11),
        ("UNDELIV", "UNDELIV", State.UNDELIVERED, 21),
        ("EXPIRED", "EXPIRED", State.EXPIRED, 37),
        ("REJECTD", "REJECTD", State.UNDELIVERED, 22),
        ("DELETED", "DELETED", State.UNDELIVERED, 50),
        ("UNKNOWN", "UNKNOWN", State.UNDELIVERED, 3599),
        ("delivered", "DELIVRD", State.DELIVERED, 11),
        ("UNDELIVERABLE", "UNDELIV", State.UNDELIVERED, 21),
        ("Accepted", "ACCEPTD", State.SENT, 13),
        ("REJECTED", "REJECTD", State.UNDELIVERED, 22),
        ("2", "DELIVRD", State.DELIVERED, 11),
        ("BOGUS", "UNKNOWN", State.UNDELIVERED, 3599),
        ("BUFFRED", "ENROUTE", State.SENT, 13),  # Kannel's and its boxes' words
        ("BUFFERD", "ENROUTE", State.SENT, 13),
        ("ACKED", "ACCEPTD", State.SENT, 13),
    ],
)
def test_stat_words(stat: str, expected: str, state: State, code: int) -> None:
    parsed = parse_receipt(receipt(f"id:1 stat:{stat} err:000".encode()))
    assert parsed is not None and (parsed.stat, parsed.state, parsed.code) == (expected, state, code)


@pytest.mark.parametrize(("value", "stat"), sorted(MESSAGE_STATES.items()))
def test_message_state_values(value: int, stat: str) -> None:
    parsed = parse_receipt(receipt(tlvs=(TLV(Tag.RECEIPTED_MESSAGE_ID, "1"), TLV(Tag.MESSAGE_STATE, value))))
    assert parsed is not None and parsed.stat == stat and (parsed.state, parsed.code) == STATES[stat]


def test_unknown_message_state_value() -> None:
    parsed = parse_receipt(receipt(tlvs=(TLV(Tag.RECEIPTED_MESSAGE_ID, "1"), TLV(Tag.MESSAGE_STATE, 42))))
    assert parsed is not None and parsed.stat == "UNKNOWN"


def test_every_mapped_code_is_an_smsmode_code() -> None:
    assert all(code in STATUS_CODES for _, code in STATES.values())


def test_intermediate_notification() -> None:
    parsed = parse_receipt(receipt(b"id:5 stat:ENROUTE", esm_class=0x20))
    assert parsed is not None and parsed.intermediate and parsed.state is State.SENT and parsed.code == 13
    parsed = parse_receipt(receipt(b"id:5", esm_class=0x20))
    assert parsed is not None and parsed.stat == "ENROUTE"


def test_an_intermediate_notification_is_never_final() -> None:
    parsed = parse_receipt(receipt(b"id:5 stat:WAITING", esm_class=0x20))
    assert parsed is not None and (parsed.stat, parsed.state, parsed.code) == ("ENROUTE", State.SENT, 13)
    parsed = parse_receipt(receipt(b"id:5 stat:WAITING"))
    assert parsed is not None and parsed.stat == "UNKNOWN"  # in a final receipt, an unknown word stays unknown


def test_the_nul_a_c_string_ends_with_is_not_part_of_the_last_field() -> None:
    parsed = parse_receipt(receipt(b"id:7 sub:001 dlvrd:001 err:000 stat:DELIVRD\0"))
    assert parsed is not None and parsed.stat == "DELIVRD" and parsed.raw.endswith("stat:DELIVRD")


def test_missing_state_in_a_final_receipt_is_unknown() -> None:
    parsed = parse_receipt(receipt(b"id:5 err:000"))
    assert parsed is not None and parsed.stat == "UNKNOWN" and parsed.code == 3599


def test_esm_class_mode_and_feature_bits_do_not_matter() -> None:
    parsed = parse_receipt(receipt(STANDARD, esm_class=0x04 | 0x03 | 0x80))
    assert parsed is not None and parsed.stat == "DELIVRD"


def test_mo_is_not_a_receipt() -> None:
    mo = receipt(b"id:1 stat:DELIVRD", esm_class=0x00)
    assert parse_receipt(mo) is None and not is_receipt(mo)
    assert parse_receipt(receipt(b"id:1 stat:DELIVRD", esm_class=0x08)) is None  # SME delivery ack


def test_lenient_mode_accepts_unflagged_receipts() -> None:
    unflagged = receipt(STANDARD, esm_class=0x00)
    parsed = parse_receipt(unflagged, lenient=True)
    assert parsed is not None and parsed.stat == "DELIVRD"
    assert parse_receipt(receipt(b"see you at 5", esm_class=0), lenient=True) is None
    with_tlv = receipt(b"", esm_class=0, tlvs=(TLV(Tag.RECEIPTED_MESSAGE_ID, "9"), TLV(Tag.MESSAGE_STATE, 2)))
    assert parse_receipt(with_tlv, lenient=True) is not None


def test_data_sm_receipt() -> None:
    pdu = DataSm(
        esm_class=0x04,
        tlvs=(TLV(Tag.RECEIPTED_MESSAGE_ID, "ff01"), TLV(Tag.MESSAGE_STATE, 2)),
    )
    parsed = parse_receipt(pdu)
    assert parsed is not None and (parsed.message_id, parsed.stat) == ("ff01", "DELIVRD")
    in_payload = DataSm(esm_class=0x04, tlvs=(TLV(Tag.MESSAGE_PAYLOAD, b"id:7 stat:EXPIRED"),))
    parsed = parse_receipt(in_payload)
    assert parsed is not None and (parsed.message_id, parsed.stat) == ("7", "EXPIRED")


def test_text_form_in_message_payload_of_deliver_sm() -> None:
    parsed = parse_receipt(receipt(b"", tlvs=(TLV(Tag.MESSAGE_PAYLOAD, STANDARD),)))
    assert parsed is not None and parsed.message_id == "0A1B2C3D"


def test_ucs2_text_form() -> None:
    parsed = parse_receipt(receipt("id:12 stat:DELIVRD".encode("utf-16-be"), data_coding=8))
    assert parsed is not None and (parsed.message_id, parsed.stat) == ("12", "DELIVRD")


def test_receipt_without_an_id_is_unusable() -> None:
    flagged = receipt(b"stat:DELIVRD err:000")
    assert parse_receipt(flagged) is None
    assert is_receipt(flagged)  # the connector can still tell it from an MO
    assert parse_receipt(receipt(b"")) is None
    assert parse_receipt(receipt(b"id: stat:DELIVRD")) is None  # "stat:" is not an ID


def test_garbage() -> None:
    for body in (b"\x00\xff\x1b garbage", b"id:", b"id:\x00abc stat:", b"::::", b"sub:id:stat:"):
        parsed = parse_receipt(receipt(body))
        assert parsed is None or parsed.stat in STATES


def test_key_must_not_be_part_of_a_word() -> None:
    parsed = parse_receipt(receipt(b"msgid:55 id:66 status:x stat:DELIVRD"))
    assert parsed is not None and parsed.message_id == "66" and parsed.stat == "DELIVRD"


@given(st.binary(max_size=254), st.integers(0, 255), st.integers(0, 255), st.booleans())
@settings(max_examples=300)
def test_never_raises(body: bytes, esm_class: int, data_coding: int, lenient: bool) -> None:
    pdu = DeliverSm(esm_class=esm_class, data_coding=data_coding, short_message=body)
    parsed = parse_receipt(pdu, lenient=lenient)
    assert parsed is None or (parsed.message_id and parsed.stat in STATES)


@given(
    st.lists(
        st.sampled_from(
            ["id:", "stat:", "err:", "text:", "done date:", "submit date:", "DELIVRD", "12", " ", "\t", ":", "x"]
        ),
        max_size=30,
    )
)
def test_never_raises_on_receipt_like_noise(words: list[str]) -> None:
    parsed = parse_receipt(DeliverSm(esm_class=0x04, short_message="".join(words).encode()))
    assert parsed is None or parsed.stat in STATES


def test_dates_can_be_skipped_without_losing_the_rest() -> None:
    full = parse_receipt(receipt(STANDARD))
    quick = parse_receipt(receipt(STANDARD), dates=False)
    assert full is not None and quick is not None
    assert (quick.submitted_at, quick.done_at) == (None, None)
    assert (quick.message_id, quick.stat, quick.error, quick.raw) == (full.message_id, full.stat, full.error, full.raw)
