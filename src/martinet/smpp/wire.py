"""Wire primitives shared by the PDU and TLV codecs.

Everything here is chosen for speed on the submit_sm/deliver_sm path: precompiled ``Struct``
objects for runs of fixed-size integers, and ``bytes.find(0, start, limit)`` to locate a
C-octet string terminator in C instead of walking bytes in Python.  Strings are decoded as
Latin-1 because it maps every octet to one code point: decoding can never raise, and
encode(decode(x)) == x, so odd bytes sent by a peer survive a round trip instead of
turning into UnicodeDecodeError or replacement characters.
"""

from __future__ import annotations

from struct import Struct
from typing import Final

from .constants import CommandStatus
from .errors import FieldTooLong, InvalidField, InvalidMessageLength, MissingNulTerminator

__all__ = [
    "ADDRESS_RANGE",
    "DEFAULT_MAX_COMMAND_LENGTH",
    "DESTINATION_ADDR",
    "DESTINATION_ADDR_65",
    "DL_NAME",
    "ESME_ADDR",
    "FINAL_DATE",
    "HEADER",
    "HEADER_SIZE",
    "MAX_SHORT_MESSAGE",
    "MESSAGE_ID",
    "PASSWORD",
    "SCHEDULE_DELIVERY_TIME",
    "SERVICE_TYPE",
    "SOURCE_ADDR",
    "SOURCE_ADDR_65",
    "SYSTEM_ID",
    "SYSTEM_TYPE",
    "U8",
    "U8X2",
    "U8X3",
    "U8X4",
    "U8X5",
    "U32",
    "VALIDITY_PERIOD",
    "CString",
    "read_octets",
    "short_message_octets",
]

#: command_length, command_id, command_status, sequence_number (spec 3.2).
HEADER: Final = Struct(">IIII")
HEADER_SIZE: Final = 16

#: Largest PDU accepted by default.  The spec sets no limit; 64 KiB fits any legal
#: submit_sm/deliver_sm and bounds the memory a hostile peer can make us buffer.
DEFAULT_MAX_COMMAND_LENGTH: Final = 64 * 1024

#: short_message is "Var. 0-254" octets (spec 4.4.1).  sm_length is one octet, so a peer
#: can announce 255; the decoder accepts that, the encoder follows the spec.
MAX_SHORT_MESSAGE: Final = 254

U8: Final = Struct(">B")
U8X2: Final = Struct(">BB")
U8X3: Final = Struct(">BBB")
U8X4: Final = Struct(">BBBB")
U8X5: Final = Struct(">BBBBB")
U32: Final = Struct(">I")

_TIME_LENGTH: Final = 16  # "YYMMDDhhmmsstnnp" (spec 7.1)


class CString:
    """A C-octet string field of the mandatory body: its spec name, size and error status.

    ``size`` is the spec's "Var. max N", which counts the terminating NUL, so the longest
    value is ``size - 1`` characters.  ``time`` fields (spec 7.1) must be empty or exactly
    16 characters.  ``status`` is what a peer sending a bad value must be answered with.
    """

    __slots__ = ("name", "size", "status", "time")

    def __init__(self, name: str, size: int, status: CommandStatus, *, time: bool = False) -> None:
        self.name = name
        self.size = size
        self.status = status
        self.time = time

    def read(self, data: bytes, pos: int) -> tuple[str, int]:
        """Return the string starting at ``pos`` and the offset just past its NUL."""
        nul = data.find(0, pos, pos + self.size)
        if nul == pos:  # empty: the common case for service_type and the time fields
            return "", nul + 1
        if nul < 0:
            raise self._unterminated(data, pos)
        if self.time and nul - pos != _TIME_LENGTH:
            raise InvalidField(
                f"{self.name} must be empty or {_TIME_LENGTH} characters, got {nul - pos}",
                field=self.name,
                command_status=self.status,
            )
        return data[pos:nul].decode("latin-1"), nul + 1

    def encode(self, value: str) -> bytes:
        """Return ``value`` with its NUL terminator, refusing what the spec forbids."""
        if value == "":
            return b"\0"
        try:
            raw = value.encode("latin-1")
        except UnicodeEncodeError:
            raise InvalidField(
                f"{self.name} has characters outside Latin-1: {value!r}",
                field=self.name,
                command_status=self.status,
            ) from None
        if len(raw) >= self.size:
            raise FieldTooLong(
                f"{self.name} is {len(raw)} octets, at most {self.size - 1} allowed",
                field=self.name,
                command_status=self.status,
            )
        if 0 in raw:  # an int: a one-byte bytes operand would cost `bytes.__contains__` a TypeError first
            raise InvalidField(f"{self.name} contains a NUL octet", field=self.name, command_status=self.status)
        if self.time and raw and len(raw) != _TIME_LENGTH:
            raise InvalidField(
                f"{self.name} must be empty or {_TIME_LENGTH} characters, got {len(raw)}",
                field=self.name,
                command_status=self.status,
            )
        return raw + b"\0"

    def _unterminated(self, data: bytes, pos: int) -> InvalidField:
        # Two different faults look alike: the body ended first (command_length too small
        # for the mandatory fields) or the string simply runs past its maximum size.
        if len(data) < pos + self.size:
            return MissingNulTerminator(f"body ends inside {self.name} (no NUL terminator)", field=self.name)
        return FieldTooLong(
            f"{self.name} has no NUL within its maximum of {self.size} octets",
            field=self.name,
            command_status=self.status,
        )

    def __repr__(self) -> str:
        return f"CString({self.name!r}, {self.size})"


def short_message_octets(short_message: bytes) -> bytes:
    """sm_length followed by short_message, refusing what sm_length cannot express."""
    if len(short_message) > MAX_SHORT_MESSAGE:
        raise InvalidMessageLength(
            f"short_message is {len(short_message)} octets, at most {MAX_SHORT_MESSAGE} allowed "
            "(use the message_payload TLV for longer content)",
            field="short_message",
        )
    return U8.pack(len(short_message)) + short_message


def read_octets(data: bytes, pos: int, length: int) -> tuple[bytes, int]:
    """Return ``length`` octets at ``pos`` (the short_message announced by sm_length)."""
    end = pos + length
    if end > len(data):
        raise InvalidMessageLength(
            f"sm_length is {length} but only {max(len(data) - pos, 0)} octets remain in the body",
            field="short_message",
        )
    return data[pos:end], end


_S = CommandStatus

# Maximum sizes (including the NUL) from the PDU tables of spec section 4.
SYSTEM_ID: Final = CString("system_id", 16, _S.ESME_RINVSYSID)
PASSWORD: Final = CString("password", 9, _S.ESME_RINVPASWD)
SYSTEM_TYPE: Final = CString("system_type", 13, _S.ESME_RINVSYSTYP)
ADDRESS_RANGE: Final = CString("address_range", 41, _S.ESME_RINVPARLEN)
SERVICE_TYPE: Final = CString("service_type", 6, _S.ESME_RINVSERTYP)
SOURCE_ADDR: Final = CString("source_addr", 21, _S.ESME_RINVSRCADR)
DESTINATION_ADDR: Final = CString("destination_addr", 21, _S.ESME_RINVDSTADR)
# data_sm and alert_notification allow longer addresses (spec 4.7.1, 4.12.1).
SOURCE_ADDR_65: Final = CString("source_addr", 65, _S.ESME_RINVSRCADR)
DESTINATION_ADDR_65: Final = CString("destination_addr", 65, _S.ESME_RINVDSTADR)
ESME_ADDR: Final = CString("esme_addr", 65, _S.ESME_RINVDSTADR)
DL_NAME: Final = CString("dl_name", 21, _S.ESME_RINVDLNAME)
MESSAGE_ID: Final = CString("message_id", 65, _S.ESME_RINVMSGID)
SCHEDULE_DELIVERY_TIME: Final = CString("schedule_delivery_time", 17, _S.ESME_RINVSCHED, time=True)
VALIDITY_PERIOD: Final = CString("validity_period", 17, _S.ESME_RINVEXPIRY, time=True)
FINAL_DATE: Final = CString("final_date", 17, _S.ESME_RINVPARLEN, time=True)
