"""SMPP 3.4 PDUs as typed dataclasses, and the functions that turn them into bytes and back.

Representation: one ``@dataclass(slots=True, kw_only=True)`` per PDU type.  Compared with a
single generic class holding a command name and a dict of fields, this gives attribute
names and types that mypy checks (``pdu.short_message`` is ``bytes``; a typo is a type
error, not a KeyError at run time), IDE completion, and cheap construction: each decoder
calls its class with explicit keyword arguments, which CPython handles about twice as fast
as ``cls(**fields)``.  Field names are the spec's, in snake_case.

The classes are deliberately *not* ``frozen``: a frozen dataclass assigns each field through
``object.__setattr__`` and, measured on submit_sm (20 fields), that alone added ~1.7 µs to
every decode.  Treat PDUs as values all the same: nested collections (``tlvs``,
``dest_address``, ``unsuccess_sme``) are tuples, and ``dataclasses.replace`` makes a copy.

Derived fields are not stored: command_length, sm_length, number_of_dests and no_unsuccess
are computed by :func:`encode` (and exposed as read-only properties where useful), so a PDU
can never disagree with itself.

Each class carries its own wire layout in ``_decode_body``/``_encode_body`` written as
straight-line code that reads like the spec's field table; shared layouts live in private
base classes (``_Bind``, ``_ShortMessage``, ``_MessageIdResp``).  The classes live in
``pdu_session`` (bind, unbind, enquire_link, generic_nack, outbind), ``pdu_message``
(submit_sm, deliver_sm, submit_multi, data_sm) and ``pdu_ancillary`` (query_sm, cancel_sm,
replace_sm, alert_notification); this module holds the registry and the codec entry points
and re-exports every class.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from .constants import RESPONSE_BIT, CommandStatus
from .errors import IncompletePDU, InvalidCommandLength, InvalidField, PDUError, UnknownCommandId
from .pdu_ancillary import (
    AlertNotification,
    CancelSm,
    CancelSmResp,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
)
from .pdu_base import PDU
from .pdu_message import (
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    DistributionList,
    SmeAddress,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    UnsuccessSme,
)
from .pdu_session import (
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    Unbind,
    UnbindResp,
)
from .tlv import encode_tlvs
from .wire import DEFAULT_MAX_COMMAND_LENGTH, HEADER, HEADER_SIZE, U32

__all__ = [
    "PDU",
    "PDU_CLASSES",
    "AlertNotification",
    "BindReceiver",
    "BindReceiverResp",
    "BindTransceiver",
    "BindTransceiverResp",
    "BindTransmitter",
    "BindTransmitterResp",
    "CancelSm",
    "CancelSmResp",
    "DataSm",
    "DataSmResp",
    "DeliverSm",
    "DeliverSmResp",
    "DistributionList",
    "EnquireLink",
    "EnquireLinkResp",
    "GenericNack",
    "Outbind",
    "QuerySm",
    "QuerySmResp",
    "ReplaceSm",
    "ReplaceSmResp",
    "SmeAddress",
    "SubmitMulti",
    "SubmitMultiResp",
    "SubmitSm",
    "SubmitSmResp",
    "Unbind",
    "UnbindResp",
    "UnsuccessSme",
    "check_command_length",
    "decode",
    "encode",
    "error_response",
]


# --------------------------------------------------------------------------- registry and codec

_ALL_CLASSES: Final[tuple[type[PDU], ...]] = (
    GenericNack,
    BindReceiver,
    BindReceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    QuerySm,
    QuerySmResp,
    SubmitSm,
    SubmitSmResp,
    DeliverSm,
    DeliverSmResp,
    Unbind,
    UnbindResp,
    ReplaceSm,
    ReplaceSmResp,
    CancelSm,
    CancelSmResp,
    BindTransceiver,
    BindTransceiverResp,
    Outbind,
    EnquireLink,
    EnquireLinkResp,
    SubmitMulti,
    SubmitMultiResp,
    AlertNotification,
    DataSm,
    DataSmResp,
)

#: PDU class by command_id, read-only.
PDU_CLASSES: Final[Mapping[int, type[PDU]]] = MappingProxyType({c.command_id: c for c in _ALL_CLASSES})


def check_command_length(data: bytes | bytearray, max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH) -> int | None:
    """Validate the command_length at the start of ``data``; None if fewer than 4 octets.

    A command_length below 16 or above ``max_command_length`` means the stream can no longer
    be split into PDUs, so the error is ``fatal``.  Shared with :class:`PDUReader`, which
    must reject an absurd length *before* waiting for that many bytes.
    """
    available = len(data)
    if available < 4:
        return None
    (length,) = U32.unpack_from(data)
    if HEADER_SIZE <= length <= max_command_length:
        return int(length)
    command_id = sequence_number = None
    if available >= HEADER_SIZE:
        _, command_id, _, sequence_number = HEADER.unpack_from(data)
    raise InvalidCommandLength(
        f"command_length {length} outside {HEADER_SIZE}..{max_command_length}",
        command_id=command_id,
        sequence_number=sequence_number,
        fatal=True,
    )


def decode(data: bytes, *, max_command_length: int = DEFAULT_MAX_COMMAND_LENGTH, lenient: bool = False) -> PDU:
    """Decode exactly one PDU.

    Raises :class:`IncompletePDU` if ``data`` is a strict prefix of a PDU, and a
    :class:`PDUError` subclass (carrying the command_status to answer with) if it is
    malformed; never anything else.  Use :class:`~martinet.smpp.reader.PDUReader` for a
    byte stream.

    ``lenient`` reads what real SMSCs get wrong as they meant it, where the meaning is not in
    doubt: an optional parameter whose value breaks its spec (`tlv.decode_tlvs`), and a
    response's message_id without its NUL when nothing follows it. The mandatory fields of a
    request are still checked as the spec says.
    """
    available = len(data)
    if available < HEADER_SIZE:
        length = check_command_length(data, max_command_length)
        raise IncompletePDU(available, 4 if length is None else length)
    length, command_id, command_status, sequence_number = HEADER.unpack_from(data)
    if not HEADER_SIZE <= length <= max_command_length:
        check_command_length(data, max_command_length)  # raises the fatal error
    if available < length:
        raise IncompletePDU(available, length)
    if available > length:
        raise InvalidCommandLength(
            f"command_length is {length} but {available} octets were given",
            command_id=command_id,
            sequence_number=sequence_number,
        )
    cls = PDU_CLASSES.get(command_id)
    if cls is None:
        raise UnknownCommandId(
            f"unknown command_id 0x{command_id:08X}",
            command_id=command_id,
            sequence_number=sequence_number,
        )
    try:
        return cls._decode_body(data, sequence_number, command_status, lenient)
    except struct.error:
        # unpack_from ran past the end: the body is shorter than its fixed fields.
        raise InvalidCommandLength(
            f"{cls.command_id.name.lower()} body ({length - HEADER_SIZE} octets) ends inside its mandatory fields",
            command_id=command_id,
            sequence_number=sequence_number,
        ) from None
    except PDUError as exc:
        exc.command_id = command_id
        exc.sequence_number = sequence_number
        raise


def encode(pdu: PDU) -> bytes:
    """Encode a PDU, computing command_length and the other derived lengths.

    Raises a :class:`PDUError` subclass (usually :class:`InvalidField` naming the field) for
    values the spec forbids: over-long strings, out-of-range integers, bad TLV values.
    """
    try:
        body = pdu._encode_body()
        if pdu.tlvs:
            body += encode_tlvs(pdu.tlvs)
        return HEADER.pack(HEADER_SIZE + len(body), pdu.command_id, pdu.command_status, pdu.sequence_number) + body
    except PDUError as exc:
        exc.command_id = pdu.command_id
        exc.sequence_number = pdu.sequence_number
        raise
    except (struct.error, TypeError, AttributeError) as exc:
        raise _bad_value_error(pdu, exc) from exc


_STATUS_BY_INT_FIELD: Final[Mapping[str, CommandStatus]] = MappingProxyType(
    {
        "source_addr_ton": CommandStatus.ESME_RINVSRCTON,
        "source_addr_npi": CommandStatus.ESME_RINVSRCNPI,
        "dest_addr_ton": CommandStatus.ESME_RINVDSTTON,
        "dest_addr_npi": CommandStatus.ESME_RINVDSTNPI,
        "esm_class": CommandStatus.ESME_RINVESMCLASS,
        "priority_flag": CommandStatus.ESME_RINVPRTFLG,
        "registered_delivery": CommandStatus.ESME_RINVREGDLVFLG,
        "replace_if_present_flag": CommandStatus.ESME_RINVREPFLAG,
        "sm_default_msg_id": CommandStatus.ESME_RINVDFTMSGID,
    }
)
_HEADER_FIELDS: Final = frozenset({"sequence_number", "command_status"})


def _bad_value_error(pdu: PDU, exc: Exception) -> InvalidField:
    """Name the field behind a struct/type failure; only runs on the error path."""
    field_name: str | None = None
    for field in dataclasses.fields(pdu):
        value = getattr(pdu, field.name)
        limit = 0xFFFF_FFFF if field.name in _HEADER_FIELDS else 0xFF
        if isinstance(value, int) and not 0 <= value <= limit:
            field_name = field.name
            break
    error = InvalidField(
        f"cannot encode {pdu.command_name}: {field_name or 'a field'} is invalid ({exc})",
        field=field_name,
        command_status=_STATUS_BY_INT_FIELD.get(field_name or "", CommandStatus.ESME_RSYSERR),
    )
    error.command_id = pdu.command_id
    error.sequence_number = pdu.sequence_number
    return error


def error_response(error: PDUError) -> PDU | None:
    """The PDU a session should send back for a malformed PDU, or None to send nothing.

    Header-level faults (command_length, unknown command_id) and faults in PDUs that have no
    response of their own (outbind, alert_notification) get ``generic_nack``; a faulty
    request gets its own ``*_resp`` with the error's command_status and an empty body.  A
    faulty response or generic_nack is not answered: the spec has nothing to answer it with,
    and answering risks a nack loop.
    """
    sequence_number = error.sequence_number or 0
    command_id = error.command_id
    header_fault = error.command_status in (CommandStatus.ESME_RINVCMDLEN, CommandStatus.ESME_RINVCMDID)
    if command_id is not None and command_id & RESPONSE_BIT and command_id in PDU_CLASSES:
        return None
    response_cls = None if command_id is None else PDU_CLASSES.get(command_id | RESPONSE_BIT)
    if header_fault or response_cls is None or response_cls is GenericNack:
        return GenericNack(sequence_number=sequence_number, command_status=error.command_status)
    return response_cls(sequence_number=sequence_number, command_status=error.command_status)
