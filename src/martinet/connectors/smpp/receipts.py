"""Delivery receipts in deliver_sm / data_sm: which message they are about, and what smsmode code they mean.

A receipt is a deliver_sm (or data_sm) whose esm_class message type is 0x04 (SMSC delivery receipt) or 0x20
(intermediate delivery notification). SMSCs say the same thing in two ways, often both at once:

* TLVs (SMPP 3.4 §5.3.2): `receipted_message_id`, `message_state`, `network_error_code`;
* the text form of SMPP 3.4 Appendix B, in short_message (or message_payload):
  `id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:...`

TLVs win when both are present (they are typed; the text form is free-form and varies between vendors). The text
form is read tolerantly: keys in any case, `submit_date`/`submitdate` spellings, spaces around the colon, fields
missing or in another order, and `text:` taken as "everything after", whatever it contains (it is the start of
the original message, which can hold "stat:" itself). Dates are yyMMddhhmm or yyMMddhhmmss, read from their
digits (so "23-01-31 12:00" works too), in the SMSC's clock: the format carries no time zone, so they are naive
unless the connector knows the SMSC's zone and passes `tz`.

States and the code reported for them (`STATES`):

| stat    | message_state | state       | code | why                                                               |
|---------|---------------|-------------|------|-------------------------------------------------------------------|
| ENROUTE | 1             | SENT        | 13   | the operator holds the message and is trying: "délivré opérateur" |
| ACCEPTD | 6             | SENT        | 13   | the operator took it; used by carriers as "accepted by network"   |
| SCHEDLD | 0 (SMPP 5.0)  | SENT        | 13   | held by the operator for later delivery                           |
| DELIVRD | 2             | DELIVERED   | 11   | smsmode's "reçu" (received by the handset)                        |
| UNDELIV | 5             | UNDELIVERED | 21   | "non délivrable"                                                  |
| EXPIRED | 3             | EXPIRED     | 37   | validity period over, the operator gave up                        |
| REJECTD | 8             | UNDELIVERED | 22   | "rejeté" (refused by the operator, often a filter or a barring)   |
| DELETED | 4             | UNDELIVERED | 50   | "non délivré": cancelled at the operator before delivery          |
| SKIPPED | 9 (SMPP 5.0)  | UNDELIVERED | 50   | accepted but never attempted                                      |
| UNKNOWN | 7             | UNDELIVERED | 3599 | "autre erreur": final (no further receipt will come) but the      |
|         |               |             |      | operator does not know the outcome; not reporting success is the  |
|         |               |             |      | honest answer, and 3599 says "unexplained" rather than a cause    |

ENROUTE and ACCEPTD use 13 rather than 0: the submit_sm_resp already put the part at 0 ("envoyé"); a receipt
saying the operator has it is one step further, and 13 comes after 0 in the pending order of
`domain.status`, so a message never moves backwards. Spellings seen in the wild map to these words:
DELIVERED, UNDELIVERABLE/UNDELIVERED, ACCEPTED, REJECTED, EN_ROUTE, SCHEDULED, Kannel's BUFFRED/BUFFERD/BUFFERED
(ENROUTE) and ACKED (ACCEPTD), and the numbers of message_state ("stat:2"). Any other word is reported as UNKNOWN
(the raw text keeps what the SMSC said), except in an intermediate notification, which is never final: ENROUTE, as
is a receipt with no state at all if it is an intermediate notification (UNKNOWN otherwise).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, tzinfo
from types import MappingProxyType
from typing import Final

from martinet.connectors.smpp.coding import DATA_CODING_UCS2
from martinet.domain.status import State
from martinet.domain.valueclass import valueclass
from martinet.smpp import DataSm, DeliverSm, EsmClassType, Tag
from martinet.smpp.constants import ESM_CLASS_TYPE_MASK
from martinet.smpp.receipt import receipt_fields

__all__ = ["MESSAGE_STATES", "STATES", "ParsedReceipt", "is_receipt", "parse_receipt"]

_SENT, _DELIVERED, _UNDELIVERED, _EXPIRED = State.SENT, State.DELIVERED, State.UNDELIVERED, State.EXPIRED

#: Receipt stat word → (state, smsmode code); the table of the module docstring.
STATES: Final[Mapping[str, tuple[State, int]]] = MappingProxyType(
    {
        "ENROUTE": (_SENT, 13),
        "ACCEPTD": (_SENT, 13),
        "SCHEDLD": (_SENT, 13),
        "DELIVRD": (_DELIVERED, 11),
        "UNDELIV": (_UNDELIVERED, 21),
        "EXPIRED": (_EXPIRED, 37),
        "REJECTD": (_UNDELIVERED, 22),
        "DELETED": (_UNDELIVERED, 50),
        "SKIPPED": (_UNDELIVERED, 50),
        "UNKNOWN": (_UNDELIVERED, 3599),
    }
)

#: message_state TLV value → stat word (SMPP 3.4 §5.2.28; 0 and 9 from SMPP 5.0).
MESSAGE_STATES: Final[Mapping[int, str]] = MappingProxyType(
    {
        0: "SCHEDLD",
        1: "ENROUTE",
        2: "DELIVRD",
        3: "EXPIRED",
        4: "DELETED",
        5: "UNDELIV",
        6: "ACCEPTD",
        7: "UNKNOWN",
        8: "REJECTD",
        9: "SKIPPED",
    }
)

_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "DELIVERED": "DELIVRD",
        "UNDELIVERABLE": "UNDELIV",
        "UNDELIVERED": "UNDELIV",
        "ACCEPTED": "ACCEPTD",
        "REJECTED": "REJECTD",
        "EN_ROUTE": "ENROUTE",
        "SCHEDULED": "SCHEDLD",
        "BUFFRED": "ENROUTE",  # Kannel's word (and its boxes'), for a message the operator holds
        "BUFFERD": "ENROUTE",
        "BUFFERED": "ENROUTE",
        "ACKED": "ACCEPTD",
        **{str(number): stat for number, stat in MESSAGE_STATES.items()},
    }
)

_RECEIPT_TYPES: Final = frozenset(
    {int(EsmClassType.SMSC_DELIVERY_RECEIPT), int(EsmClassType.INTERMEDIATE_DELIVERY_NOTIFICATION)}
)

_TOKEN: Final = re.compile(r"\S+")
_DIGITS: Final = re.compile(r"\d")


@valueclass
class ParsedReceipt:
    message_id: str
    """The carrier's ID as the receipt gives it (stripped); normalise it with `message_ids` before lookup."""
    stat: str
    """Canonical stat word (DELIVRD, UNDELIV...; UNKNOWN when unreadable)."""
    state: State
    code: int
    """smsmode status code."""
    error: str | None
    """The `err:` field as sent (carrier-specific), or None."""
    done_at: datetime | None
    raw: str
    """The text form as received ("" when the receipt had only TLVs)."""
    submitted_at: datetime | None = None
    network_error: tuple[int, int] | None = None
    """(network type, error code) from the network_error_code TLV (type 3 is GSM)."""
    intermediate: bool = False
    """An intermediate notification (esm_class 0x20) rather than a delivery receipt."""

    @property
    def detail(self) -> str:
        """A short, log- and report-friendly summary: "stat:UNDELIV err:001 network:3/1"."""
        words = [f"stat:{self.stat}"]
        if self.error is not None:
            words.append(f"err:{self.error}")
        if self.network_error is not None:
            words.append(f"network:{self.network_error[0]}/{self.network_error[1]}")
        return " ".join(words)


def _body_text(pdu: DeliverSm | DataSm) -> str:
    """The receipt text: ASCII by convention whatever data_coding says, so Latin-1 (lossless) except for UCS-2."""
    body = pdu.short_message if isinstance(pdu, DeliverSm) else b""
    if not body:
        payload = pdu.get_tlv(Tag.MESSAGE_PAYLOAD)
        body = payload if isinstance(payload, bytes) else b""
    if pdu.data_coding == DATA_CODING_UCS2 and len(body) % 2 == 0 and body[:1] == b"\0":
        return body.decode("utf-16-be", "replace")
    return body.decode("latin-1").rstrip("\0")  # SMSCs written in C often count the string's NUL in sm_length


def _first_token(value: str | None) -> str | None:
    if value is None:
        return None
    token = _TOKEN.search(value)
    return token.group() if token else None


def _date(value: str | None, tz: tzinfo | None) -> datetime | None:
    """yyMMddhhmm[ss] from the digits of `value` (years 2000-2099), or None when absent or impossible."""
    if value is None:
        return None
    digits = "".join(_DIGITS.findall(value))
    if len(digits) not in (10, 12):
        return None
    numbers = [int(digits[i : i + 2]) for i in range(0, len(digits), 2)]
    year, month, day, hour, minute = numbers[:5]
    second = numbers[5] if len(numbers) == 6 else 0
    try:
        return datetime(2000 + year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError:
        return None


def _canonical_stat(word: str | None) -> str | None:
    if not word:
        return None
    upper = word.upper()
    if upper in STATES:
        return upper
    return _ALIASES.get(upper, "UNKNOWN")


def _looks_like_receipt(pdu: DeliverSm | DataSm, fields: Mapping[str, str]) -> bool:
    if pdu.get_tlv(Tag.RECEIPTED_MESSAGE_ID) is not None:
        return True
    return "id" in fields and "stat" in fields


def is_receipt(pdu: DeliverSm | DataSm) -> bool:
    """Whether esm_class marks `pdu` as a delivery receipt or an intermediate notification.

    Lets a connector tell "a receipt `parse_receipt` could not use" (acknowledge and log it) from an MO (hand it
    on): both give None from `parse_receipt`.
    """
    return (pdu.esm_class & ESM_CLASS_TYPE_MASK) in _RECEIPT_TYPES


def parse_receipt(
    pdu: DeliverSm | DataSm, *, tz: tzinfo | None = None, lenient: bool = False, dates: bool = True
) -> ParsedReceipt | None:
    """The receipt carried by `pdu`, or None when it is not one (an MO) or names no message; never raises.

    `dates=False` leaves `submitted_at`/`done_at` unset: reading them is most of the cost of a receipt, and the
    gateway's receipt path timestamps receipts itself.

    Only esm_class message types 0x04 and 0x20 are receipts. Some SMSCs send receipts with esm_class 0; with
    `lenient`, a PDU is also a receipt when it has a receipted_message_id TLV or a text form with both `id:` and
    `stat:`, at the risk of taking an MO that looks like a receipt for one.
    """
    message_type = pdu.esm_class & ESM_CLASS_TYPE_MASK
    flagged = is_receipt(pdu)
    if not flagged and not lenient:
        return None
    raw = _body_text(pdu)
    fields = receipt_fields(raw)
    if not flagged and not _looks_like_receipt(pdu, fields):
        return None
    intermediate = message_type == EsmClassType.INTERMEDIATE_DELIVERY_NOTIFICATION

    tlv_id = pdu.get_tlv(Tag.RECEIPTED_MESSAGE_ID)
    message_id = tlv_id.strip() if isinstance(tlv_id, str) else ""
    if not message_id:
        message_id = _first_token(fields.get("id")) or ""
    if not message_id:
        return None

    tlv_state = pdu.get_tlv(Tag.MESSAGE_STATE)
    stat = MESSAGE_STATES.get(tlv_state, "UNKNOWN") if isinstance(tlv_state, int) else None
    stat = stat or _canonical_stat(_first_token(fields.get("stat")))
    stat = stat or ("ENROUTE" if intermediate else "UNKNOWN")
    if intermediate and stat == "UNKNOWN":
        stat = "ENROUTE"  # an intermediate notification is never final, whatever word it uses
    state, code = STATES[stat]

    network = pdu.get_tlv(Tag.NETWORK_ERROR_CODE)
    network_error = None
    if isinstance(network, bytes) and len(network) == 3:
        network_error = (network[0], int.from_bytes(network[1:], "big"))

    return ParsedReceipt(
        message_id=message_id,
        stat=stat,
        state=state,
        code=code,
        error=_first_token(fields.get("err")),
        done_at=_date(fields.get("done date"), tz) if dates else None,
        raw=raw,
        submitted_at=_date(fields.get("submit date"), tz) if dates else None,
        network_error=network_error,
        intermediate=intermediate,
    )
