"""Session management PDUs: bind*, outbind, unbind, enquire_link and generic_nack
(spec 4.1-4.3, 4.11).  See :mod:`martinet.smpp.pdu` for the representation choices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from .constants import SMPP_VERSION_34, CommandId
from .pdu_base import PDU
from .tlv import decode_tlvs
from .wire import (
    ADDRESS_RANGE,
    HEADER_SIZE,
    PASSWORD,
    SYSTEM_ID,
    SYSTEM_TYPE,
    U8X3,
)

__all__ = [
    "BindReceiver",
    "BindReceiverResp",
    "BindTransceiver",
    "BindTransceiverResp",
    "BindTransmitter",
    "BindTransmitterResp",
    "EnquireLink",
    "EnquireLinkResp",
    "GenericNack",
    "Outbind",
    "Unbind",
    "UnbindResp",
]


@dataclass(slots=True, kw_only=True)
class GenericNack(PDU):
    """Negative answer to a PDU whose header could not be used (spec 4.3)."""

    command_id: ClassVar[CommandId] = CommandId.GENERIC_NACK


@dataclass(slots=True, kw_only=True)
class EnquireLink(PDU):
    """Link keep-alive (spec 4.11)."""

    command_id: ClassVar[CommandId] = CommandId.ENQUIRE_LINK


@dataclass(slots=True, kw_only=True)
class EnquireLinkResp(PDU):
    command_id: ClassVar[CommandId] = CommandId.ENQUIRE_LINK_RESP


@dataclass(slots=True, kw_only=True)
class Unbind(PDU):
    """End of session (spec 4.2)."""

    command_id: ClassVar[CommandId] = CommandId.UNBIND


@dataclass(slots=True, kw_only=True)
class UnbindResp(PDU):
    command_id: ClassVar[CommandId] = CommandId.UNBIND_RESP


# --------------------------------------------------------------------------- bind / outbind


@dataclass(slots=True, kw_only=True)
class _Bind(PDU):
    """Layout shared by bind_transmitter, bind_receiver and bind_transceiver (spec 4.1)."""

    system_id: str = ""
    password: str = ""
    system_type: str = ""
    interface_version: int = SMPP_VERSION_34
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""

    def _encode_body(self) -> bytes:
        return b"".join(
            (
                SYSTEM_ID.encode(self.system_id),
                PASSWORD.encode(self.password),
                SYSTEM_TYPE.encode(self.system_type),
                U8X3.pack(self.interface_version, self.addr_ton, self.addr_npi),
                ADDRESS_RANGE.encode(self.address_range),
            )
        )

    @classmethod
    def _decode_body(cls, data: bytes, sequence_number: int, command_status: int, lenient: bool = False) -> Self:
        system_id, pos = SYSTEM_ID.read(data, HEADER_SIZE)
        password, pos = PASSWORD.read(data, pos)
        system_type, pos = SYSTEM_TYPE.read(data, pos)
        interface_version, addr_ton, addr_npi = U8X3.unpack_from(data, pos)
        address_range, pos = ADDRESS_RANGE.read(data, pos + 3)
        return cls(
            sequence_number=sequence_number,
            command_status=command_status,
            system_id=system_id,
            password=password,
            system_type=system_type,
            interface_version=interface_version,
            addr_ton=addr_ton,
            addr_npi=addr_npi,
            address_range=address_range,
            tlvs=decode_tlvs(data, pos, lenient),
        )


@dataclass(slots=True, kw_only=True)
class BindTransmitter(_Bind):
    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSMITTER


@dataclass(slots=True, kw_only=True)
class BindReceiver(_Bind):
    command_id: ClassVar[CommandId] = CommandId.BIND_RECEIVER


@dataclass(slots=True, kw_only=True)
class BindTransceiver(_Bind):
    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSCEIVER


@dataclass(slots=True, kw_only=True)
class _BindResp(PDU):
    """Layout shared by the three bind responses (spec 4.1.2, 4.1.4, 4.1.6).

    ``system_id=None`` means "body absent": the spec omits the body of a failed bind, and
    some SMSCs omit it on success too.  When encoding, None is written as an empty string
    if command_status is ESME_ROK (the field is then mandatory) and omitted otherwise.
    """

    system_id: str | None = None

    def _encode_body(self) -> bytes:
        if self.system_id is None and self.command_status and not self.tlvs:
            return b""
        return SYSTEM_ID.encode(self.system_id or "")

    @classmethod
    def _decode_body(cls, data: bytes, sequence_number: int, command_status: int, lenient: bool = False) -> Self:
        if len(data) == HEADER_SIZE:
            return cls(sequence_number=sequence_number, command_status=command_status)
        system_id, pos = SYSTEM_ID.read(data, HEADER_SIZE)
        return cls(
            sequence_number=sequence_number,
            command_status=command_status,
            system_id=system_id,
            tlvs=decode_tlvs(data, pos, lenient),
        )


@dataclass(slots=True, kw_only=True)
class BindTransmitterResp(_BindResp):
    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSMITTER_RESP


@dataclass(slots=True, kw_only=True)
class BindReceiverResp(_BindResp):
    command_id: ClassVar[CommandId] = CommandId.BIND_RECEIVER_RESP


@dataclass(slots=True, kw_only=True)
class BindTransceiverResp(_BindResp):
    command_id: ClassVar[CommandId] = CommandId.BIND_TRANSCEIVER_RESP


@dataclass(slots=True, kw_only=True)
class Outbind(PDU):
    """SMSC asks the ESME to bind (spec 4.1.7)."""

    command_id: ClassVar[CommandId] = CommandId.OUTBIND

    system_id: str = ""
    password: str = ""

    def _encode_body(self) -> bytes:
        return SYSTEM_ID.encode(self.system_id) + PASSWORD.encode(self.password)

    @classmethod
    def _decode_body(cls, data: bytes, sequence_number: int, command_status: int, lenient: bool = False) -> Self:
        system_id, pos = SYSTEM_ID.read(data, HEADER_SIZE)
        password, pos = PASSWORD.read(data, pos)
        return cls(
            sequence_number=sequence_number,
            command_status=command_status,
            system_id=system_id,
            password=password,
            tlvs=decode_tlvs(data, pos, lenient),
        )
