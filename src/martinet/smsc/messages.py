"""Short-message content as a handset network sees it: encoding, splitting, receipt excerpts.

The simulator needs this in both directions: mobile-originated messages it injects must be
encoded and split the way a real SMSC delivers them (GSM 03.38 septets one per octet, or UCS-2;
a 6-octet concatenation UDH with an 8-bit reference on each part), and the ``text:`` excerpt of
a receipt must be read back out of whatever the ESME submitted (UDH, SAR, message_payload).
"""

from __future__ import annotations

from typing import Final

import gsmcodecs  # noqa: F401  (registers the "gsm23.038" codec)

from martinet.smpp.constants import DataCoding, EsmClassFeature, Tag
from martinet.smpp.pdu import PDU, DataSm, DeliverSm, SubmitMulti, SubmitSm

__all__ = ["GSM_CODEC", "decode_text", "message_text", "mo_deliver_sms", "split_gsm", "split_ucs2"]

GSM_CODEC: Final = "gsm23.038"
_GSM_SINGLE, _GSM_PART = 160, 153  # septets; a part loses 7 to the UDH
_UCS2_SINGLE, _UCS2_PART = 140, 134  # octets
_ESCAPE: Final = 0x1B
_MAX_PARTS: Final = 255


def split_gsm(septets: bytes) -> list[bytes]:
    """Split unpacked GSM septets into parts, never between an escape and its character."""
    if len(septets) <= _GSM_SINGLE:
        return [septets]
    parts: list[bytes] = []
    start = 0
    while start < len(septets):
        end = min(start + _GSM_PART, len(septets))
        if end < len(septets) and septets[end - 1] == _ESCAPE and _escape_run(septets, start, end) % 2:
            end -= 1
        parts.append(septets[start:end])
        start = end
    return parts


def _escape_run(data: bytes, start: int, end: int) -> int:
    """Length of the run of ESC octets ending at ``end`` (an odd run ends in a dangling escape)."""
    run = 0
    while end - run - 1 >= start and data[end - run - 1] == _ESCAPE:
        run += 1
    return run


def split_ucs2(octets: bytes) -> list[bytes]:
    """Split UTF-16BE into parts, never between the two halves of a surrogate pair."""
    if len(octets) <= _UCS2_SINGLE:
        return [octets]
    parts: list[bytes] = []
    start = 0
    while start < len(octets):
        end = min(start + _UCS2_PART, len(octets))
        if end < len(octets) and 0xD8 <= octets[end - 2] <= 0xDB:
            end -= 2
        parts.append(octets[start:end])
        start = end
    return parts


def mo_deliver_sms(source: str, destination: str, text: str, *, reference: int) -> list[DeliverSm]:
    """The deliver_sm PDUs an SMSC sends for a mobile-originated ``text``.

    GSM 03.38 when every character has a septet, UCS-2 otherwise; longer than one SMS, split
    with a concatenation UDH (8-bit ``reference``), esm_class UDHI.  Raises ValueError beyond
    255 parts.
    """
    try:
        payload = text.encode(GSM_CODEC)
        coding, parts = DataCoding.SMSC_DEFAULT, split_gsm(payload)
    except UnicodeEncodeError:
        payload = text.encode("utf-16-be", "surrogatepass")
        coding, parts = DataCoding.UCS2, split_ucs2(payload)
    if len(parts) > _MAX_PARTS:
        raise ValueError(f"text needs {len(parts)} parts; a concatenated SMS has at most {_MAX_PARTS}")

    def part(short_message: bytes, esm_class: int = 0) -> DeliverSm:
        return DeliverSm(
            source_addr_ton=1 if source.isdigit() else 5,
            source_addr_npi=1 if source.isdigit() else 0,
            source_addr=source,
            dest_addr_ton=1 if destination.isdigit() else 0,
            dest_addr_npi=1 if destination.isdigit() else 0,
            destination_addr=destination,
            esm_class=esm_class,
            data_coding=coding,
            short_message=short_message,
        )

    if len(parts) == 1:
        return [part(parts[0])]
    total, ref = len(parts), reference & 0xFF
    udhi = EsmClassFeature.UDHI
    return [part(bytes((5, 0, 3, ref, total, n)) + chunk, udhi) for n, chunk in enumerate(parts, start=1)]


def decode_text(octets: bytes, data_coding: int) -> str:
    """Best-effort text of message octets; never raises (receipt excerpts, logs)."""
    if data_coding == DataCoding.UCS2:
        return octets.decode("utf-16-be", "replace")
    if data_coding == DataCoding.SMSC_DEFAULT:
        return octets.decode(GSM_CODEC, "replace")
    if data_coding in (DataCoding.IA5, DataCoding.LATIN_1):
        return octets.decode("latin-1")
    return octets.hex()  # binary or an alphabet we do not decode


def message_text(pdu: PDU) -> str:
    """The text a submit_sm, submit_multi or data_sm carries, UDH removed."""
    if isinstance(pdu, SubmitSm | SubmitMulti):
        octets, esm_class, coding = pdu.short_message, pdu.esm_class, pdu.data_coding
        if not octets:
            octets = _payload(pdu)
    elif isinstance(pdu, DataSm):
        octets, esm_class, coding = _payload(pdu), pdu.esm_class, pdu.data_coding
    else:
        return ""
    if esm_class & EsmClassFeature.UDHI and octets:
        octets = octets[1 + octets[0] :]
    return decode_text(octets, coding)


def _payload(pdu: PDU) -> bytes:
    value = pdu.get_tlv(Tag.MESSAGE_PAYLOAD)
    return value if isinstance(value, bytes) else b""
