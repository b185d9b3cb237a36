"""The encoder refuses what the spec forbids, with a typed error naming the field.

Maximum sizes come from the PDU tables of SMPP 3.4 section 4 ("Var. max N" counts the NUL,
so N - 1 characters fit).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from martinet.smpp import (
    PDU,
    TLV,
    AlertNotification,
    BindReceiverResp,
    BindTransmitter,
    CancelSm,
    CommandId,
    CommandStatus,
    DataSm,
    DeliverSm,
    DeliverSmResp,
    DistributionList,
    FieldTooLong,
    InvalidField,
    InvalidMessageLength,
    Outbind,
    PDUError,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    SmeAddress,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Tag,
    TLVError,
    UnsuccessSme,
    decode,
    encode,
)

pytestmark = pytest.mark.unit

S = CommandStatus

STRING_LIMITS: list[tuple[type[PDU], str, int, int]] = [
    (BindTransmitter, "system_id", 15, S.ESME_RINVSYSID),
    (BindTransmitter, "password", 8, S.ESME_RINVPASWD),
    (BindTransmitter, "system_type", 12, S.ESME_RINVSYSTYP),
    (BindTransmitter, "address_range", 40, S.ESME_RINVPARLEN),
    (BindReceiverResp, "system_id", 15, S.ESME_RINVSYSID),
    (Outbind, "system_id", 15, S.ESME_RINVSYSID),
    (Outbind, "password", 8, S.ESME_RINVPASWD),
    (SubmitSm, "service_type", 5, S.ESME_RINVSERTYP),
    (SubmitSm, "source_addr", 20, S.ESME_RINVSRCADR),
    (SubmitSm, "destination_addr", 20, S.ESME_RINVDSTADR),
    (DeliverSm, "source_addr", 20, S.ESME_RINVSRCADR),
    (DeliverSm, "destination_addr", 20, S.ESME_RINVDSTADR),
    (SubmitMulti, "source_addr", 20, S.ESME_RINVSRCADR),
    (DataSm, "service_type", 5, S.ESME_RINVSERTYP),
    (DataSm, "source_addr", 64, S.ESME_RINVSRCADR),
    (DataSm, "destination_addr", 64, S.ESME_RINVDSTADR),
    (SubmitSmResp, "message_id", 64, S.ESME_RINVMSGID),
    (DeliverSmResp, "message_id", 64, S.ESME_RINVMSGID),
    (SubmitMultiResp, "message_id", 64, S.ESME_RINVMSGID),
    (QuerySm, "message_id", 64, S.ESME_RINVMSGID),
    (QuerySm, "source_addr", 20, S.ESME_RINVSRCADR),
    (QuerySmResp, "message_id", 64, S.ESME_RINVMSGID),
    (CancelSm, "message_id", 64, S.ESME_RINVMSGID),
    (CancelSm, "source_addr", 20, S.ESME_RINVSRCADR),
    (CancelSm, "destination_addr", 20, S.ESME_RINVDSTADR),
    (ReplaceSm, "message_id", 64, S.ESME_RINVMSGID),
    (ReplaceSm, "source_addr", 20, S.ESME_RINVSRCADR),
    (AlertNotification, "source_addr", 64, S.ESME_RINVSRCADR),
    (AlertNotification, "esme_addr", 64, S.ESME_RINVDSTADR),
]


@pytest.mark.parametrize(
    ("cls", "field", "max_chars", "status"),
    STRING_LIMITS,
    ids=[f"{c.__name__}.{f}" for c, f, _, _ in STRING_LIMITS],
)
def test_string_maximum(cls: Any, field: str, max_chars: int, status: int) -> None:
    longest = cls(sequence_number=1, **{field: "7" * max_chars})
    assert decode(encode(longest)) == longest
    with pytest.raises(FieldTooLong) as info:
        encode(cls(sequence_number=1, **{field: "7" * (max_chars + 1)}))
    assert info.value.field == field
    assert info.value.command_status == status
    assert info.value.command_id == cls.command_id and info.value.sequence_number == 1


@pytest.mark.parametrize(
    ("pdu", "field", "status"),
    [
        (SubmitMulti(dest_address=(SmeAddress(destination_addr="9" * 21),)), "destination_addr", S.ESME_RINVDSTADR),
        (SubmitMulti(dest_address=(DistributionList("d" * 21),)), "dl_name", S.ESME_RINVDLNAME),
        (
            SubmitMultiResp(message_id="", unsuccess_sme=(UnsuccessSme(destination_addr="9" * 21),)),
            "destination_addr",
            S.ESME_RINVDSTADR,
        ),
    ],
)
def test_nested_string_maximum(pdu: PDU, field: str, status: int) -> None:
    with pytest.raises(FieldTooLong) as info:
        encode(pdu)
    assert info.value.field == field and info.value.command_status == status


@pytest.mark.parametrize(
    ("cls", "field", "status"),
    [
        (SubmitSm, "schedule_delivery_time", S.ESME_RINVSCHED),
        (SubmitSm, "validity_period", S.ESME_RINVEXPIRY),
        (SubmitMulti, "validity_period", S.ESME_RINVEXPIRY),
        (ReplaceSm, "schedule_delivery_time", S.ESME_RINVSCHED),
        (QuerySmResp, "final_date", S.ESME_RINVPARLEN),
    ],
)
def test_time_fields_are_empty_or_16_characters(cls: Any, field: str, status: int) -> None:
    extra: dict[str, Any] = {"message_id": "m"} if cls is QuerySmResp else {}
    for ok in ("", "240101120000000+"):
        pdu = cls(**{field: ok}, **extra)
        assert decode(encode(pdu)) == pdu
    for bad in ("2401011200", "240101120000000", "240101120000000+0"):
        with pytest.raises(InvalidField) as info:
            encode(cls(**{field: bad}, **extra))
        assert info.value.field == field and info.value.command_status == status


@pytest.mark.parametrize("cls", [SubmitSm, DeliverSm, SubmitMulti, ReplaceSm])
def test_short_message_maximum(cls: Any) -> None:
    pdu = cls(short_message=b"\xff" * 254)
    assert decode(encode(pdu)) == pdu
    with pytest.raises(InvalidMessageLength) as info:
        encode(cls(short_message=b"\xff" * 255))
    assert info.value.command_status == S.ESME_RINVMSGLEN and info.value.field == "short_message"


def test_strings_must_be_latin1_without_nul() -> None:
    with pytest.raises(InvalidField) as info:
        encode(SubmitSm(source_addr="Ünïcode€"))
    assert info.value.field == "source_addr" and info.value.command_status == S.ESME_RINVSRCADR
    with pytest.raises(InvalidField) as info:
        encode(SubmitSm(destination_addr="12\x0034"))
    assert info.value.field == "destination_addr"


@pytest.mark.parametrize(
    ("changes", "field", "status"),
    [
        ({"esm_class": 256}, "esm_class", S.ESME_RINVESMCLASS),
        ({"source_addr_ton": -1}, "source_addr_ton", S.ESME_RINVSRCTON),
        ({"dest_addr_npi": 300}, "dest_addr_npi", S.ESME_RINVDSTNPI),
        ({"priority_flag": 1000}, "priority_flag", S.ESME_RINVPRTFLG),
        ({"registered_delivery": 256}, "registered_delivery", S.ESME_RINVREGDLVFLG),
        ({"data_coding": 256}, "data_coding", S.ESME_RSYSERR),
        ({"sequence_number": 2**32}, "sequence_number", S.ESME_RSYSERR),
        ({"command_status": -1}, "command_status", S.ESME_RSYSERR),
    ],
)
def test_integers_out_of_range(changes: dict[str, Any], field: str, status: int) -> None:
    with pytest.raises(InvalidField) as info:
        encode(dataclasses.replace(SubmitSm(), **changes))
    assert info.value.field == field and info.value.command_status == status


def test_wrong_python_type_is_a_typed_error() -> None:
    with pytest.raises(InvalidField):
        encode(SubmitSm(source_addr=None))  # type: ignore[arg-type]
    with pytest.raises(PDUError):
        encode(SubmitSm(short_message="text"))  # type: ignore[arg-type]


def test_too_many_destinations() -> None:
    pdu = SubmitMulti(dest_address=(SmeAddress(destination_addr="1"),) * 255)
    with pytest.raises(InvalidField) as info:
        encode(pdu)
    assert info.value.command_status == S.ESME_RINVNUMDESTS
    assert decode(encode(dataclasses.replace(pdu, dest_address=pdu.dest_address[:254]))) == dataclasses.replace(
        pdu, dest_address=pdu.dest_address[:254]
    )


@pytest.mark.parametrize(
    ("tlv", "status"),
    [
        (TLV(Tag.SAR_MSG_REF_NUM, "1"), S.ESME_RINVOPTPARAMVAL),
        (TLV(Tag.SAR_TOTAL_SEGMENTS, 256), S.ESME_RINVOPTPARAMVAL),
        (TLV(Tag.QOS_TIME_TO_LIVE, -1), S.ESME_RINVOPTPARAMVAL),
        (TLV(Tag.RECEIPTED_MESSAGE_ID, b"abc"), S.ESME_RINVOPTPARAMVAL),
        (TLV(Tag.RECEIPTED_MESSAGE_ID, "x" * 65), S.ESME_RINVPARLEN),
        (TLV(Tag.RECEIPTED_MESSAGE_ID, "a\0b"), S.ESME_RINVOPTPARAMVAL),
        (TLV(Tag.ADDITIONAL_STATUS_INFO_TEXT, "€"), S.ESME_RINVOPTPARAMVAL),
        (TLV(Tag.NETWORK_ERROR_CODE, b"\x03\x00"), S.ESME_RINVPARLEN),
        (TLV(Tag.CALLBACK_NUM, b"\x00" * 20), S.ESME_RINVPARLEN),
        (TLV(Tag.ALERT_ON_MESSAGE_DELIVERY, b"\x01"), S.ESME_RINVPARLEN),
        (TLV(Tag.MESSAGE_PAYLOAD, "text"), S.ESME_RINVOPTPARAMVAL),
        (TLV(Tag.MESSAGE_PAYLOAD, b"x" * 65536), S.ESME_RINVPARLEN),
        (TLV(0x1401, 5), S.ESME_RINVOPTPARAMVAL),
        (TLV(0x1_0000, b""), S.ESME_RINVOPTPARSTREAM),
    ],
)
def test_invalid_tlv_values(tlv: TLV, status: int) -> None:
    with pytest.raises(TLVError) as info:
        encode(SubmitSm(sequence_number=3, tlvs=(tlv,)))
    assert info.value.command_status == status and info.value.tag == tlv.tag
    assert info.value.command_id == CommandId.SUBMIT_SM and info.value.sequence_number == 3
