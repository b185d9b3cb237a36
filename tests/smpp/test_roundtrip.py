"""Every PDU type round-trips, and the layouts not covered by encode vectors match the spec.

A round trip alone cannot catch a mistake made identically in encoder and decoder (say, two
fields swapped in both), so the PDUs without an encoding vector also get a hand-assembled
expected byte string, written field by field from the spec's tables.
"""

from __future__ import annotations

import struct

import pytest

from martinet.smpp import (
    PDU,
    PDU_CLASSES,
    TLV,
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CancelSm,
    CancelSmResp,
    CommandId,
    CommandStatus,
    DataCoding,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    DistributionList,
    EnquireLink,
    EnquireLinkResp,
    EsmClassType,
    GenericNack,
    MessageState,
    Npi,
    Outbind,
    QuerySm,
    QuerySmResp,
    RegisteredDelivery,
    ReplaceSm,
    ReplaceSmResp,
    SmeAddress,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Tag,
    Ton,
    Unbind,
    UnbindResp,
    UnsuccessSme,
    decode,
    encode,
)

pytestmark = pytest.mark.unit

S = CommandStatus

EXAMPLES: list[PDU] = [
    GenericNack(sequence_number=9, command_status=S.ESME_RINVCMDID),
    BindTransmitter(sequence_number=1, system_id="martinet", password="s3cret", system_type="SMS", addr_ton=1),
    BindTransmitterResp(sequence_number=1, system_id="SMSC", tlvs=(TLV(Tag.SC_INTERFACE_VERSION, 0x34),)),
    BindReceiver(sequence_number=2, system_id="rx", password="pw", addr_npi=1, address_range="^336"),
    BindReceiverResp(sequence_number=2, command_status=S.ESME_RBINDFAIL),
    BindTransceiver(sequence_number=3, system_id="trx", password="pw", interface_version=0x34),
    BindTransceiverResp(sequence_number=3, system_id=""),
    Outbind(sequence_number=4, system_id="SMSC", password="pw"),
    Unbind(sequence_number=5),
    UnbindResp(sequence_number=5),
    EnquireLink(sequence_number=0x7FFF_FFFF),
    EnquireLinkResp(sequence_number=0x7FFF_FFFF),
    SubmitSm(
        sequence_number=6,
        service_type="CMT",
        source_addr_ton=Ton.ALPHANUMERIC,
        source_addr="Martinet",
        dest_addr_ton=Ton.INTERNATIONAL,
        dest_addr_npi=Npi.ISDN,
        destination_addr="33612345678",
        esm_class=0x40,
        priority_flag=1,
        schedule_delivery_time="000000001000000R",
        validity_period="240101120000000+",
        registered_delivery=RegisteredDelivery.RECEIPT_SUCCESS_OR_FAILURE,
        data_coding=DataCoding.UCS2,
        short_message=b"\x05\x00\x03\x2a\x02\x01\x00h\x00i",
        tlvs=(TLV(Tag.USER_MESSAGE_REFERENCE, 77), TLV(0x1401, b"vendor")),
    ),
    SubmitSmResp(sequence_number=6, message_id="a1b2c3"),
    DeliverSm(
        sequence_number=7,
        source_addr="33612345678",
        destination_addr="Martinet",
        esm_class=EsmClassType.SMSC_DELIVERY_RECEIPT,
        short_message=b"id:a1b2c3 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:DELIVRD err:000",
        tlvs=(
            TLV(Tag.RECEIPTED_MESSAGE_ID, "a1b2c3"),
            TLV(Tag.MESSAGE_STATE, MessageState.DELIVERED),
            TLV(Tag.NETWORK_ERROR_CODE, b"\x03\x00\x00"),
        ),
    ),
    DeliverSmResp(sequence_number=7, message_id=""),
    SubmitMulti(
        sequence_number=8,
        source_addr="Martinet",
        dest_address=(SmeAddress(1, 1, "33600000001"), DistributionList("friends"), SmeAddress(1, 1, "33600000002")),
        short_message=b"hello all",
    ),
    SubmitMultiResp(
        sequence_number=8,
        message_id="m-1",
        unsuccess_sme=(UnsuccessSme(1, 1, "33600000002", S.ESME_RINVDSTADR),),
    ),
    DataSm(
        sequence_number=9,
        source_addr="A" * 64,
        destination_addr="B" * 64,
        registered_delivery=1,
        tlvs=(TLV(Tag.MESSAGE_PAYLOAD, b"x" * 1000), TLV(Tag.ALERT_ON_MESSAGE_DELIVERY, b"")),
    ),
    DataSmResp(sequence_number=9, message_id="d-1", tlvs=(TLV(Tag.ADDITIONAL_STATUS_INFO_TEXT, "queued"),)),
    QuerySm(sequence_number=10, message_id="a1b2c3", source_addr_ton=5, source_addr="Martinet"),
    QuerySmResp(sequence_number=10, message_id="a1b2c3", final_date="240101120100000+", message_state=2, error_code=0),
    CancelSm(sequence_number=11, service_type="CMT", message_id="a1b2c3", source_addr="x", destination_addr="y"),
    CancelSmResp(sequence_number=11),
    ReplaceSm(
        sequence_number=12,
        message_id="a1b2c3",
        source_addr="Martinet",
        validity_period="000001000000000R",
        sm_default_msg_id=3,
        short_message=b"new text",
    ),
    ReplaceSmResp(sequence_number=12, command_status=S.ESME_RREPLACEFAIL),
    AlertNotification(
        sequence_number=13,
        source_addr="33612345678",
        esme_addr_ton=5,
        esme_addr="Martinet",
        tlvs=(TLV(Tag.MS_AVAILABILITY_STATUS, 0),),
    ),
]


def test_every_command_has_an_example() -> None:
    assert {type(p) for p in EXAMPLES} == set(PDU_CLASSES.values())
    assert set(PDU_CLASSES) == set(CommandId)


@pytest.mark.parametrize("pdu", EXAMPLES, ids=lambda p: p.command_name)
def test_round_trip(pdu: PDU) -> None:
    data = encode(pdu)
    assert struct.unpack(">IIII", data[:16]) == (len(data), pdu.command_id, pdu.command_status, pdu.sequence_number)
    decoded = decode(data)
    assert decoded == pdu
    assert type(decoded) is type(pdu)
    assert encode(decoded) == data


def c(text: str) -> bytes:
    return text.encode() + b"\0"


def header(command_id: int, body: bytes, seq: int, status: int = 0) -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, status, seq) + body


def test_submit_multi_layout() -> None:
    # spec 4.5.1: ... source_addr, number_of_dests, dest_address(es) [dest_flag + SME address
    # or distribution list name], esm_class ... short_message.
    pdu = EXAMPLES[[type(p) for p in EXAMPLES].index(SubmitMulti)]
    body = (
        c("")
        + b"\0\0"
        + c("Martinet")
        + b"\x03"
        + b"\x01\x01\x01"
        + c("33600000001")
        + b"\x02"
        + c("friends")
        + b"\x01\x01\x01"
        + c("33600000002")
        + b"\0\0\0"
        + c("")
        + c("")
        + b"\0\0\0\0"
        + b"\x09hello all"
    )
    assert encode(pdu) == header(CommandId.SUBMIT_MULTI, body, 8)
    assert isinstance(pdu, SubmitMulti) and pdu.number_of_dests == 3 and pdu.sm_length == 9


def test_submit_multi_resp_layout() -> None:
    # spec 4.5.2: message_id, no_unsuccess, unsuccess_sme(s) [ton, npi, addr, error_status_code].
    pdu = SubmitMultiResp(sequence_number=8, message_id="m-1", unsuccess_sme=(UnsuccessSme(1, 1, "336", 0x0B),))
    body = c("m-1") + b"\x01" + b"\x01\x01" + c("336") + b"\x00\x00\x00\x0b"
    assert encode(pdu) == header(CommandId.SUBMIT_MULTI_RESP, body, 8)
    assert pdu.no_unsuccess == 1


def test_outbind_layout() -> None:
    assert encode(Outbind(sequence_number=4, system_id="SMSC", password="pw")) == header(
        CommandId.OUTBIND, c("SMSC") + c("pw"), 4
    )


def test_data_sm_layout() -> None:
    # spec 4.7.1: no protocol_id/priority/schedule/validity/replace/sm fields, content in TLVs.
    pdu = DataSm(
        sequence_number=1,
        source_addr_ton=1,
        source_addr="5552710000",
        dest_addr_npi=1,
        destination_addr="9695",
        esm_class=0,
        registered_delivery=1,
        data_coding=8,
        tlvs=(TLV(Tag.MESSAGE_PAYLOAD, b"Test"),),
    )
    body = c("") + b"\x01\x00" + c("5552710000") + b"\x00\x01" + c("9695") + b"\x00\x01\x08" + b"\x04\x24\x00\x04Test"
    assert encode(pdu) == header(CommandId.DATA_SM, body, 1)


def test_replace_sm_layout() -> None:
    # spec 4.10.1: message_id, source addr, schedule, validity, registered_delivery,
    # sm_default_msg_id, sm_length, short_message.
    pdu = ReplaceSm(
        sequence_number=2,
        message_id="msg-1",
        source_addr_ton=1,
        source_addr_npi=1,
        source_addr="555",
        schedule_delivery_time="150203040506708+",
        registered_delivery=1,
        sm_default_msg_id=2,
        short_message=b"text",
    )
    body = c("msg-1") + b"\x01\x01" + c("555") + c("150203040506708+") + c("") + b"\x01\x02\x04text"
    assert encode(pdu) == header(CommandId.REPLACE_SM, body, 2)


def test_query_sm_resp_layout() -> None:
    pdu = QuerySmResp(sequence_number=3, message_id="m", final_date="", message_state=5, error_code=0x22)
    assert encode(pdu) == header(CommandId.QUERY_SM_RESP, c("m") + c("") + b"\x05\x22", 3)


# --------------------------------------------------------------------------- absent response bodies


@pytest.mark.parametrize("cls", [SubmitSmResp, DeliverSmResp, DataSmResp, QuerySmResp, SubmitMultiResp])
def test_failed_response_without_body(cls: type[PDU]) -> None:
    # Spec: "the body is not returned if command_status is non-zero"; message_id=None models it.
    pdu = cls(sequence_number=5, command_status=S.ESME_RTHROTTLED)
    data = encode(pdu)
    assert len(data) == 16
    assert decode(data) == pdu


@pytest.mark.parametrize("cls", [BindTransmitterResp, BindReceiverResp, BindTransceiverResp])
def test_failed_bind_without_body(cls: type[PDU]) -> None:
    pdu = cls(sequence_number=5, command_status=S.ESME_RINVPASWD)
    assert len(encode(pdu)) == 16
    assert decode(encode(pdu)) == pdu


def test_successful_response_always_has_message_id() -> None:
    # message_id is mandatory with ESME_ROK: None is written as an empty C-string.
    assert encode(SubmitSmResp(sequence_number=1)) == header(CommandId.SUBMIT_SM_RESP, b"\0", 1)
    # ...which is also what cloudhopper expects for a deliver_sm_resp built from a request.
    assert encode(DeliverSmResp(sequence_number=0x806A179B)).hex().upper() == "000000118000000500000000806A179B00"
    # So "not set" comes back as the empty string it was written as.
    assert decode(encode(DeliverSmResp(sequence_number=1))) == DeliverSmResp(sequence_number=1, message_id="")


def test_body_less_successful_response_decodes_as_absent() -> None:
    pdu = decode(header(CommandId.SUBMIT_SM_RESP, b"", 1))
    assert pdu == SubmitSmResp(sequence_number=1, message_id=None)


def test_absent_message_id_never_drops_other_fields() -> None:
    # Found by hypothesis: the body may only be omitted when nothing else would be lost.
    pdu = QuerySmResp(command_status=S.ESME_RQUERYFAIL, error_code=1)
    assert decode(encode(pdu)) == QuerySmResp(command_status=S.ESME_RQUERYFAIL, message_id="", error_code=1)
    pdu2 = SubmitMultiResp(command_status=S.ESME_RSUBMITFAIL, unsuccess_sme=(UnsuccessSme(),))
    assert decode(encode(pdu2)) == SubmitMultiResp(
        command_status=S.ESME_RSUBMITFAIL, message_id="", unsuccess_sme=(UnsuccessSme(),)
    )


def test_failed_response_with_explicit_message_id_keeps_it() -> None:
    pdu = SubmitSmResp(sequence_number=1, command_status=S.ESME_RSUBMITFAIL, message_id="")
    assert encode(pdu) == header(CommandId.SUBMIT_SM_RESP, b"\0", 1, S.ESME_RSUBMITFAIL)
    assert decode(encode(pdu)) == pdu


# --------------------------------------------------------------------------- conveniences


def test_derived_and_helper_properties() -> None:
    sm = SubmitSm(short_message=b"abc", tlvs=(TLV(Tag.SAR_MSG_REF_NUM, 1), TLV(Tag.SAR_MSG_REF_NUM, 2)))
    assert sm.sm_length == 3
    assert sm.command_name == "submit_sm" and not sm.is_response
    assert SubmitSmResp().is_response and GenericNack().is_response
    assert sm.get_tlv(Tag.SAR_MSG_REF_NUM) == 1  # first occurrence
    assert sm.get_tlv(Tag.SAR_TOTAL_SEGMENTS) is None
    assert ReplaceSm(short_message=b"ab").sm_length == 2


def test_defaults_follow_the_spec() -> None:
    bind = BindTransceiver()
    assert bind.interface_version == 0x34
    assert encode(bind) == header(CommandId.BIND_TRANSCEIVER, c("") + c("") + c("") + b"\x34\0\0" + c(""), 0)
