"""Carrier message IDs, normalised per connector so that a delivery receipt always finds its part.

SMPP says nothing about the form of a message ID, and SMSCs are inconsistent with themselves: the ID given in
submit_sm_resp as `0A1B` may come back in the receipt as `0a1b`, `00000A1B`, or as the same number in decimal,
`2587` (the "hex in the response, decimal in the receipt" behaviour behind Kannel's `msg-id-type` and many
Jasmin and Kannel bug reports). The store keeps one canonical form per part, written with `normalise`, and a
receipt is looked up with `candidates`.

| format   | canonical form (`normalise`)                            | receipt lookup (`candidates`)             |
|----------|---------------------------------------------------------|-------------------------------------------|
| as_is    | surrounding spaces (and NULs) removed, nothing else     | the same                                  |
| hex      | lower-case hex without leading zeros ("0x" allowed);    | the same                                  |
|          | an ID that is not hex is kept as_is                     |                                           |
| decimal  | decimal without leading zeros; an ID that is not        | the same                                  |
|          | decimal is kept as_is                                   |                                           |
| auto     | hex-looking IDs (only 0-9 a-f A-F): lower-case without  | canonical form first, then the other      |
|          | leading zeros; UUIDs: lower-case; anything else as_is   | reading of the number: decimal digits as  |
|          |                                                         | a decimal number written in hex, hex      |
|          |                                                         | digits as a hex number written in decimal |

Why auto works: whether the SMSC answered `0A1B` (stored `a1b`) or `2587` (stored `2587`), a receipt that says
`2587`, `0a1b` or `00000A1B` has that stored form among its candidates. The connector tries candidates in order
and takes the first that matches a part of this connector, so an ID the SMSC repeats faithfully always matches
first on its own form; the other reading is only a fallback. It could pick the wrong part only if the part the
receipt names is not stored (not yet, or not at all) while another part of the same connector has an ID equal to
the other reading of the number; for counter-like IDs the two readings differ in length (a decimal writing is
about a fifth longer than the hex one), so they do not meet. Once an SMSC's habits are known, an explicit format
removes even that risk. IDs longer than 64 characters are not converted (no SMSC writes such numbers, and
Python refuses to convert thousands of digits).

IDs that are not numbers (UUIDs, base-62 strings) are never converted; in auto mode only hex-looking IDs and UUIDs
are lower-cased, since case may matter in other alphabets.
"""

from __future__ import annotations

import enum
import re
from typing import Final

__all__ = ["IdFormat", "candidates", "normalise"]

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


def _without_zeros(digits: str) -> str:
    return digits.lstrip("0") or "0"


def _hex(message_id: str) -> str | None:
    """Canonical hex of `message_id`, or None when it is not hex."""
    digits = message_id[2:] if message_id[:2] in ("0x", "0X") and len(message_id) > 2 else message_id
    return _without_zeros(digits.lower()) if _HEX.fullmatch(digits) else None


def normalise(message_id: str, fmt: IdFormat | str = IdFormat.AUTO) -> str:
    """The canonical form of `message_id` for a connector whose IDs are in `fmt`; never raises."""
    fmt = IdFormat(fmt)
    stripped = message_id.strip(_STRIP)
    if fmt is IdFormat.AS_IS or not stripped:
        return stripped
    if fmt is IdFormat.HEX:
        return _hex(stripped) or stripped
    if fmt is IdFormat.DECIMAL:
        return _without_zeros(stripped) if _DECIMAL.fullmatch(stripped) else stripped
    if _HEX.fullmatch(stripped):
        return _without_zeros(stripped.lower())
    if _UUID.fullmatch(stripped):
        return stripped.lower()
    return stripped


def candidates(receipt_id: str, fmt: IdFormat | str = IdFormat.AUTO) -> tuple[str, ...]:
    """The canonical forms under which the part a receipt names may be stored, most likely first; never raises.

    With an explicit format there is one. In auto mode, an ID of digits 0-9 may be a decimal number whose part
    was stored in hex, and a hex ID may be a number whose part was stored in decimal, so both readings follow the
    canonical form (without duplicates). An empty ID gives no candidate.
    """
    fmt = IdFormat(fmt)
    first = normalise(receipt_id, fmt)
    if not first:
        return ()
    if fmt is not IdFormat.AUTO or len(first) > _MAX_CONVERTED or not _HEX.fullmatch(first):
        return (first,)
    found = [first]
    if _DECIMAL.fullmatch(first):
        found.append(format(int(first), "x"))
    found.append(str(int(first, 16)))
    return tuple(dict.fromkeys(found))
