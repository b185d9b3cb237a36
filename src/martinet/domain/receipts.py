"""A delivery receipt as the gateway understands it, whatever carried it (SMPP deliver_sm, HTTP callback, sandbox).

Connectors produce these and the store applies them; both speak this one type, so nothing is translated between
layers. `carrier_id` is the carrier's message ID for one part, already in the canonical form its connector stores.

A receipt is *certain* when its connector knows how its carrier writes IDs in receipts (an explicit format, a
learned habit, or an ID with one possible reading): it is applied to the part stored under `carrier_id` and to no
other. It is *uncertain* while the connector is still learning and the ID has several readings (`272` may be the
part `272`, or `0x110`'s receipt written in decimal): `alternatives` then lists the other readings, and the store
applies it only where the handset it names singles out one part (`same_handset`), or once the connector has
learned its carrier's reading. A receipt applied to the wrong part is worse than one applied late.
"""

from __future__ import annotations

from typing import Final

from martinet.domain.status import State
from martinet.domain.valueclass import valueclass

#: The label of `carrier_id` among an uncertain receipt's readings (the ID as the receipt writes it).
LITERAL: Final = "literal"

#: Trailing digits compared by `same_handset`: a subscriber number without its country or trunk prefix.
_HANDSET_DIGITS: Final = 8


@valueclass
class Receipt:
    connector: str
    carrier_id: str
    state: State
    code: int
    at: int
    detail: str
    # (reading, canonical form) of the other parts an uncertain receipt may name; empty when it is certain.
    alternatives: tuple[tuple[str, str], ...] = ()
    # The phone the receipt is about (its source address), when the carrier gives one.
    handset: str | None = None
    # The part itself, when the engine concludes about a part it knows (an overdue receipt): matched by it alone.
    part_id: int | None = None

    @property
    def certain(self) -> bool:
        return not self.alternatives

    def readings(self) -> tuple[tuple[str, str], ...]:
        """(reading, canonical form) of every part the receipt may name, `carrier_id` first."""
        return ((LITERAL, self.carrier_id), *self.alternatives)


#: The code of a part whose outcome nobody knows: the carrier said UNKNOWN, or its final receipt is overdue. A
#: final receipt arriving later still replaces it (docs/compatibility.md).
UNKNOWN_OUTCOME = 3599


def same_handset(first: str | None, second: str | None) -> bool | None:
    """Whether two addresses name the same phone, compared on their last digits (a receipt may write the handset
    nationally, `0612345678`, or internationally, `+33612345678`); None when either is too short to tell."""
    if not first or not second:
        return None
    a = "".join(c for c in first if "0" <= c <= "9")
    b = "".join(c for c in second if "0" <= c <= "9")
    if len(a) < _HANDSET_DIGITS or len(b) < _HANDSET_DIGITS:
        return None
    return a[-_HANDSET_DIGITS:] == b[-_HANDSET_DIGITS:]
