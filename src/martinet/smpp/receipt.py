"""The text form of SMSC delivery receipts (SMPP 3.4 appendix B), written and read.

SMPP 3.4 standardises receipts only as ``esm_class`` 0x04 plus the ``receipted_message_id`` and
``message_state`` TLVs; the text in ``short_message`` is an appendix "example" that nearly every
SMSC nevertheless sends, and that many ESMEs (and older SMSCs without the TLVs) rely on::

    id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:...

Writing follows the example exactly (the simulator uses it).  Reading is lenient, because real
SMSCs vary: keys in any case, ``submit_date`` for ``submit date``, fields missing or reordered,
seconds in the dates, text running to the end.  Both live here, beside the codec, so the carrier
connector and the simulator agree on one definition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Final

from .constants import MessageState

__all__ = [
    "STATE_BY_STAT",
    "STAT_BY_STATE",
    "ReceiptText",
    "format_receipt_date",
    "format_receipt_text",
    "parse_receipt_text",
]

#: The seven-letter ``stat`` of each message_state (appendix B table).
STAT_BY_STATE: Final = MappingProxyType(
    {
        MessageState.ENROUTE: "ENROUTE",
        MessageState.DELIVERED: "DELIVRD",
        MessageState.EXPIRED: "EXPIRED",
        MessageState.DELETED: "DELETED",
        MessageState.UNDELIVERABLE: "UNDELIV",
        MessageState.ACCEPTED: "ACCEPTD",
        MessageState.UNKNOWN: "UNKNOWN",
        MessageState.REJECTED: "REJECTD",
    }
)
#: And back, with the spellings some SMSCs use instead.
STATE_BY_STAT: Final = MappingProxyType(
    {stat: state for state, stat in STAT_BY_STATE.items()}
    | {"DELIVERED": MessageState.DELIVERED, "UNDELIVERABLE": MessageState.UNDELIVERABLE}
    | {"ACCEPTED": MessageState.ACCEPTED, "REJECTED": MessageState.REJECTED, "DELETED": MessageState.DELETED}
)

_KEY: Final = re.compile(
    r"(?<![A-Za-z0-9_])(id|sub|dlvrd|submit[\s_]*date|done[\s_]*date|stat|err|text)\s*:", re.IGNORECASE
)
_SEPARATORS: Final = re.compile(r"[\s_]+")
#: Appendix B's form, values holding neither spaces nor colons (so no key can hide in one).
_STANDARD: Final = re.compile(
    r"id:([^\s:]*) sub:([^\s:]*) dlvrd:([^\s:]*) submit date:([^\s:]*) done date:([^\s:]*) stat:([^\s:]*)"
    r" err:([^\s:]*)(?: text:(.*))?",
    re.DOTALL,
)
_STANDARD_KEYS: Final = ("id", "sub", "dlvrd", "submit date", "done date", "stat", "err", "text")


@dataclass(frozen=True, slots=True)
class ReceiptText:
    """The fields of a receipt text; dates stay as sent (``YYMMDDhhmm``, sometimes with ``ss``)."""

    message_id: str
    stat: str
    submitted: int = 1
    delivered: int = 0
    submit_date: str = ""
    done_date: str = ""
    err: str = "000"
    text: str = ""

    @property
    def state(self) -> MessageState:
        """The message_state named by ``stat`` (UNKNOWN for a word we do not know)."""
        return STATE_BY_STAT.get(self.stat.upper(), MessageState.UNKNOWN)


def format_receipt_date(moment: datetime) -> str:
    """``YYMMDDhhmm``, the date format of the receipt text."""
    return moment.strftime("%y%m%d%H%M")


def format_receipt_text(receipt: ReceiptText) -> str:
    """The appendix B text, with the three-digit counters and error the example shows."""
    return (
        f"id:{receipt.message_id} sub:{receipt.submitted:03d} dlvrd:{receipt.delivered:03d} "
        f"submit date:{receipt.submit_date} done date:{receipt.done_date} stat:{receipt.stat} "
        f"err:{receipt.err} text:{receipt.text}"
    )


def receipt_fields(text: str) -> dict[str, str]:
    """Key → raw value of a receipt text (keys `id`, `sub`, `dlvrd`, `submit date`, `done date`, `stat`, `err`,
    `text`); tolerant of case, `submit_date`, reordered or missing fields. The first occurrence of a key wins and
    `text:` ends the scan, whatever the message excerpt after it contains.

    Nearly every receipt is written exactly as appendix B shows: that form is read by one anchored match (an
    engine reads one receipt or two per message), and anything else by the lenient scan, which reads the
    appendix form to the same fields."""
    standard = _STANDARD.fullmatch(text)
    if standard is not None:
        return {key: value for key, value in zip(_STANDARD_KEYS, standard.groups(), strict=True) if value is not None}
    return lenient_receipt_fields(text)


def lenient_receipt_fields(text: str) -> dict[str, str]:
    """`receipt_fields` for any receipt text, by scanning for every key."""
    matches = list(_KEY.finditer(text))
    fields: dict[str, str] = {}
    for index, match in enumerate(matches):
        key = _SEPARATORS.sub(" ", match.group(1).lower())
        if key in fields:
            continue
        if key == "text":
            fields[key] = text[match.end() :]
            break
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        fields[key] = text[match.end() : end].strip()
    return fields


def parse_receipt_text(text: str) -> ReceiptText | None:
    """Read a receipt text; None unless it has at least an ``id`` and a ``stat``."""
    fields = receipt_fields(text)
    message_id, stat = fields.get("id"), fields.get("stat")
    if not message_id or not stat:
        return None
    return ReceiptText(
        message_id=message_id,
        stat=stat,
        submitted=_number(fields.get("sub"), 1),
        delivered=_number(fields.get("dlvrd"), 0),
        submit_date=fields.get("submit date", ""),
        done_date=fields.get("done date", ""),
        err=fields.get("err", ""),
        text=fields.get("text", ""),
    )


def _number(value: str | None, default: int) -> int:
    return int(value) if value is not None and value.isdigit() else default
