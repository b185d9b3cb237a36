"""Optional parameters: every SMPP 3.4 tag is known by name with its type; others stay raw."""

from __future__ import annotations

import struct

import pytest

from martinet.smpp import (
    TLV,
    TLV_SPECS,
    TLV_SPECS_BY_NAME,
    VENDOR_TAG_MAX,
    VENDOR_TAG_MIN,
    DeliverSm,
    SubmitSm,
    Tag,
    TLVError,
    TLVKind,
    decode,
    encode,
)

pytestmark = pytest.mark.unit

I1, I2, I4, CS, OC, EMPTY = (
    TLVKind.INT1,
    TLVKind.INT2,
    TLVKind.INT4,
    TLVKind.CSTRING,
    TLVKind.OCTETS,
    TLVKind.EMPTY,
)

# Spec table 5-3 and section 5.3.2: name, tag, type, (min, max) octets.
SPEC_TABLE = [
    ("dest_addr_subunit", 0x0005, I1, 1, 1),
    ("dest_network_type", 0x0006, I1, 1, 1),
    ("dest_bearer_type", 0x0007, I1, 1, 1),
    ("dest_telematics_id", 0x0008, I2, 2, 2),
    ("source_addr_subunit", 0x000D, I1, 1, 1),
    ("source_network_type", 0x000E, I1, 1, 1),
    ("source_bearer_type", 0x000F, I1, 1, 1),
    ("source_telematics_id", 0x0010, I1, 1, 1),
    ("qos_time_to_live", 0x0017, I4, 4, 4),
    ("payload_type", 0x0019, I1, 1, 1),
    ("additional_status_info_text", 0x001D, CS, 1, 256),
    ("receipted_message_id", 0x001E, CS, 1, 65),
    ("ms_msg_wait_facilities", 0x0030, I1, 1, 1),
    ("privacy_indicator", 0x0201, I1, 1, 1),
    ("source_subaddress", 0x0202, OC, 2, 23),
    ("dest_subaddress", 0x0203, OC, 2, 23),
    ("user_message_reference", 0x0204, I2, 2, 2),
    ("user_response_code", 0x0205, I1, 1, 1),
    ("source_port", 0x020A, I2, 2, 2),
    ("destination_port", 0x020B, I2, 2, 2),
    ("sar_msg_ref_num", 0x020C, I2, 2, 2),
    ("language_indicator", 0x020D, I1, 1, 1),
    ("sar_total_segments", 0x020E, I1, 1, 1),
    ("sar_segment_seqnum", 0x020F, I1, 1, 1),
    ("sc_interface_version", 0x0210, I1, 1, 1),
    ("callback_num_pres_ind", 0x0302, I1, 1, 1),
    ("callback_num_atag", 0x0303, OC, 0, 65),
    ("number_of_messages", 0x0304, I1, 1, 1),
    ("callback_num", 0x0381, OC, 4, 19),
    ("dpf_result", 0x0420, I1, 1, 1),
    ("set_dpf", 0x0421, I1, 1, 1),
    ("ms_availability_status", 0x0422, I1, 1, 1),
    ("network_error_code", 0x0423, OC, 3, 3),
    ("message_payload", 0x0424, OC, 0, 0xFFFF),
    ("delivery_failure_reason", 0x0425, I1, 1, 1),
    ("more_messages_to_send", 0x0426, I1, 1, 1),
    ("message_state", 0x0427, I1, 1, 1),
    ("ussd_service_op", 0x0501, I1, 1, 1),
    ("display_time", 0x1201, I1, 1, 1),
    ("sms_signal", 0x1203, I2, 2, 2),
    ("ms_validity", 0x1204, I1, 1, 1),
    ("alert_on_message_delivery", 0x130C, EMPTY, 0, 0),
    ("its_reply_type", 0x1380, I1, 1, 1),
    ("its_session_info", 0x1383, OC, 2, 2),
]


@pytest.mark.parametrize(("name", "tag", "kind", "min_size", "max_size"), SPEC_TABLE, ids=[r[0] for r in SPEC_TABLE])
def test_standard_tag(name: str, tag: int, kind: TLVKind, min_size: int, max_size: int) -> None:
    spec = TLV_SPECS_BY_NAME[name]
    assert (spec.tag, spec.kind, spec.min_size, spec.max_size) == (tag, kind, min_size, max_size)
    assert Tag[name.upper()] == tag
    assert TLV(tag, b"").name == name


def test_no_extra_standard_tags() -> None:
    assert {s.name for s in TLV_SPECS.values()} == {r[0] for r in SPEC_TABLE}


def _body(*raw_tlvs: bytes) -> bytes:
    return encode(DeliverSm(sequence_number=1)) + b"".join(raw_tlvs)


def _with_length(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data[4:]


def test_typed_values_on_decode() -> None:
    raw = [
        struct.pack(">HHB", Tag.MESSAGE_STATE, 1, 2),
        struct.pack(">HHH", Tag.SAR_MSG_REF_NUM, 2, 0xBEEF),
        struct.pack(">HHI", Tag.QOS_TIME_TO_LIVE, 4, 0xDEADBEEF),
        struct.pack(">HH", Tag.RECEIPTED_MESSAGE_ID, 9) + b"70BA8A69\0",
        struct.pack(">HH", Tag.MESSAGE_PAYLOAD, 3) + b"\x00\xffz",
        struct.pack(">HH", Tag.ALERT_ON_MESSAGE_DELIVERY, 0),
    ]
    pdu = decode(_with_length(_body(*raw)))
    assert [t.value for t in pdu.tlvs] == [2, 0xBEEF, 0xDEADBEEF, "70BA8A69", b"\x00\xffz", b""]
    assert [t.name for t in pdu.tlvs] == [
        "message_state",
        "sar_msg_ref_num",
        "qos_time_to_live",
        "receipted_message_id",
        "message_payload",
        "alert_on_message_delivery",
    ]


@pytest.mark.parametrize("tag", [VENDOR_TAG_MIN, 0x1401, 0x2222, VENDOR_TAG_MAX, 0x0099, 0x4000, 0xFFFF, 0x0000])
def test_vendor_and_unknown_tags_stay_raw(tag: int) -> None:
    value = b"\x01\x02\x03"
    data = _with_length(_body(struct.pack(">HH", tag, 3) + value))
    pdu = decode(data)
    assert pdu.tlvs == (TLV(tag, value),)
    assert encode(pdu) == data
    prefix = "vendor" if VENDOR_TAG_MIN <= tag <= VENDOR_TAG_MAX else "unknown"
    assert pdu.tlvs[0].name == f"{prefix}_0x{tag:04x}"


def test_order_and_duplicates_survive_round_trip() -> None:
    tlvs = (
        TLV(0x1501, b"z"),
        TLV(Tag.SAR_SEGMENT_SEQNUM, 2),
        TLV(Tag.SAR_MSG_REF_NUM, 7),
        TLV(0x1501, b"a"),
        TLV(Tag.SAR_TOTAL_SEGMENTS, 3),
    )
    pdu = SubmitSm(tlvs=tlvs)
    assert decode(encode(pdu)).tlvs == tlvs


def test_from_raw_and_to_bytes() -> None:
    tlv = TLV.from_raw(Tag.SC_INTERFACE_VERSION, b"\x34")
    assert tlv == TLV(Tag.SC_INTERFACE_VERSION, 0x34)
    assert tlv.to_bytes() == b"\x02\x10\x00\x01\x34"
    assert TLV(Tag.RECEIPTED_MESSAGE_ID, "abc").to_bytes() == b"\x00\x1e\x00\x04abc\0"
    assert TLV.from_raw(0x1400, b"\0") == TLV(0x1400, b"\0")


@pytest.mark.parametrize("value", ["ab\0c", "\0", "abc\0"])
def test_a_c_string_value_holding_a_nul_is_refused(value: str) -> None:
    """A NUL would end the value early on the wire: the peer would read a shorter ID and the rest as garbage."""
    with pytest.raises(TLVError):
        TLV(Tag.RECEIPTED_MESSAGE_ID, value).to_bytes()
    with pytest.raises(TLVError):
        encode(SubmitSm(tlvs=(TLV(Tag.RECEIPTED_MESSAGE_ID, value),)))
