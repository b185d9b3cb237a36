"""Carrier message IDs, normalised per connector, and the ways a receipt may write the ID of its part.

SMPP says nothing about the form of a message ID, and SMSCs are inconsistent with themselves: the ID given in
submit_sm_resp as `0A1B` may come back in the receipt as `0a1b`, `00000A1B`, or as the same number in decimal,
`2587` (the "hex in the response, decimal in the receipt" behaviour behind Kannel's `msg-id-type`). The store keeps
one canonical form per part, written with `normalise`; a receipt's ID is turned into the canonical form of its part
by a **reading** (`Reading`): how this carrier writes, in its receipts, the ID it gave in submit_sm_resp.

| reading   | the receipt writes the part's ID…                    | canonical form looked up for receipt `16` |
|-----------|------------------------------------------------------|--------------------------------------------|
| literal   | as given (case and leading zeros aside)              | `16`                                       |
| decimal   | as a decimal number, the response having it in hex   | `10` (16 written in hex)                   |
| hex       | as a hex number, the response having it in decimal   | `22` (0x16 written in decimal)             |

`message_id_format` (per connector) says which reading applies:

| format       | canonical form of a part (`normalise`)                          | reading of receipts     |
|--------------|-----------------------------------------------------------------|-------------------------|
| as_is        | surrounding spaces and NULs removed, nothing else               | literal                 |
| hex          | lower-case hex without leading zeros ("0x" allowed)             | literal                 |
| decimal      | decimal without leading zeros                                   | literal                 |
| hex_decimal  | as hex (the response is hex)                                    | decimal                 |
| decimal_hex  | as decimal (the response is decimal)                            | hex                     |
| auto         | hex-looking IDs lower-case without leading zeros; UUIDs         | learned per connector   |
|              | lower-case; anything else as_is                                 | (`id_learning`)         |

An ID that does not fit its format (not hex for `hex`, say) is kept as given. In auto mode the reading is not
guessed per receipt: a number like `272` is a valid ID under every reading (`272`, `110`, `626`), and for a carrier
whose counters start small all three name parts that exist. So `readings` gives every form a receipt's ID can
stand for, and the connector learns from traffic which reading its carrier uses (`id_learning`); until then, a
receipt with several readings is matched only where the handset it names settles it (the store's rule). IDs that
are not numbers (UUIDs, base-62 strings) have one reading; in auto mode only hex-looking IDs and UUIDs are
lower-cased, since case may matter in other alphabets. IDs longer than 64 characters are not converted (no SMSC
writes such numbers, and Python refuses to convert thousands of digits).
"""

from __future__ import annotations

import enum
import re
from typing import Final

__all__ = ["IdFormat", "Reading", "format_reading", "normalise", "readings"]

_HEX: Final = re.compile(r"[0-9A-Fa-f]+")
_DECIMAL: Final = re.compile(r"[0-9]+")
_UUID: Final = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_STRIP: Final = " \t\r\n\0"
#: receipted_message_id holds at most 64 characters; longer "numbers" are not converted.
_MAX_CONVERTED: Final = 64


class IdFormat(enum.StrEnum):
    """How a connector's SMSC writes message IDs (see the module table)."""

    AUTO = "auto"
    HEX = "hex"
    DECIMAL = "decimal"
    AS_IS = "as_is"
    HEX_DECIMAL = "hex_decimal"
    DECIMAL_HEX = "decimal_hex"


class Reading(enum.StrEnum):
    """How a receipt writes the ID its part was given in submit_sm_resp (see the module table)."""

    LITERAL = "literal"
    DECIMAL = "decimal"
    HEX = "hex"


#: The reading an explicit format implies; auto has none (it is learned).
_FORMAT_READING: Final = {
    IdFormat.AS_IS: Reading.LITERAL,
    IdFormat.HEX: Reading.LITERAL,
    IdFormat.DECIMAL: Reading.LITERAL,
    IdFormat.HEX_DECIMAL: Reading.DECIMAL,
    IdFormat.DECIMAL_HEX: Reading.HEX,
}


def format_reading(fmt: IdFormat | str) -> Reading | None:
    """The reading an explicit `message_id_format` implies, or None for auto (learned from traffic)."""
    return _FORMAT_READING.get(_as_format(fmt))


def _as_format(fmt: IdFormat | str) -> IdFormat:
    """Skips the enum's lookup when given a member: every submit_sm_resp and receipt ID goes through here."""
    return fmt if isinstance(fmt, IdFormat) else IdFormat(fmt)


def _without_zeros(digits: str) -> str:
    return digits.lstrip("0") or "0"


def _hex(message_id: str) -> str | None:
    """Canonical hex of `message_id`, or None when it is not hex."""
    digits = message_id[2:] if message_id[:2] in ("0x", "0X") and len(message_id) > 2 else message_id
    return _without_zeros(digits.lower()) if _HEX.fullmatch(digits) else None


def _decimal(message_id: str) -> str | None:
    return _without_zeros(message_id) if _DECIMAL.fullmatch(message_id) else None


def normalise(message_id: str, fmt: IdFormat | str = IdFormat.AUTO) -> str:
    """The canonical form of `message_id` (as given in submit_sm_resp) for a connector whose IDs are in `fmt`;
    never raises."""
    fmt = _as_format(fmt)
    stripped = message_id.strip(_STRIP)
    if fmt is IdFormat.AS_IS or not stripped:
        return stripped
    if fmt in (IdFormat.HEX, IdFormat.HEX_DECIMAL):
        return _hex(stripped) or stripped
    if fmt in (IdFormat.DECIMAL, IdFormat.DECIMAL_HEX):
        return _decimal(stripped) or stripped
    if _HEX.fullmatch(stripped):
        return _without_zeros(stripped.lower())
    if _UUID.fullmatch(stripped):
        return stripped.lower()
    return stripped


def readings(receipt_id: str, fmt: IdFormat | str = IdFormat.AUTO) -> dict[Reading, str]:
    """The canonical form of the part a receipt names, under each reading that can apply to `receipt_id`.

    With an explicit format there is exactly one entry (its reading; the literal form when the ID does not fit
    it). In auto mode: the literal form always, the decimal reading when the ID is decimal digits, the hex reading
    when it is hex digits. Readings that give the same form are kept once (the first in the table's order). An
    empty ID gives none; never raises.
    """
    fmt = _as_format(fmt)
    stripped = receipt_id.strip(_STRIP)
    if not stripped:
        return {}
    explicit = format_reading(fmt)
    if explicit is Reading.DECIMAL:
        decimal = _decimal(stripped)
        if decimal and len(decimal) <= _MAX_CONVERTED:
            return {explicit: format(int(decimal), "x")}
        return _as_given(fmt, stripped)
    if explicit is Reading.HEX:
        hexed = _hex(stripped)
        if hexed and len(hexed) <= _MAX_CONVERTED:
            return {explicit: str(int(hexed, 16))}
        return _as_given(fmt, stripped)
    literal = normalise(stripped, fmt)
    if explicit is not None or len(literal) > _MAX_CONVERTED or not _HEX.fullmatch(literal):
        return {Reading.LITERAL: literal}
    found = {Reading.LITERAL: literal}
    if _DECIMAL.fullmatch(literal):
        found[Reading.DECIMAL] = format(int(literal), "x")
    found[Reading.HEX] = str(int(literal, 16))
    distinct: dict[Reading, str] = {}
    for reading, form in found.items():
        if form not in distinct.values():
            distinct[reading] = form
    return distinct


def _as_given(fmt: IdFormat, stripped: str) -> dict[Reading, str]:
    """A receipt ID that does not fit its connector's explicit reading: looked up as the response wrote it."""
    return {Reading.LITERAL: normalise(stripped, fmt)}
