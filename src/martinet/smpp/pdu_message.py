"""Message submission and delivery PDUs: submit_sm, deliver_sm, submit_multi, data_sm and
their responses (spec 4.4-4.7).  See :mod:`martinet.smpp.pdu` for the representation choices."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Final, Self

from .constants import CommandId, CommandStatus, DestFlag
from .errors import InvalidField
from .pdu_base import PDU
from .tlv import decode_tlvs
from .wire import (
    DESTINATION_ADDR,
    DESTINATION_ADDR_65,
    DL_NAME,
    HEADER_SIZE,
    MESSAGE_ID,
    SCHEDULE_DELIVERY_TIME,
    SERVICE_TYPE,
    SOURCE_ADDR,
    SOURCE_ADDR_65,
    U8,
    U8X2,
    U8X3,
    U8X4,
    U8X5,
    U32,
    VALIDITY_PERIOD,
    read_octets,
    short_message_octets,
)

__all__ = [
    "DataSm",
    "DataSmResp",
    "DeliverSm",
    "DeliverSmResp",
    "DistributionList",
    "SmeAddress",
    "SubmitMulti",
    "SubmitMultiResp",
    "SubmitSm",
    "SubmitSmResp",
    "UnsuccessSme",
]

_UNSUCCESS_TAIL: Final = struct.Struct(">I")


@dataclass(slots=True, kw_only=True)
class _ShortMessage(PDU):
    """Layout shared by submit_sm and deliver_sm (spec 4.4.1, 4.6.1).

    For deliver_sm the spec requires schedule_delivery_time and validity_period to be empty
    and several flags to be zero; the codec keeps whatever the peer sent (the session decides
    what to accept) and does not enforce it on encode either.
    """

    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""

    @property
    def sm_length(self) -> int:
        """Length of short_message, as written on the wire."""
        return len(self.short_message)

    def _encode_body(self) -> bytes:
        return b"".join(
            (
                SERVICE_TYPE.encode(self.service_type),
                U8X2.pack(self.source_addr_ton, self.source_addr_npi),
                SOURCE_ADDR.encode(self.source_addr),
                U8X2.pack(self.dest_addr_ton, self.dest_addr_npi),
                DESTINATION_ADDR.encode(self.destination_addr),
                U8X3.pack(self.esm_class, self.protocol_id, self.priority_flag),
                SCHEDULE_DELIVERY_TIME.encode(self.schedule_delivery_time),
                VALIDITY_PERIOD.encode(self.validity_period),
                U8X4.pack(
                    self.registered_delivery,
                    self.replace_if_present_flag,
                    self.data_coding,
                    self.sm_default_msg_id,
                ),
                short_message_octets(self.short_message),
            )
        )

    @classmethod
    def _decode_body(cls, data: bytes, sequence_number: int, command_status: int, lenient: bool = False) -> Self:
        service_type, pos = SERVICE_TYPE.read(data, HEADER_SIZE)
        source_addr_ton, source_addr_npi = U8X2.unpack_from(data, pos)
        source_addr, pos = SOURCE_ADDR.read(data, pos + 2)
        dest_addr_ton, dest_addr_npi = U8X2.unpack_from(data, pos)
        destination_addr, pos = DESTINATION_ADDR.read(data, pos + 2)
        esm_class, protocol_id, priority_flag = U8X3.unpack_from(data, pos)
        schedule_delivery_time, pos = SCHEDULE_DELIVERY_TIME.read(data, pos + 3)
        validity_period, pos = VALIDITY_PERIOD.read(data, pos)
        registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id, sm_length = U8X5.unpack_from(
            data, pos
        )
        short_message, pos = read_octets(data, pos + 5, sm_length)
        return cls(
            sequence_number=sequence_number,
            command_status=command_status,
            service_type=service_type,
            source_addr_ton=source_addr_ton,
            source_addr_npi=source_addr_npi,
            source_addr=source_addr,
            dest_addr_ton=dest_addr_ton,
            dest_addr_npi=dest_addr_npi,
            destination_addr=destination_addr,
            esm_class=esm_class,
            protocol_id=protocol_id,
            priority_flag=priority_flag,
            schedule_delivery_time=schedule_delivery_time,
            validity_period=validity_period,
            registered_delivery=registered_delivery,
            replace_if_present_flag=replace_if_present_flag,
            data_coding=data_coding,
            sm_default_msg_id=sm_default_msg_id,
            short_message=short_message,
            tlvs=decode_tlvs(data, pos, lenient),
        )


@dataclass(slots=True, kw_only=True)
class SubmitSm(_ShortMessage):
    """ESME submits a short message to the SMSC (spec 4.4)."""

    command_id: ClassVar[CommandId] = CommandId.SUBMIT_SM


@dataclass(slots=True, kw_only=True)
class DeliverSm(_ShortMessage):
    """SMSC delivers a message or a delivery receipt to the ESME (spec 4.6)."""

    command_id: ClassVar[CommandId] = CommandId.DELIVER_SM


@dataclass(slots=True, kw_only=True)
class _MessageIdResp(PDU):
    """Layout of submit_sm_resp, deliver_sm_resp and data_sm_resp: a message_id and TLVs.

    ``message_id=None`` means "body absent" (the spec omits the body when command_status is
    an error).  When encoding, None becomes an empty string if command_status is ESME_ROK --
    the field is then mandatory -- and no body at all otherwise.
    """

    message_id: str | None = None

    def _encode_body(self) -> bytes:
        if self.message_id is None and self.command_status and not self.tlvs:
            return b""
        return MESSAGE_ID.encode(self.message_id or "")

    @classmethod
    def _decode_body(cls, data: bytes, sequence_number: int, command_status: int, lenient: bool = False) -> Self:
        if len(data) == HEADER_SIZE:
            return cls(sequence_number=sequence_number, command_status=command_status)
        if lenient and data.find(0, HEADER_SIZE) < 0 and len(data) - HEADER_SIZE < MESSAGE_ID.size:
            # The ID without its NUL, as some SMSCs send it: read as the ID it is, not as a lost answer (an ESME
            # would submit the message again, and the handset receive it twice).
            message_id = data[HEADER_SIZE:].decode("latin-1")
            return cls(sequence_number=sequence_number, command_status=command_status, message_id=message_id)
        message_id, pos = MESSAGE_ID.read(data, HEADER_SIZE)
        return cls(
            sequence_number=sequence_number,
            command_status=command_status,
            message_id=message_id,
            tlvs=decode_tlvs(data, pos, lenient),
        )


@dataclass(slots=True, kw_only=True)
class SubmitSmResp(_MessageIdResp):
    command_id: ClassVar[CommandId] = CommandId.SUBMIT_SM_RESP


@dataclass(slots=True, kw_only=True)
class DeliverSmResp(_MessageIdResp):
    """The spec says message_id is unused (NULL) here; some SMSCs fill it, so it is kept."""

    command_id: ClassVar[CommandId] = CommandId.DELIVER_SM_RESP


@dataclass(slots=True, kw_only=True)
class DataSmResp(_MessageIdResp):
    command_id: ClassVar[CommandId] = CommandId.DATA_SM_RESP


# --------------------------------------------------------------------------- submit_multi


@dataclass(frozen=True, slots=True)
class SmeAddress:
    """dest_address entry with dest_flag 1: one SME (spec 4.5.1.1)."""

    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""


@dataclass(frozen=True, slots=True)
class DistributionList:
    """dest_address entry with dest_flag 2: a distribution list held by the SMSC."""

    dl_name: str = ""


@dataclass(frozen=True, slots=True)
class UnsuccessSme:
    """unsuccess_sme entry of submit_multi_resp (spec 4.5.2.1)."""

    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    error_status_code: int = 0


_MAX_DESTS: Final = 254  # number_of_dests limit (spec 4.5.1)


@dataclass(slots=True, kw_only=True)
class SubmitMulti(PDU):
    """submit_sm to several SMEs and/or distribution lists (spec 4.5)."""

    command_id: ClassVar[CommandId] = CommandId.SUBMIT_MULTI

    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_address: tuple[SmeAddress | DistributionList, ...] = ()
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""

    @property
    def number_of_dests(self) -> int:
        return len(self.dest_address)

    @property
    def sm_length(self) -> int:
        return len(self.short_message)

    def _encode_body(self) -> bytes:
        if len(self.dest_address) > _MAX_DESTS:
            raise InvalidField(
                f"{len(self.dest_address)} destinations, at most {_MAX_DESTS} allowed",
                field="number_of_dests",
                command_status=CommandStatus.ESME_RINVNUMDESTS,
            )
        parts = [
            SERVICE_TYPE.encode(self.service_type),
            U8X2.pack(self.source_addr_ton, self.source_addr_npi),
            SOURCE_ADDR.encode(self.source_addr),
            U8.pack(len(self.dest_address)),
        ]
        for dest in self.dest_address:
            if isinstance(dest, SmeAddress):
                parts.append(U8X3.pack(DestFlag.SME_ADDRESS, dest.dest_addr_ton, dest.dest_addr_npi))
                parts.append(DESTINATION_ADDR.encode(dest.destination_addr))
            else:
                parts.append(U8.pack(DestFlag.DISTRIBUTION_LIST))
                parts.append(DL_NAME.encode(dest.dl_name))
        parts += (
            U8X3.pack(self.esm_class, self.protocol_id, self.priority_flag),
            SCHEDULE_DELIVERY_TIME.encode(self.schedule_delivery_time),
            VALIDITY_PERIOD.encode(self.validity_period),
            U8X4.pack(
                self.registered_delivery,
                self.replace_if_present_flag,
                self.data_coding,
                self.sm_default_msg_id,
            ),
            short_message_octets(self.short_message),
        )
        return b"".join(parts)

    @classmethod
    def _decode_body(cls, data: bytes, sequence_number: int, command_status: int, lenient: bool = False) -> Self:
        service_type, pos = SERVICE_TYPE.read(data, HEADER_SIZE)
        source_addr_ton, source_addr_npi = U8X2.unpack_from(data, pos)
        source_addr, pos = SOURCE_ADDR.read(data, pos + 2)
        (number_of_dests,) = U8.unpack_from(data, pos)
        pos += 1
        dest_address: list[SmeAddress | DistributionList] = []
        for _ in range(number_of_dests):
            (dest_flag,) = U8.unpack_from(data, pos)
            if dest_flag == DestFlag.SME_ADDRESS:
                ton, npi = U8X2.unpack_from(data, pos + 1)
                addr, pos = DESTINATION_ADDR.read(data, pos + 3)
                dest_address.append(SmeAddress(ton, npi, addr))
            elif dest_flag == DestFlag.DISTRIBUTION_LIST:
                dl_name, pos = DL_NAME.read(data, pos + 1)
                dest_address.append(DistributionList(dl_name))
            else:
                raise InvalidField(
                    f"dest_flag {dest_flag} is neither 1 (SME) nor 2 (distribution list)",
                    field="dest_flag",
                    command_status=CommandStatus.ESME_RINVDESTFLAG,
                )
        esm_class, protocol_id, priority_flag = U8X3.unpack_from(data, pos)
        schedule_delivery_time, pos = SCHEDULE_DELIVERY_TIME.read(data, pos + 3)
        validity_period, pos = VALIDITY_PERIOD.read(data, pos)
        registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id, sm_length = U8X5.unpack_from(
            data, pos
        )
        short_message, pos = read_octets(data, pos + 5, sm_length)
        return cls(
            sequence_number=sequence_number,
            command_status=command_status,
            service_type=service_type,
            source_addr_ton=source_addr_ton,
            source_addr_npi=source_addr_npi,
            source_addr=source_addr,
            dest_address=tuple(dest_address),
            esm_class=esm_class,
            protocol_id=protocol_id,
            priority_flag=priority_flag,
            schedule_delivery_time=schedule_delivery_time,
            validity_period=validity_period,
            registered_delivery=registered_delivery,
            replace_if_present_flag=replace_if_present_flag,
            data_coding=data_coding,
            sm_default_msg_id=sm_default_msg_id,
            short_message=short_message,
            tlvs=decode_tlvs(data, pos, lenient),
        )


@dataclass(slots=True, kw_only=True)
class SubmitMultiResp(PDU):
    """Answer to submit_multi, listing the destinations that failed (spec 4.5.2).

    ``message_id=None`` means "body absent", with the same encoding rule as submit_sm_resp.
    """

    command_id: ClassVar[CommandId] = CommandId.SUBMIT_MULTI_RESP

    message_id: str | None = None
    unsuccess_sme: tuple[UnsuccessSme, ...] = ()

    @property
    def no_unsuccess(self) -> int:
        return len(self.unsuccess_sme)

    def _encode_body(self) -> bytes:
        if self.message_id is None and self.command_status and not self.unsuccess_sme and not self.tlvs:
            return b""
        if len(self.unsuccess_sme) > 255:
            raise InvalidField(
                f"{len(self.unsuccess_sme)} unsuccess_sme entries do not fit no_unsuccess",
                field="no_unsuccess",
                command_status=CommandStatus.ESME_RINVNUMDESTS,
            )
        parts = [MESSAGE_ID.encode(self.message_id or ""), U8.pack(len(self.unsuccess_sme))]
        for sme in self.unsuccess_sme:
            parts.append(U8X2.pack(sme.dest_addr_ton, sme.dest_addr_npi))
            parts.append(DESTINATION_ADDR.encode(sme.destination_addr))
            parts.append(_UNSUCCESS_TAIL.pack(sme.error_status_code))
        return b"".join(parts)

    @classmethod
    def _decode_body(cls, data: bytes, sequence_number: int, command_status: int, lenient: bool = False) -> Self:
        if len(data) == HEADER_SIZE:
            return cls(sequence_number=sequence_number, command_status=command_status)
        message_id, pos = MESSAGE_ID.read(data, HEADER_SIZE)
        (no_unsuccess,) = U8.unpack_from(data, pos)
        pos += 1
        unsuccess: list[UnsuccessSme] = []
        for _ in range(no_unsuccess):
            ton, npi = U8X2.unpack_from(data, pos)
            addr, pos = DESTINATION_ADDR.read(data, pos + 2)
            (error_status_code,) = U32.unpack_from(data, pos)
            pos += 4
            unsuccess.append(UnsuccessSme(ton, npi, addr, error_status_code))
        return cls(
            sequence_number=sequence_number,
            command_status=command_status,
            message_id=message_id,
            unsuccess_sme=tuple(unsuccess),
            tlvs=decode_tlvs(data, pos, lenient),
        )


# --------------------------------------------------------------------------- data_sm


@dataclass(slots=True, kw_only=True)
class DataSm(PDU):
    """Message transfer in either direction, content in TLVs (spec 4.7)."""

    command_id: ClassVar[CommandId] = CommandId.DATA_SM

    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    registered_delivery: int = 0
    data_coding: int = 0

    def _encode_body(self) -> bytes:
        return b"".join(
            (
                SERVICE_TYPE.encode(self.service_type),
                U8X2.pack(self.source_addr_ton, self.source_addr_npi),
                SOURCE_ADDR_65.encode(self.source_addr),
                U8X2.pack(self.dest_addr_ton, self.dest_addr_npi),
                DESTINATION_ADDR_65.encode(self.destination_addr),
                U8X3.pack(self.esm_class, self.registered_delivery, self.data_coding),
            )
        )

    @classmethod
    def _decode_body(cls, data: bytes, sequence_number: int, command_status: int, lenient: bool = False) -> Self:
        service_type, pos = SERVICE_TYPE.read(data, HEADER_SIZE)
        source_addr_ton, source_addr_npi = U8X2.unpack_from(data, pos)
        source_addr, pos = SOURCE_ADDR_65.read(data, pos + 2)
        dest_addr_ton, dest_addr_npi = U8X2.unpack_from(data, pos)
        destination_addr, pos = DESTINATION_ADDR_65.read(data, pos + 2)
        esm_class, registered_delivery, data_coding = U8X3.unpack_from(data, pos)
        return cls(
            sequence_number=sequence_number,
            command_status=command_status,
            service_type=service_type,
            source_addr_ton=source_addr_ton,
            source_addr_npi=source_addr_npi,
            source_addr=source_addr,
            dest_addr_ton=dest_addr_ton,
            dest_addr_npi=dest_addr_npi,
            destination_addr=destination_addr,
            esm_class=esm_class,
            registered_delivery=registered_delivery,
            data_coding=data_coding,
            tlvs=decode_tlvs(data, pos + 3, lenient),
        )
