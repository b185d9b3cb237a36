"""A delivery receipt as the gateway understands it, whatever carried it (SMPP deliver_sm, HTTP callback, sandbox).

Connectors produce these and the store applies them; both speak this one type, so nothing is translated between
layers. `carrier_id` is the carrier's message ID for one part, already normalised by its connector.
"""

from __future__ import annotations

from dataclasses import dataclass

from martinet.domain.status import State


@dataclass(frozen=True, slots=True)
class Receipt:
    connector: str
    carrier_id: str
    state: State
    code: int
    at: int
    detail: str
    # Other spellings of `carrier_id` the part may have been stored under (an SMSC that answers submit_sm in
    # hex and reports receipts in decimal, say); tried in order when `carrier_id` finds nothing.
    alternatives: tuple[str, ...] = ()
