"""Typed errors of the SMPP codec.

Two families, because the session must react to them differently:

* :class:`IncompletePDU` -- the bytes are a valid *prefix* of a PDU; wait for more data.
  It is not a :class:`PDUError` so that ``except PDUError`` never swallows "need more".
* :class:`PDUError` -- the bytes (or the PDU being encoded) break the specification.  Each
  instance carries the ``command_status`` the session must put in its answer, plus the
  ``command_id`` and ``sequence_number`` of the offending PDU when they could be read, so the
  session can build a ``generic_nack`` or the matching ``*_resp`` without re-parsing.
  ``fatal`` is true when the byte stream cannot be re-synchronised (the command_length itself
  is unusable); the session must then close the connection.

The decoder converts every low-level failure (struct.error, missing terminators, short reads)
into one of these, so callers never see IndexError/struct.error/UnicodeDecodeError.
"""

from __future__ import annotations

from .constants import CommandStatus

__all__ = [
    "FieldTooLong",
    "IncompletePDU",
    "InvalidCommandLength",
    "InvalidField",
    "InvalidMessageLength",
    "MissingNulTerminator",
    "PDUError",
    "SMPPError",
    "TLVError",
    "UnknownCommandId",
]


class SMPPError(Exception):
    """Base class of every error raised by :mod:`martinet.smpp`."""


class IncompletePDU(SMPPError):
    """Fewer bytes than the PDU needs; not an error of the peer, just "read more".

    ``needed`` is the total number of bytes required to make progress (the full
    command_length once the first four octets are known, else 4).
    """

    def __init__(self, available: int, needed: int) -> None:
        super().__init__(f"incomplete PDU: have {available} bytes, need {needed}")
        self.available = available
        self.needed = needed


class PDUError(SMPPError, ValueError):
    """A PDU that violates SMPP 3.4; ``command_status`` says what to answer."""

    default_status: CommandStatus = CommandStatus.ESME_RSYSERR

    def __init__(
        self,
        message: str,
        *,
        command_status: int | None = None,
        command_id: int | None = None,
        sequence_number: int | None = None,
        fatal: bool = False,
    ) -> None:
        super().__init__(message)
        self.command_status: int = self.default_status if command_status is None else command_status
        self.command_id = command_id
        self.sequence_number = sequence_number
        self.fatal = fatal

    def __str__(self) -> str:
        text = super().__str__()
        try:
            status = CommandStatus(self.command_status).name
        except ValueError:
            status = f"0x{self.command_status:08X}"
        return f"{text} [{status}]"


class InvalidCommandLength(PDUError):
    """command_length below 16, above the configured maximum, or disagreeing with the body.

    Header-level problems are ``fatal`` (framing is lost); a body that ends before its
    mandatory fields do is not (the frame is still delimited and can be skipped).
    """

    default_status = CommandStatus.ESME_RINVCMDLEN


class UnknownCommandId(PDUError):
    """command_id not defined by SMPP 3.4; the frame is skipped, answer ``generic_nack``."""

    default_status = CommandStatus.ESME_RINVCMDID


class InvalidField(PDUError):
    """A mandatory field has an invalid value; ``field`` names it (None if unknown)."""

    def __init__(self, message: str, *, field: str | None, command_status: int | None = None) -> None:
        super().__init__(message, command_status=command_status)
        self.field = field


class FieldTooLong(InvalidField):
    """A C-octet string exceeds its maximum size (spec 4.x field tables)."""


class MissingNulTerminator(InvalidField):
    """The body ends inside a C-octet string: command_length cut the field short."""

    default_status = CommandStatus.ESME_RINVCMDLEN


class InvalidMessageLength(InvalidField):
    """sm_length disagrees with the body, or short_message is too long to encode."""

    default_status = CommandStatus.ESME_RINVMSGLEN


class TLVError(PDUError):
    """A malformed optional parameter; ``tag`` is None when even the tag was unreadable.

    Status is ESME_RINVOPTPARSTREAM for a truncated TLV, ESME_RINVPARLEN for a length that
    disagrees with the tag's type, ESME_RINVOPTPARAMVAL for a bad value.
    """

    default_status = CommandStatus.ESME_RINVOPTPARSTREAM

    def __init__(self, message: str, *, tag: int | None, command_status: int | None = None) -> None:
        super().__init__(message, command_status=command_status)
        self.tag = tag
