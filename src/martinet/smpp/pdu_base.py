"""The PDU base class shared by every command (spec 3.2: header; 5.3: optional parameters)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from .constants import RESPONSE_BIT, CommandId
from .tlv import TLV, TLVValue, decode_tlvs
from .wire import HEADER_SIZE

__all__ = ["PDU"]


@dataclass(slots=True, kw_only=True)
class PDU:
    """Fields common to every PDU: the header (minus command_length) and the TLVs.

    ``command_status`` is a plain ``int`` (compare it with :class:`CommandStatus` members):
    peers send vendor codes no enum lists.  ``tlvs`` keep wire order.
    """

    command_id: ClassVar[CommandId]

    sequence_number: int = 0
    command_status: int = 0
    tlvs: tuple[TLV, ...] = ()

    @property
    def command_name(self) -> str:
        """Spec name of the command, e.g. ``"submit_sm_resp"``."""
        return self.command_id.name.lower()

    @property
    def is_response(self) -> bool:
        """True for ``*_resp`` and ``generic_nack`` (bit 31 of command_id)."""
        return bool(self.command_id & RESPONSE_BIT)

    def get_tlv(self, tag: int) -> TLVValue | None:
        """Value of the first TLV with ``tag``, or None."""
        for tlv in self.tlvs:
            if tlv.tag == tag:
                return tlv.value
        return None

    def _encode_body(self) -> bytes:
        """Mandatory body octets (TLVs excluded); header-only PDUs have none."""
        return b""

    @classmethod
    def _decode_body(cls, data: bytes, sequence_number: int, command_status: int, lenient: bool = False) -> Self:
        """Build the PDU from a complete frame whose header is already validated."""
        return cls(
            sequence_number=sequence_number,
            command_status=command_status,
            tlvs=decode_tlvs(data, HEADER_SIZE, lenient),
        )
