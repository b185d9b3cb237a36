"""Optional parameters (TLVs) of SMPP 3.4, section 5.3.

A TLV is kept as ``TLV(tag, value)`` in the order it arrived, so re-encoding a decoded PDU
reproduces its bytes.  Tags of the spec get a typed value -- ``int`` for Integer fields,
``str`` for C-octet strings (without the NUL), ``bytes`` for octet strings, ``b""`` for the
zero-length ``alert_on_message_delivery`` -- and the decoder checks their length against the
spec.  Vendor-specific tags (0x1400-0x3FFF) and tags we do not know carry raw ``bytes``: we
cannot check what we do not know, and keeping them opaque lets them round-trip.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from struct import Struct
from types import MappingProxyType
from typing import Final, NamedTuple

from .constants import VENDOR_TAG_MAX, VENDOR_TAG_MIN, CommandStatus, Tag
from .errors import TLVError

__all__ = [
    "TLV",
    "TLV_SPECS",
    "TLV_SPECS_BY_NAME",
    "TLVKind",
    "TLVSpec",
    "TLVValue",
    "decode_tlvs",
    "encode_tlvs",
]

TLVValue = int | str | bytes

_TAG_LENGTH: Final = Struct(">HH")
_MAX_TLV_LENGTH: Final = 0xFFFF


class TLVKind(Enum):
    """Value types used by the spec's TLV definitions."""

    INT1 = 1
    INT2 = 2
    INT4 = 4
    CSTRING = "cstring"
    OCTETS = "octets"
    EMPTY = "empty"


_INT_SIZES: Final = {TLVKind.INT1: 1, TLVKind.INT2: 2, TLVKind.INT4: 4}


@dataclass(frozen=True, slots=True)
class TLVSpec:
    """How one standard tag is typed; sizes are octets on the wire (NUL included)."""

    tag: int
    name: str
    kind: TLVKind
    min_size: int = 0
    max_size: int = _MAX_TLV_LENGTH


def _specs() -> tuple[TLVSpec, ...]:
    i1, i2, i4 = TLVKind.INT1, TLVKind.INT2, TLVKind.INT4
    cs, oc = TLVKind.CSTRING, TLVKind.OCTETS
    t = Tag
    return (
        TLVSpec(t.DEST_ADDR_SUBUNIT, "dest_addr_subunit", i1, 1, 1),
        TLVSpec(t.DEST_NETWORK_TYPE, "dest_network_type", i1, 1, 1),
        TLVSpec(t.DEST_BEARER_TYPE, "dest_bearer_type", i1, 1, 1),
        TLVSpec(t.DEST_TELEMATICS_ID, "dest_telematics_id", i2, 2, 2),
        TLVSpec(t.SOURCE_ADDR_SUBUNIT, "source_addr_subunit", i1, 1, 1),
        TLVSpec(t.SOURCE_NETWORK_TYPE, "source_network_type", i1, 1, 1),
        TLVSpec(t.SOURCE_BEARER_TYPE, "source_bearer_type", i1, 1, 1),
        TLVSpec(t.SOURCE_TELEMATICS_ID, "source_telematics_id", i1, 1, 1),
        TLVSpec(t.QOS_TIME_TO_LIVE, "qos_time_to_live", i4, 4, 4),
        TLVSpec(t.PAYLOAD_TYPE, "payload_type", i1, 1, 1),
        TLVSpec(t.ADDITIONAL_STATUS_INFO_TEXT, "additional_status_info_text", cs, 1, 256),
        TLVSpec(t.RECEIPTED_MESSAGE_ID, "receipted_message_id", cs, 1, 65),
        TLVSpec(t.MS_MSG_WAIT_FACILITIES, "ms_msg_wait_facilities", i1, 1, 1),
        TLVSpec(t.PRIVACY_INDICATOR, "privacy_indicator", i1, 1, 1),
        TLVSpec(t.SOURCE_SUBADDRESS, "source_subaddress", oc, 2, 23),
        TLVSpec(t.DEST_SUBADDRESS, "dest_subaddress", oc, 2, 23),
        TLVSpec(t.USER_MESSAGE_REFERENCE, "user_message_reference", i2, 2, 2),
        TLVSpec(t.USER_RESPONSE_CODE, "user_response_code", i1, 1, 1),
        TLVSpec(t.SOURCE_PORT, "source_port", i2, 2, 2),
        TLVSpec(t.DESTINATION_PORT, "destination_port", i2, 2, 2),
        TLVSpec(t.SAR_MSG_REF_NUM, "sar_msg_ref_num", i2, 2, 2),
        TLVSpec(t.LANGUAGE_INDICATOR, "language_indicator", i1, 1, 1),
        TLVSpec(t.SAR_TOTAL_SEGMENTS, "sar_total_segments", i1, 1, 1),
        TLVSpec(t.SAR_SEGMENT_SEQNUM, "sar_segment_seqnum", i1, 1, 1),
        TLVSpec(t.SC_INTERFACE_VERSION, "sc_interface_version", i1, 1, 1),
        TLVSpec(t.CALLBACK_NUM_PRES_IND, "callback_num_pres_ind", i1, 1, 1),
        TLVSpec(t.CALLBACK_NUM_ATAG, "callback_num_atag", oc, 0, 65),
        TLVSpec(t.NUMBER_OF_MESSAGES, "number_of_messages", i1, 1, 1),
        TLVSpec(t.CALLBACK_NUM, "callback_num", oc, 4, 19),
        TLVSpec(t.DPF_RESULT, "dpf_result", i1, 1, 1),
        TLVSpec(t.SET_DPF, "set_dpf", i1, 1, 1),
        TLVSpec(t.MS_AVAILABILITY_STATUS, "ms_availability_status", i1, 1, 1),
        TLVSpec(t.NETWORK_ERROR_CODE, "network_error_code", oc, 3, 3),
        TLVSpec(t.MESSAGE_PAYLOAD, "message_payload", oc),
        TLVSpec(t.DELIVERY_FAILURE_REASON, "delivery_failure_reason", i1, 1, 1),
        TLVSpec(t.MORE_MESSAGES_TO_SEND, "more_messages_to_send", i1, 1, 1),
        TLVSpec(t.MESSAGE_STATE, "message_state", i1, 1, 1),
        # The spec calls ussd_service_op a one-octet "Octet String"; its values are small
        # enumerated numbers, so an int is the useful representation.
        TLVSpec(t.USSD_SERVICE_OP, "ussd_service_op", i1, 1, 1),
        TLVSpec(t.DISPLAY_TIME, "display_time", i1, 1, 1),
        TLVSpec(t.SMS_SIGNAL, "sms_signal", i2, 2, 2),
        TLVSpec(t.MS_VALIDITY, "ms_validity", i1, 1, 1),
        TLVSpec(t.ALERT_ON_MESSAGE_DELIVERY, "alert_on_message_delivery", TLVKind.EMPTY, 0, 0),
        TLVSpec(t.ITS_REPLY_TYPE, "its_reply_type", i1, 1, 1),
        TLVSpec(t.ITS_SESSION_INFO, "its_session_info", oc, 2, 2),
    )


#: Standard tags by number and by spec name; read-only so no caller can alter the codec.
TLV_SPECS: Final[Mapping[int, TLVSpec]] = MappingProxyType({s.tag: s for s in _specs()})
TLV_SPECS_BY_NAME: Final[Mapping[str, TLVSpec]] = MappingProxyType({s.name: s for s in _specs()})


def _decode_value(tag: int, data: bytes, start: int, end: int) -> TLVValue:
    """Turn the value octets ``data[start:end]`` of ``tag`` into its typed value."""
    spec = TLV_SPECS.get(tag)
    if spec is None:
        return data[start:end]
    length = end - start
    if length < spec.min_size or length > spec.max_size:
        raise TLVError(
            f"{spec.name} (0x{tag:04X}) has length {length}, expected "
            + (f"{spec.min_size}" if spec.min_size == spec.max_size else f"{spec.min_size}-{spec.max_size}"),
            tag=tag,
            command_status=CommandStatus.ESME_RINVPARLEN,
        )
    kind = spec.kind
    if kind is TLVKind.INT1:
        return data[start]
    if kind is TLVKind.OCTETS or kind is TLVKind.EMPTY:
        return data[start:end]
    if kind is TLVKind.CSTRING:
        # The NUL must be the last octet and the only one, else re-encoding would differ.
        if data.find(0, start, end) != end - 1:
            raise TLVError(
                f"{spec.name} (0x{tag:04X}) is not a NUL-terminated string",
                tag=tag,
                command_status=CommandStatus.ESME_RINVOPTPARAMVAL,
            )
        return data[start : end - 1].decode("latin-1")
    return int.from_bytes(data[start:end], "big")


def _encode_value(tag: int, value: TLVValue) -> bytes:
    """Return the value octets of one TLV, checking it against the tag's spec."""
    spec = TLV_SPECS.get(tag)
    if spec is None:
        if not isinstance(value, bytes):
            raise TLVError(
                f"tag 0x{tag:04X} is not a standard SMPP 3.4 tag; its value must be bytes",
                tag=tag,
                command_status=CommandStatus.ESME_RINVOPTPARAMVAL,
            )
        raw = value
    elif spec.kind in _INT_SIZES:
        if not isinstance(value, int):
            raise _bad_value(spec, value, "an int")
        try:
            raw = value.to_bytes(_INT_SIZES[spec.kind], "big")
        except OverflowError:
            raise _bad_value(spec, value, f"an unsigned {_INT_SIZES[spec.kind]}-octet int") from None
    elif spec.kind is TLVKind.CSTRING:
        if not isinstance(value, str):
            raise _bad_value(spec, value, "a str")
        try:
            encoded = value.encode("latin-1")
        except UnicodeEncodeError:
            raise _bad_value(spec, value, "a Latin-1 str") from None
        if 0 in encoded:  # an int: cheaper for `bytes.__contains__` than a one-byte bytes operand
            raise _bad_value(spec, value, "a str without NUL")
        raw = encoded + b"\0"
    else:
        if not isinstance(value, bytes):
            raise _bad_value(spec, value, "bytes")
        raw = value
    if spec is not None and not spec.min_size <= len(raw) <= spec.max_size:
        raise TLVError(
            f"{spec.name} (0x{tag:04X}) would be {len(raw)} octets, allowed {spec.min_size}-{spec.max_size}",
            tag=tag,
            command_status=CommandStatus.ESME_RINVPARLEN,
        )
    if len(raw) > _MAX_TLV_LENGTH:
        raise TLVError(
            f"tag 0x{tag:04X}: value of {len(raw)} octets does not fit a TLV",
            tag=tag,
            command_status=CommandStatus.ESME_RINVPARLEN,
        )
    return raw


def _bad_value(spec: TLVSpec, value: object, expected: str) -> TLVError:
    return TLVError(
        f"{spec.name} (0x{spec.tag:04X}) must be {expected}, got {value!r}",
        tag=spec.tag,
        command_status=CommandStatus.ESME_RINVOPTPARAMVAL,
    )


class TLV(NamedTuple):
    """One optional parameter.  ``value`` is typed for standard tags, raw bytes otherwise.

    A NamedTuple rather than a frozen dataclass: equally immutable and typed, but built in
    a third of the time, which matters because a delivery receipt carries several TLVs.
    """

    tag: int
    value: TLVValue

    @property
    def name(self) -> str:
        """Spec name (``receipted_message_id``), or ``vendor_0x1401`` / ``unknown_0x0099``."""
        spec = TLV_SPECS.get(self.tag)
        if spec is not None:
            return spec.name
        kind = "vendor" if VENDOR_TAG_MIN <= self.tag <= VENDOR_TAG_MAX else "unknown"
        return f"{kind}_0x{self.tag:04x}"

    @classmethod
    def from_raw(cls, tag: int, raw: bytes) -> TLV:
        """Build a TLV from its value octets, typed and checked as the decoder would."""
        return cls(tag, _decode_value(tag, raw, 0, len(raw)))

    def to_bytes(self) -> bytes:
        """Encode tag, length and value."""
        if not 0 <= self.tag <= 0xFFFF:
            raise TLVError(f"tag {self.tag} does not fit 16 bits", tag=self.tag)
        raw = _encode_value(self.tag, self.value)
        return _TAG_LENGTH.pack(self.tag, len(raw)) + raw


def decode_tlvs(data: bytes, pos: int, lenient: bool = False) -> tuple[TLV, ...]:
    """Decode the TLVs from ``pos`` to the end of ``data`` (the end of the PDU).

    ``lenient`` (a PDU read as its sender meant it, see `pdu.decode`) keeps a TLV whose value breaks its spec
    instead of refusing the PDU: a C-octet string without its NUL as the string it holds, any other as its raw
    octets (which readers of a typed value pass over). A stream whose lengths do not add up still fails."""
    end = len(data)
    if pos >= end:
        return ()
    read = _lenient_value if lenient else _decode_value
    tlvs: list[TLV] = []
    while pos < end:
        if end - pos < 4:
            raise TLVError(
                f"{end - pos} trailing octets cannot hold a TLV header",
                tag=None,
                command_status=CommandStatus.ESME_RINVOPTPARSTREAM,
            )
        tag, length = _TAG_LENGTH.unpack_from(data, pos)
        start = pos + 4
        pos = start + length
        if pos > end:
            raise TLVError(
                f"TLV 0x{tag:04X} declares {length} octets but only {end - start} remain",
                tag=tag,
                command_status=CommandStatus.ESME_RINVOPTPARSTREAM,
            )
        tlvs.append(TLV(tag, read(tag, data, start, pos)))
    return tuple(tlvs)


def _lenient_value(tag: int, data: bytes, start: int, end: int) -> TLVValue:
    try:
        return _decode_value(tag, data, start, end)
    except TLVError:
        spec = TLV_SPECS.get(tag)
        raw = data[start:end]
        if spec is not None and spec.kind is TLVKind.CSTRING and len(raw) < spec.max_size:
            return raw.rstrip(b"\0").decode("latin-1")  # SMSCs that leave out (or double) the NUL
        return raw


def encode_tlvs(tlvs: Iterable[TLV]) -> bytes:
    """Encode TLVs in the given order."""
    return b"".join([tlv.to_bytes() for tlv in tlvs])
