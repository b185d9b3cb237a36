"""Which concatenated message a PDU is a part of: (reference, total, seq) from its UDH or its SAR TLVs.

Read by both ends: the gateway reassembling replies (`connectors.smpp.concat`) and the SMSC simulator recognising
the parts of one submission, for carriers whose receipts are per message rather than per part.
"""

from __future__ import annotations

from typing import Final

from .constants import EsmClassFeature, Tag
from .pdu import PDU

__all__ = ["IEI_CONCAT_8", "IEI_CONCAT_16", "concatenation_of", "from_sar", "from_udh"]

IEI_CONCAT_8: Final = 0x00
IEI_CONCAT_16: Final = 0x08


def from_udh(header: bytes) -> tuple[int, int, int] | None:
    """(reference, total, seq) from the information elements of a UDH (without its length octet)."""
    position = 0
    while position + 2 <= len(header):
        iei, length = header[position], header[position + 1]
        data = header[position + 2 : position + 2 + length]
        if len(data) < length:
            return None
        if iei == IEI_CONCAT_8 and length == 3:
            return data[0], data[1], data[2]
        if iei == IEI_CONCAT_16 and length == 4:
            return (data[0] << 8) | data[1], data[2], data[3]
        position += 2 + length
    return None


def from_sar(pdu: PDU) -> tuple[int, int, int] | None:
    """(reference, total, seq) from the SAR TLVs, when all three are there."""
    values = (
        pdu.get_tlv(Tag.SAR_MSG_REF_NUM),
        pdu.get_tlv(Tag.SAR_TOTAL_SEGMENTS),
        pdu.get_tlv(Tag.SAR_SEGMENT_SEQNUM),
    )
    reference, total, seq = (_sar_number(value) for value in values)
    if reference is not None and total is not None and seq is not None:
        return reference, total, seq
    return None


def _sar_number(value: object) -> int | None:
    """A SAR TLV's number; also from the raw octets a lenient decoding kept when a carrier sent it in one octet
    too few or too many (a one-octet `sar_msg_ref_num`)."""
    if isinstance(value, int):
        return value
    if isinstance(value, bytes) and 1 <= len(value) <= 2:
        return int.from_bytes(value, "big")
    return None


def concatenation_of(esm_class: int, body: bytes, pdu: PDU) -> tuple[int, int, int] | None:
    """The part of a concatenated message that `pdu` (whose text octets are `body`) carries, or None when it is
    a message of its own: the UDH wins over SAR TLVs; a part numbered outside 1..total, or announcing fewer than
    two parts, is a plain message."""
    if esm_class & EsmClassFeature.UDHI and body and body[0] + 1 <= len(body):
        concat = from_udh(body[1 : body[0] + 1])
    else:
        concat = from_sar(pdu)
    if concat is None or concat[1] < 2 or not 1 <= concat[2] <= concat[1]:
        return None
    return concat
