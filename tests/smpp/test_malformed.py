"""Malformed input: every fault raises a typed error carrying the status the session answers.

Bodies are assembled by hand here (not through ``encode``) so that the decoder is tested
against the spec's layouts rather than against its own mirror image.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest

from martinet.smpp import (
    DEFAULT_MAX_COMMAND_LENGTH,
    TLV,
    BindTransmitterResp,
    CommandId,
    CommandStatus,
    DeliverSm,
    DeliverSmResp,
    FieldTooLong,
    GenericNack,
    IncompletePDU,
    InvalidCommandLength,
    InvalidField,
    InvalidMessageLength,
    MissingNulTerminator,
    PDUError,
    PDUReader,
    SMPPError,
    SubmitSm,
    SubmitSmResp,
    Tag,
    TLVError,
    UnknownCommandId,
    decode,
    encode,
    error_response,
)

pytestmark = pytest.mark.unit

S = CommandStatus
SEQ = 0x0102_0304


def frame(command_id: int, body: bytes = b"", *, seq: int = SEQ, status: int = 0, length: int | None = None) -> bytes:
    """A PDU with a hand-made body; ``length`` overrides the computed command_length."""
    return struct.pack(">IIII", 16 + len(body) if length is None else length, command_id, status, seq) + body


def cstr(value: bytes) -> bytes:
    return value + b"\0"


def sm_body(
    *,
    service_type: bytes = b"",
    source_addr: bytes = b"123",
    destination_addr: bytes = b"456",
    schedule: bytes = b"",
    validity: bytes = b"",
    short_message: bytes = b"hi",
    sm_length: int | None = None,
) -> bytes:
    """Mandatory body of submit_sm/deliver_sm (spec 4.4.1), field by field."""
    return (
        cstr(service_type)
        + bytes([1, 1])
        + cstr(source_addr)
        + bytes([1, 1])
        + cstr(destination_addr)
        + bytes([0, 0, 0])
        + cstr(schedule)
        + cstr(validity)
        + bytes([0, 0, 0, 0])
        + bytes([len(short_message) if sm_length is None else sm_length])
        + short_message
    )


def bind_body(
    system_id: bytes = b"sys", password: bytes = b"pw", system_type: bytes = b"", address_range: bytes = b""
) -> bytes:
    return cstr(system_id) + cstr(password) + cstr(system_type) + bytes([0x34, 0, 0]) + cstr(address_range)


def raises_pdu_error(data: bytes, cls: type[PDUError], status: int) -> PDUError:
    with pytest.raises(cls) as info:
        decode(data)
    error = info.value
    assert error.command_status == status
    return error


# --------------------------------------------------------------------------- command_length


@pytest.mark.parametrize("length", [0, 1, 15])
def test_command_length_below_header_is_fatal(length: int) -> None:
    error = raises_pdu_error(frame(CommandId.ENQUIRE_LINK, length=length), InvalidCommandLength, S.ESME_RINVCMDLEN)
    assert error.fatal
    assert error.sequence_number == SEQ
    assert error.command_id == CommandId.ENQUIRE_LINK
    assert error_response(error) == GenericNack(sequence_number=SEQ, command_status=S.ESME_RINVCMDLEN)


def test_bad_command_length_with_only_four_octets_has_no_sequence_number() -> None:
    with pytest.raises(InvalidCommandLength) as info:
        decode(b"\x00\x00\x00\x08")
    assert info.value.fatal and info.value.sequence_number is None and info.value.command_id is None
    assert error_response(info.value) == GenericNack(sequence_number=0, command_status=S.ESME_RINVCMDLEN)


def test_command_length_above_default_maximum() -> None:
    data = frame(CommandId.SUBMIT_SM, length=DEFAULT_MAX_COMMAND_LENGTH + 1)
    error = raises_pdu_error(data, InvalidCommandLength, S.ESME_RINVCMDLEN)
    assert error.fatal and error.sequence_number == SEQ


def test_command_length_maximum_is_configurable_and_inclusive() -> None:
    pdu = DeliverSm(tlvs=(TLV(Tag.MESSAGE_PAYLOAD, b"x" * 200),))
    data = encode(pdu)
    assert decode(data, max_command_length=len(data)) == pdu
    with pytest.raises(InvalidCommandLength) as info:
        decode(data, max_command_length=len(data) - 1)
    assert info.value.fatal


def test_reader_rejects_huge_length_without_waiting_for_the_body() -> None:
    reader = PDUReader(max_command_length=1024)
    items = reader.feed(struct.pack(">I", 1025))
    assert len(items) == 1 and isinstance(items[0], InvalidCommandLength) and items[0].fatal


def test_more_octets_than_command_length() -> None:
    error = raises_pdu_error(frame(CommandId.ENQUIRE_LINK) + b"\0", InvalidCommandLength, S.ESME_RINVCMDLEN)
    assert not error.fatal


def test_body_shorter_than_fixed_fields() -> None:
    # bind_transmitter whose body stops after system_type: interface_version etc. missing.
    data = frame(CommandId.BIND_TRANSMITTER, cstr(b"sys") + cstr(b"pw") + cstr(b""))
    error = raises_pdu_error(data, InvalidCommandLength, S.ESME_RINVCMDLEN)
    assert not error.fatal  # the frame is delimited, the stream can go on
    assert error.command_id == CommandId.BIND_TRANSMITTER and error.sequence_number == SEQ
    assert error_response(error) == GenericNack(sequence_number=SEQ, command_status=S.ESME_RINVCMDLEN)


def test_submit_sm_with_empty_body() -> None:
    error = raises_pdu_error(frame(CommandId.SUBMIT_SM), MissingNulTerminator, S.ESME_RINVCMDLEN)
    assert isinstance(error, InvalidField) and error.field == "service_type"


def test_trailing_garbage_after_mandatory_fields_is_a_bad_tlv_stream() -> None:
    error = raises_pdu_error(frame(CommandId.ENQUIRE_LINK, b"\1\2\3"), TLVError, S.ESME_RINVOPTPARSTREAM)
    assert isinstance(error, TLVError) and error.tag is None


# --------------------------------------------------------------------------- command_id


@pytest.mark.parametrize("command_id", [0x0000_0000, 0x0000_000A, 0x0000_0110, 0x8000_0110, 0x8000_000B, 0x8000_0102])
def test_unknown_command_id(command_id: int) -> None:
    error = raises_pdu_error(frame(command_id), UnknownCommandId, S.ESME_RINVCMDID)
    assert error.command_id == command_id and error.sequence_number == SEQ and not error.fatal
    assert error_response(error) == GenericNack(sequence_number=SEQ, command_status=S.ESME_RINVCMDID)


# --------------------------------------------------------------------------- C-octet strings


def test_missing_nul_terminator() -> None:
    # cloudhopper decodeSubmitSmRespWithNoNullByteForMessageId: body "9" without NUL.
    data = bytes.fromhex("0000001180000004000000000a342ee139")
    error = raises_pdu_error(data, MissingNulTerminator, S.ESME_RINVCMDLEN)
    assert isinstance(error, InvalidField) and error.field == "message_id"
    assert error.command_id == CommandId.SUBMIT_SM_RESP and error.sequence_number == 0x0A342EE1


def test_missing_nul_in_the_middle_of_a_request() -> None:
    body = sm_body()
    cut = body.index(b"456") + 3  # the body ends right after destination_addr's digits
    error = raises_pdu_error(frame(CommandId.SUBMIT_SM, body[:cut]), MissingNulTerminator, S.ESME_RINVCMDLEN)
    assert isinstance(error, InvalidField) and error.field == "destination_addr"


@pytest.mark.parametrize(
    ("command_id", "body", "field", "status"),
    [
        (CommandId.BIND_TRANSMITTER, bind_body(system_id=b"s" * 16), "system_id", S.ESME_RINVSYSID),
        (CommandId.BIND_RECEIVER, bind_body(password=b"p" * 9), "password", S.ESME_RINVPASWD),
        (CommandId.BIND_TRANSCEIVER, bind_body(system_type=b"t" * 13), "system_type", S.ESME_RINVSYSTYP),
        (CommandId.BIND_TRANSCEIVER, bind_body(address_range=b"a" * 41) + b"\0", "address_range", S.ESME_RINVPARLEN),
        (CommandId.SUBMIT_SM, sm_body(service_type=b"S" * 6), "service_type", S.ESME_RINVSERTYP),
        (CommandId.SUBMIT_SM, sm_body(source_addr=b"1" * 21), "source_addr", S.ESME_RINVSRCADR),
        (CommandId.DELIVER_SM, sm_body(destination_addr=b"2" * 21), "destination_addr", S.ESME_RINVDSTADR),
        (CommandId.SUBMIT_SM, sm_body(schedule=b"1" * 17), "schedule_delivery_time", S.ESME_RINVSCHED),
        (CommandId.SUBMIT_SM_RESP, cstr(b"m" * 65), "message_id", S.ESME_RINVMSGID),
        (CommandId.QUERY_SM, cstr(b"m" * 65) + b"\1\1" + cstr(b"1"), "message_id", S.ESME_RINVMSGID),
    ],
)
def test_string_over_its_maximum(command_id: int, body: bytes, field: str, status: int) -> None:
    error = raises_pdu_error(frame(command_id, body), FieldTooLong, status)
    assert isinstance(error, InvalidField) and error.field == field
    assert error.command_id == command_id and error.sequence_number == SEQ


@pytest.mark.parametrize(
    ("kwargs", "field", "status"),
    [
        ({"schedule": b"2401011200000"}, "schedule_delivery_time", S.ESME_RINVSCHED),
        ({"validity": b"000001000000000"}, "validity_period", S.ESME_RINVEXPIRY),
    ],
)
def test_time_field_neither_empty_nor_16_characters(kwargs: dict[str, Any], field: str, status: int) -> None:
    error = raises_pdu_error(frame(CommandId.SUBMIT_SM, sm_body(**kwargs)), InvalidField, status)
    assert isinstance(error, InvalidField) and error.field == field
    assert error_response(error) == SubmitSmResp(sequence_number=SEQ, command_status=status)


def test_strings_at_their_maximum_decode() -> None:
    body = sm_body(service_type=b"S" * 5, source_addr=b"1" * 20, destination_addr=b"2" * 20, schedule=b"0" * 16)
    pdu = decode(frame(CommandId.SUBMIT_SM, body))
    assert isinstance(pdu, SubmitSm)
    assert (pdu.service_type, pdu.source_addr, pdu.destination_addr) == ("S" * 5, "1" * 20, "2" * 20)


def test_non_ascii_octets_decode_losslessly() -> None:
    # C-octet strings should be ASCII, but a peer may send anything: no UnicodeDecodeError.
    data = frame(CommandId.SUBMIT_SM, sm_body(source_addr=b"\xe9\xff\x80"))
    pdu = decode(data)
    assert isinstance(pdu, SubmitSm) and pdu.source_addr == "\xe9\xff\x80"
    assert encode(pdu) == data


# --------------------------------------------------------------------------- short_message


def test_sm_length_beyond_the_body() -> None:
    # cloudhopper decodeDeliverSMWithCorrectTotalByteLengthButInvalidShortMessageLength.
    data = bytes.fromhex(
        "00000039000000050000000000000001000101393939393139393134353933000000363436340000000000000000080010c1e1e9edf3faf1fc"
    )
    error = raises_pdu_error(data, InvalidMessageLength, S.ESME_RINVMSGLEN)
    assert error.command_id == CommandId.DELIVER_SM and error.sequence_number == 1
    assert error_response(error) == DeliverSmResp(sequence_number=1, command_status=S.ESME_RINVMSGLEN)


def test_sm_length_255_is_accepted_on_decode() -> None:
    # sm_length is one octet; the spec says 0-254 but peers (and cloudhopper) send 255.
    pdu = decode(frame(CommandId.SUBMIT_SM, sm_body(short_message=b"x" * 255)))
    assert isinstance(pdu, SubmitSm) and len(pdu.short_message) == 255


# --------------------------------------------------------------------------- TLVs


def with_tlv(raw_tlv: bytes) -> bytes:
    return frame(CommandId.SUBMIT_SM, sm_body() + raw_tlv)


@pytest.mark.parametrize("trailing", [b"\x02", b"\x02\x0c", b"\x02\x0c\x00"])
def test_truncated_tlv_header(trailing: bytes) -> None:
    error = raises_pdu_error(with_tlv(trailing), TLVError, S.ESME_RINVOPTPARSTREAM)
    assert isinstance(error, TLVError) and error.tag is None
    assert error.command_id == CommandId.SUBMIT_SM and error.sequence_number == SEQ


def test_truncated_tlv_value() -> None:
    error = raises_pdu_error(with_tlv(bytes.fromhex("04240005") + b"abc"), TLVError, S.ESME_RINVOPTPARSTREAM)
    assert isinstance(error, TLVError) and error.tag == Tag.MESSAGE_PAYLOAD
    assert error_response(error) == SubmitSmResp(sequence_number=SEQ, command_status=S.ESME_RINVOPTPARSTREAM)


def test_netfors_receipt_with_overlong_tlv_is_refused() -> None:
    # The cloudhopper vector it came from is commented out there (see test_vectors.DEVIATIONS).
    data = bytes.fromhex(
        "000000a40000000500000000000000050001013233343830333337363831353100050056414e534f00040000000004"
        "0000006369643a30303030303033303035207375623a30303120646c7672643a303031207375626d697420646174653a"
        "3130303131383134333120646f6e6520646174653a3130303131383134333120737461743a44454c49565244206572723a"
        "3030302074650427000102001e00413330303500"
    )
    error = raises_pdu_error(data, TLVError, S.ESME_RINVOPTPARSTREAM)
    assert isinstance(error, TLVError) and error.tag == Tag.RECEIPTED_MESSAGE_ID


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        (Tag.SAR_MSG_REF_NUM, b"\x01"),
        (Tag.SAR_TOTAL_SEGMENTS, b"\x00\x02"),
        (Tag.MESSAGE_STATE, b""),
        (Tag.QOS_TIME_TO_LIVE, b"\x00\x00\x01"),
        (Tag.NETWORK_ERROR_CODE, b"\x03\x00"),
        (Tag.ALERT_ON_MESSAGE_DELIVERY, b"\x01"),
        (Tag.CALLBACK_NUM, b"\x00\x01\x01"),
        (Tag.SOURCE_SUBADDRESS, b"\xa0"),
        (Tag.ITS_SESSION_INFO, b"\x01\x02\x03"),
        (Tag.RECEIPTED_MESSAGE_ID, b""),
        (Tag.RECEIPTED_MESSAGE_ID, b"x" * 65 + b"\0"),
    ],
)
def test_tlv_length_disagreeing_with_its_type(tag: int, value: bytes) -> None:
    raw = struct.pack(">HH", tag, len(value)) + value
    error = raises_pdu_error(with_tlv(raw), TLVError, S.ESME_RINVPARLEN)
    assert isinstance(error, TLVError) and error.tag == tag


@pytest.mark.parametrize("value", [b"abc", b"a\0bc\0", b"\0\0"])
def test_cstring_tlv_not_properly_terminated(value: bytes) -> None:
    raw = struct.pack(">HH", Tag.RECEIPTED_MESSAGE_ID, len(value)) + value
    raises_pdu_error(with_tlv(raw), TLVError, S.ESME_RINVOPTPARAMVAL)


# --------------------------------------------------------------------------- submit_multi


def test_submit_multi_bad_dest_flag() -> None:
    body = cstr(b"") + b"\1\1" + cstr(b"123") + b"\x01" + b"\x03" + cstr(b"x")
    error = raises_pdu_error(frame(CommandId.SUBMIT_MULTI, body), InvalidField, S.ESME_RINVDESTFLAG)
    assert isinstance(error, InvalidField) and error.field == "dest_flag"


# --------------------------------------------------------------------------- deviations pinned


def test_delivery_receipt_0_decodes_its_own_short_message() -> None:
    # cloudhopper decodeDeliveryReceipt0; see test_vectors.DEVIATIONS for why this is separate.
    data = bytes.fromhex(
        "000000eb0000000500000000000000010001013434393531333631393230000001343034303400040000000000000300"
        "9069643a3132366538356136656465616331613032303230303939333132343739353634207375623a30303120646c76"
        "72643a303031207375626d697420646174653a3130303231393136333020646f6e6520646174653a3130303231393136"
        "333020737461743a44454c49565244206572723a30303020546578743a48656c6c6f2020202020202020202020202020"
        "200427000102001e0021313236653835613665646561633161303230323030393933313234373935363400"
    )
    pdu = decode(data)
    assert isinstance(pdu, DeliverSm)
    assert pdu.data_coding == 3 and pdu.esm_class == 4 and len(pdu.short_message) == 144
    assert pdu.short_message.startswith(b"id:126e85a6edeac1a02020099312479564 sub:001")
    assert pdu.short_message.endswith(b"Text:Hello" + b" " * 15)
    assert pdu.get_tlv(Tag.MESSAGE_STATE) == 2
    assert pdu.get_tlv(Tag.RECEIPTED_MESSAGE_ID) == "126e85a6edeac1a02020099312479564"


# --------------------------------------------------------------------------- error plumbing


def test_incomplete_is_not_a_pdu_error() -> None:
    assert not issubclass(IncompletePDU, PDUError)
    assert issubclass(IncompletePDU, SMPPError) and issubclass(PDUError, SMPPError)
    with pytest.raises(IncompletePDU) as info:
        decode(b"")
    assert (info.value.available, info.value.needed) == (0, 4)
    with pytest.raises(IncompletePDU) as info:
        decode(frame(CommandId.ENQUIRE_LINK, b"\0" * 8)[:20])
    assert (info.value.available, info.value.needed) == (20, 24)


def test_error_response_for_a_body_fault_in_a_bind() -> None:
    error = raises_pdu_error(
        frame(CommandId.BIND_TRANSMITTER, bind_body(password=b"p" * 9)), FieldTooLong, S.ESME_RINVPASWD
    )
    response = error_response(error)
    assert response == BindTransmitterResp(sequence_number=SEQ, command_status=S.ESME_RINVPASWD)
    assert response is not None and len(encode(response)) == 16  # failed bind: no body


def test_error_response_is_none_for_responses() -> None:
    error = raises_pdu_error(frame(CommandId.SUBMIT_SM_RESP, cstr(b"m" * 65)), FieldTooLong, S.ESME_RINVMSGID)
    assert error_response(error) is None
    error = raises_pdu_error(frame(CommandId.GENERIC_NACK, b"\1"), TLVError, S.ESME_RINVOPTPARSTREAM)
    assert error_response(error) is None


@pytest.mark.parametrize(
    ("command_id", "body", "status"),
    [
        (CommandId.OUTBIND, cstr(b"s" * 16) + cstr(b""), S.ESME_RINVSYSID),
        (CommandId.ALERT_NOTIFICATION, b"\1\1" + cstr(b"1" * 65) + b"\1\1" + cstr(b"2"), S.ESME_RINVSRCADR),
    ],
)
def test_error_response_for_commands_without_response(command_id: int, body: bytes, status: int) -> None:
    # outbind and alert_notification have no *_resp: a body fault is answered by generic_nack.
    error = raises_pdu_error(frame(command_id, body), FieldTooLong, status)
    assert error_response(error) == GenericNack(sequence_number=SEQ, command_status=status)


def test_error_str_names_the_status() -> None:
    error = raises_pdu_error(
        frame(CommandId.SUBMIT_SM, sm_body(source_addr=b"1" * 21)), FieldTooLong, S.ESME_RINVSRCADR
    )
    assert "ESME_RINVSRCADR" in str(error) and "source_addr" in str(error)
    assert "0x00000401" in str(PDUError("vendor", command_status=0x401))
