"""Message IDs the way carriers' SMSCs write them, in the submit_sm_resp and again in receipts.

Real SMSCs disagree: a counter in lower- or upper-case hex or in decimal, zero-padded or not,
restarting at 1 after a reboot, or a UUID; and many write the receipt's ``id:`` field or its
``receipted_message_id`` TLV in another form than the response (the counter in decimal while
the response was hex, for instance), or leave one of them out.  A gateway's receipt matching
must cope with all of it, so the simulator reproduces each habit on demand.

Every ID has a serial number (the counter value, even for UUIDs) so that a receipt can write the
same message in another form.
"""

from __future__ import annotations

import random
import uuid
from typing import Final

__all__ = [
    "COUNTER_FORMATS",
    "ID_FORMATS",
    "RECEIPT_ID_FORMS",
    "UUID_FORMATS",
    "MessageIds",
    "receipt_id",
]

#: Formats that write the counter itself.
COUNTER_FORMATS: Final = ("hex", "HEX", "decimal")
#: Formats that write a random UUID4 (the counter still numbers the messages).
UUID_FORMATS: Final = ("uuid", "UUID")
ID_FORMATS: Final = COUNTER_FORMATS + UUID_FORMATS
#: How a receipt writes the message ID: as in the response, the counter in a given base, or not at all.
RECEIPT_ID_FORMS: Final = ("same", "decimal", "hex", "HEX", "none")


class MessageIds:
    """Hands out message IDs: ``(id as the submit_sm_resp writes it, serial number)``.

    ``start`` is the first serial number; ``width`` zero-pads counter IDs to that many characters
    (a counter that outgrows it keeps growing).  UUIDs come from a generator seeded with ``key``,
    so a seeded simulator gives the same UUIDs run after run without drawing on the random
    stream that decides outcomes.
    """

    __slots__ = ("_format", "_next", "_uuids", "_width")

    def __init__(self, style: str, *, start: int, width: int, key: int) -> None:
        if style not in ID_FORMATS:
            raise ValueError(f"unknown message ID format {style!r}")
        self._format = style
        self._next = start
        self._width = width
        self._uuids = random.Random(key) if style in UUID_FORMATS else None

    def issue(self) -> tuple[str, int]:
        serial = self._next
        self._next += 1
        style = self._format
        if self._uuids is not None:
            text = str(uuid.UUID(int=self._uuids.getrandbits(128), version=4))
            return (text.upper() if style == "UUID" else text), serial
        if style == "hex":
            return f"{serial:0{self._width}x}", serial
        if style == "HEX":
            return f"{serial:0{self._width}X}", serial
        return f"{serial:0{self._width}d}", serial


def receipt_id(form: str, message_id: str, serial: int) -> str | None:
    """The ID a receipt writes in ``form`` (one of :data:`RECEIPT_ID_FORMS`); None for "none".

    The other forms write the serial number without padding, as SMSCs that convert the ID for
    their receipts do.
    """
    if form == "same":
        return message_id
    if form == "decimal":
        return str(serial)
    if form == "hex":
        return f"{serial:x}"
    if form == "HEX":
        return f"{serial:X}"
    if form == "none":
        return None
    raise ValueError(f"unknown receipt ID form {form!r}")
