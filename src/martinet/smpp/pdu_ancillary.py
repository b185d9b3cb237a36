"""Ancillary PDUs: query_sm, cancel_sm, replace_sm, alert_notification and their responses
(spec 4.8-4.10, 4.12).  See :mod:`martinet.smpp.pdu` for the representation choices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from .constants import CommandId
from .pdu_base import PDU
from .tlv import decode_tlvs
from .wire import (
    DESTINATION_ADDR,
    ESME_ADDR,
    FINAL_DATE,
    HEADER_SIZE,
    MESSAGE_ID,
    SCHEDULE_DELIVERY_TIME,
    SERVICE_TYPE,
    SOURCE_ADDR,
    SOURCE_ADDR_65,
    U8X2,
    U8X3,
    VALIDITY_PERIOD,
    read_octets,
    short_message_octets,
)

__all__ = [
    "AlertNotification",
    "CancelSm",
    "CancelSmResp",
    "QuerySm",
    "QuerySmResp",
    "ReplaceSm",
    "ReplaceSmResp",
]


@dataclass(slots=True, kw_only=True)
class QuerySm(PDU):
    """Ask the state of a previously submitted message (spec 4.8)."""

    command_id: ClassVar[CommandId] = CommandId.QUERY_SM

    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""

    def _encode_body(self) -> bytes:
        return b"".join(
            (
                MESSAGE_ID.encode(self.message_id),
                U8X2.pack(self.source_addr_ton, self.source_addr_npi),
                SOURCE_ADDR.encode(self.source_addr),
            )
        )

    @classmethod
    def _decode_body(cls, data: bytes, sequence_number: int, command_status: int, lenient: bool = False) -> Self:
        message_id, pos = MESSAGE_ID.read(data, HEADER_SIZE)
        source_addr_ton, source_addr_npi = U8X2.unpack_from(data, pos)
        source_addr, pos = SOURCE_ADDR.read(data, pos + 2)
        return cls(
            sequence_number=sequence_number,
            command_status=command_status,
            message_id=message_id,
            source_addr_ton=source_addr_ton,
            source_addr_npi=source_addr_npi,
            source_addr=source_addr,
            tlvs=decode_tlvs(data, pos, lenient),
        )


@dataclass(slots=True, kw_only=True)
class QuerySmResp(PDU):
    """State of a message (spec 4.8.2).

    ``message_id=None`` means "body absent", as for submit_sm_resp; the body is only omitted
    when no other field would be lost.
    """

    command_id: ClassVar[CommandId] = CommandId.QUERY_SM_RESP

    message_id: str | None = None
    final_date: str = ""
    message_state: int = 0
    error_code: int = 0

    def _encode_body(self) -> bytes:
        if (
            self.message_id is None
            and self.command_status
            and not (self.tlvs or self.final_date or self.message_state or self.error_code)
        ):
            return b""
        return b"".join(
            (
                MESSAGE_ID.encode(self.message_id or ""),
                FINAL_DATE.encode(self.final_date),
                U8X2.pack(self.message_state, self.error_code),
            )
        )

    @classmethod
    def _decode_body(cls, data: bytes, sequence_number: int, command_status: int, lenient: bool = False) -> Self:
        if len(data) == HEADER_SIZE:
            return cls(sequence_number=sequence_number, command_status=command_status)
        message_id, pos = MESSAGE_ID.read(data, HEADER_SIZE)
        final_date, pos = FINAL_DATE.read(data, pos)
        message_state, error_code = U8X2.unpack_from(data, pos)
        return cls(
            sequence_number=sequence_number,
            command_status=command_status,
            message_id=message_id,
            final_date=final_date,
            message_state=message_state,
            error_code=error_code,
            tlvs=decode_tlvs(data, pos + 2, lenient),
        )


@dataclass(slots=True, kw_only=True)
class CancelSm(PDU):
    """Cancel one pending message, or all from source to destination (spec 4.9)."""

    command_id: ClassVar[CommandId] = CommandId.CANCEL_SM

    service_type: str = ""
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""

    def _encode_body(self) -> bytes:
        return b"".join(
            (
                SERVICE_TYPE.encode(self.service_type),
                MESSAGE_ID.encode(self.message_id),
                U8X2.pack(self.source_addr_ton, self.source_addr_npi),
                SOURCE_ADDR.encode(self.source_addr),
                U8X2.pack(self.dest_addr_ton, self.dest_addr_npi),
                DESTINATION_ADDR.encode(self.destination_addr),
            )
        )

    @classmethod
    def _decode_body(cls, data: bytes, sequence_number: int, command_status: int, lenient: bool = False) -> Self:
        service_type, pos = SERVICE_TYPE.read(data, HEADER_SIZE)
        message_id, pos = MESSAGE_ID.read(data, pos)
        source_addr_ton, source_addr_npi = U8X2.unpack_from(data, pos)
        source_addr, pos = SOURCE_ADDR.read(data, pos + 2)
        dest_addr_ton, dest_addr_npi = U8X2.unpack_from(data, pos)
        destination_addr, pos = DESTINATION_ADDR.read(data, pos + 2)
        return cls(
            sequence_number=sequence_number,
            command_status=command_status,
            service_type=service_type,
            message_id=message_id,
            source_addr_ton=source_addr_ton,
            source_addr_npi=source_addr_npi,
            source_addr=source_addr,
            dest_addr_ton=dest_addr_ton,
            dest_addr_npi=dest_addr_npi,
            destination_addr=destination_addr,
            tlvs=decode_tlvs(data, pos, lenient),
        )


@dataclass(slots=True, kw_only=True)
class ReplaceSm(PDU):
    """Replace a pending message (spec 4.10)."""

    command_id: ClassVar[CommandId] = CommandId.REPLACE_SM

    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""

    @property
    def sm_length(self) -> int:
        return len(self.short_message)

    def _encode_body(self) -> bytes:
        return b"".join(
            (
                MESSAGE_ID.encode(self.message_id),
                U8X2.pack(self.source_addr_ton, self.source_addr_npi),
                SOURCE_ADDR.encode(self.source_addr),
                SCHEDULE_DELIVERY_TIME.encode(self.schedule_delivery_time),
                VALIDITY_PERIOD.encode(self.validity_period),
                U8X2.pack(self.registered_delivery, self.sm_default_msg_id),
                short_message_octets(self.short_message),
            )
        )

    @classmethod
    def _decode_body(cls, data: bytes, sequence_number: int, command_status: int, lenient: bool = False) -> Self:
        message_id, pos = MESSAGE_ID.read(data, HEADER_SIZE)
        source_addr_ton, source_addr_npi = U8X2.unpack_from(data, pos)
        source_addr, pos = SOURCE_ADDR.read(data, pos + 2)
        schedule_delivery_time, pos = SCHEDULE_DELIVERY_TIME.read(data, pos)
        validity_period, pos = VALIDITY_PERIOD.read(data, pos)
        registered_delivery, sm_default_msg_id, sm_length = U8X3.unpack_from(data, pos)
        short_message, pos = read_octets(data, pos + 3, sm_length)
        return cls(
            sequence_number=sequence_number,
            command_status=command_status,
            message_id=message_id,
            source_addr_ton=source_addr_ton,
            source_addr_npi=source_addr_npi,
            source_addr=source_addr,
            schedule_delivery_time=schedule_delivery_time,
            validity_period=validity_period,
            registered_delivery=registered_delivery,
            sm_default_msg_id=sm_default_msg_id,
            short_message=short_message,
            tlvs=decode_tlvs(data, pos, lenient),
        )


# --------------------------------------------------------------------------- alert_notification


@dataclass(slots=True, kw_only=True)
class AlertNotification(PDU):
    """SMSC tells the ESME that a mobile became available (spec 4.12); has no response."""

    command_id: ClassVar[CommandId] = CommandId.ALERT_NOTIFICATION

    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    esme_addr_ton: int = 0
    esme_addr_npi: int = 0
    esme_addr: str = ""

    def _encode_body(self) -> bytes:
        return b"".join(
            (
                U8X2.pack(self.source_addr_ton, self.source_addr_npi),
                SOURCE_ADDR_65.encode(self.source_addr),
                U8X2.pack(self.esme_addr_ton, self.esme_addr_npi),
                ESME_ADDR.encode(self.esme_addr),
            )
        )

    @classmethod
    def _decode_body(cls, data: bytes, sequence_number: int, command_status: int, lenient: bool = False) -> Self:
        source_addr_ton, source_addr_npi = U8X2.unpack_from(data, HEADER_SIZE)
        source_addr, pos = SOURCE_ADDR_65.read(data, HEADER_SIZE + 2)
        esme_addr_ton, esme_addr_npi = U8X2.unpack_from(data, pos)
        esme_addr, pos = ESME_ADDR.read(data, pos + 2)
        return cls(
            sequence_number=sequence_number,
            command_status=command_status,
            source_addr_ton=source_addr_ton,
            source_addr_npi=source_addr_npi,
            source_addr=source_addr,
            esme_addr_ton=esme_addr_ton,
            esme_addr_npi=esme_addr_npi,
            esme_addr=esme_addr,
            tlvs=decode_tlvs(data, pos, lenient),
        )


# --------------------------------------------------------------------------- header-only responses


@dataclass(slots=True, kw_only=True)
class CancelSmResp(PDU):
    command_id: ClassVar[CommandId] = CommandId.CANCEL_SM_RESP


@dataclass(slots=True, kw_only=True)
class ReplaceSmResp(PDU):
    command_id: ClassVar[CommandId] = CommandId.REPLACE_SM_RESP
