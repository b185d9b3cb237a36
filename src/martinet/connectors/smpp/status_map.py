"""What a submit_sm_resp command_status means for the part, and how the connector addresses source and destination.

Every refusal falls in one of three kinds, because the connector can do three different things about it:

* **throttled**: the carrier is fine but wants us slower. The connector slows its token bucket down and retries
  the same part on the same carrier after a pause; the engine sees nothing unless it lasts too long.
* **temporary**: this attempt failed, another may not. The engine retries later, or on another route.
* **permanent**: the message itself is refused and will be refused again; it is final, with the smsmode code
  its report shows.

`code` is the smsmode status the part would end with: the final code of a permanent refusal, and for the other
kinds the code reported if the engine gives up retrying (3501, "temporary operator error").

| command_status                          | kind      | code | reason                                          |
|-----------------------------------------|-----------|------|-------------------------------------------------|
| ESME_ROK 0x00                           | ok        | 0    | sent ("envoyé")                                 |
| ESME_RTHROTTLED 0x58                    | throttled | 3501 | over the carrier's rate                         |
| ESME_RMSGQFUL 0x14                      | throttled | 3501 | carrier queue full: the same cure, slow down    |
| ESME_RSYSERR 0x08                       | temporary | 3501 | SMSC internal error                             |
| ESME_RX_T_APPN 0x64                     | temporary | 3501 | receiver's temporary application error          |
| ESME_RSUBMITFAIL 0x45                   | temporary | 3501 | submit failed without a reason                  |
| ESME_RUNKNOWNERR 0xFF                   | temporary | 3501 | unknown: nothing says the message is at fault   |
| ESME_RINVBNDSTS 0x04, ESME_RALYBND 0x05 | temporary | 3501 | session state: rebinding cures it               |
| ESME_RBINDFAIL 0x0D, ESME_RINVPASWD     | temporary | 3501 | bind problems seen on a submit: the session,    |
| 0x0E, ESME_RINVSYSID 0x0F,              |           |      | not the message                                 |
| ESME_RINVSYSTYP 0x53                    |           |      |                                                 |
| no response in time (`TIMEOUT`)         | temporary | 3501 | unknown outcome; may duplicate if retried       |
| ESME_RINVDSTADR 0x0B                    | permanent | 3998 | invalid recipient: the number is wrong          |
| ESME_RINVDSTTON 0x50, ESME_RINVDSTNPI   | permanent | 34   | routing error: the carrier refuses how the      |
| 0x51                                    |           |      | number is addressed, not the number itself      |
| ESME_RINVSRCADR 0x0A, ESME_RINVSRCTON   | permanent | 36   | message error: the sender ID is refused         |
| 0x48, ESME_RINVSRCNPI 0x49              |           |      |                                                 |
| ESME_RINVMSGLEN 0x01                    | permanent | 38   | message too long                                |
| ESME_RX_P_APPN 0x65                     | permanent | 21   | receiver's permanent error: not deliverable     |
| ESME_RX_R_APPN 0x66                     | permanent | 22   | receiver rejects the message                    |
| ESME_RDELIVERYFAILURE 0xFE              | permanent | 21   | delivery failed (data_sm_resp)                  |
| ESME_RINVESMCLASS 0x43, ESME_RINVSERTYP | permanent | 36   | message error: a field of this submit_sm is     |
| 0x15, ESME_RINVPRTFLG 0x06,             |           |      | refused, and would be again                     |
| ESME_RINVREGDLVFLG 0x07, ESME_RINVSCHED |           |      |                                                 |
| 0x61, ESME_RINVEXPIRY 0x62,             |           |      |                                                 |
| ESME_RINVDFTMSGID 0x63, ESME_RINVREPFLAG|           |      |                                                 |
| 0x54, ESME_RINVSUBREP 0x42,             |           |      |                                                 |
| ESME_RINVNUMMSGS 0x55, ESME_RINVMSGID   |           |      |                                                 |
| 0x0C, ESME_RINVNUMDESTS 0x33,           |           |      |                                                 |
| ESME_RINVDLNAME 0x34, ESME_RINVDESTFLAG |           |      |                                                 |
| 0x40, ESME_RCNTSUBDL 0x44, TLV errors   |           |      |                                                 |
| 0xC0-0xC4, 0x104 (SMPP 5.0 ESME_RINVDCS)|           |      |                                                 |
| ESME_RINVCMDLEN 0x02, ESME_RINVCMDID    | permanent | 2    | the SMSC cannot read our PDU: an internal error |
| 0x03                                    |           |      | that resending the same bytes will not cure     |
| anything else (vendor 0x400-0x4FF...)   | temporary | 3501 | unknown codes are not assumed to be final       |

Vendor codes mean different things at each carrier: `classify` takes per-connector `overrides`.

Addressing (`addressing`, `destination_addressing`):

| address                                        | TON                | NPI      | sent as                |
|------------------------------------------------|--------------------|----------|------------------------|
| no sender                                      | 0 unknown          | 0        | "" (the SMSC's default)|
| letters (alphanumeric sender ID)               | 5 alphanumeric     | 0        | as given               |
| 1-6 digits (short code)                        | 3 network specific | 0        | as given               |
| "+" then digits, "00" then 7+ digits, 7+ digits| 1 international    | 1 E.164  | digits only            |
| "0" then 6+ digits (national form)             | 2 national         | 1 E.164  | as given               |
| destination (E.164 from `domain.recipients`)   | 1 international    | 1 E.164  | digits only            |
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal

from martinet.domain.status import (
    INTERNAL_ERROR,
    INVALID_RECIPIENT,
    NOT_DELIVERABLE,
    REJECTED,
    ROUTING_ERROR,
    SENT,
)
from martinet.domain.valueclass import valueclass
from martinet.smpp import CommandStatus, Npi, Ton

__all__ = ["CLASSIFICATION", "TIMEOUT", "StatusMeaning", "addressing", "classify", "destination_addressing"]

Kind = Literal["ok", "throttled", "temporary", "permanent"]

TEMPORARY_OPERATOR_ERROR: Final = 3501
MESSAGE_ERROR: Final = 36
MESSAGE_TOO_LONG: Final = 38
#: SMPP 5.0's "invalid data coding scheme"; some 3.4 SMSCs send it.
ESME_RINVDCS: Final = 0x104


@valueclass
class StatusMeaning:
    """What a submit_sm_resp's command_status means for the message: retry, give up or carry on."""

    kind: Kind
    code: int
    """smsmode status code (see the module table)."""
    detail: str
    """Name of the status and its meaning, for logs and the part's history."""


def _rows() -> dict[int, StatusMeaning]:
    s = CommandStatus
    rows: list[tuple[int, Kind, int, str]] = [
        (s.ESME_ROK, "ok", SENT, "accepted"),
        (s.ESME_RTHROTTLED, "throttled", TEMPORARY_OPERATOR_ERROR, "throttling error"),
        (s.ESME_RMSGQFUL, "throttled", TEMPORARY_OPERATOR_ERROR, "message queue full"),
        (s.ESME_RSYSERR, "temporary", TEMPORARY_OPERATOR_ERROR, "system error"),
        (s.ESME_RX_T_APPN, "temporary", TEMPORARY_OPERATOR_ERROR, "receiver temporary application error"),
        (s.ESME_RSUBMITFAIL, "temporary", TEMPORARY_OPERATOR_ERROR, "submit failed"),
        (s.ESME_RUNKNOWNERR, "temporary", TEMPORARY_OPERATOR_ERROR, "unknown error"),
        (s.ESME_RINVBNDSTS, "temporary", TEMPORARY_OPERATOR_ERROR, "incorrect bind status"),
        (s.ESME_RALYBND, "temporary", TEMPORARY_OPERATOR_ERROR, "already bound"),
        (s.ESME_RBINDFAIL, "temporary", TEMPORARY_OPERATOR_ERROR, "bind failed"),
        (s.ESME_RINVPASWD, "temporary", TEMPORARY_OPERATOR_ERROR, "invalid password"),
        (s.ESME_RINVSYSID, "temporary", TEMPORARY_OPERATOR_ERROR, "invalid system_id"),
        (s.ESME_RINVSYSTYP, "temporary", TEMPORARY_OPERATOR_ERROR, "invalid system_type"),
        (s.ESME_RINVDSTADR, "permanent", INVALID_RECIPIENT, "invalid destination address"),
        (s.ESME_RINVDSTTON, "permanent", ROUTING_ERROR, "invalid destination TON"),
        (s.ESME_RINVDSTNPI, "permanent", ROUTING_ERROR, "invalid destination NPI"),
        (s.ESME_RINVSRCADR, "permanent", MESSAGE_ERROR, "invalid source address"),
        (s.ESME_RINVSRCTON, "permanent", MESSAGE_ERROR, "invalid source TON"),
        (s.ESME_RINVSRCNPI, "permanent", MESSAGE_ERROR, "invalid source NPI"),
        (s.ESME_RINVMSGLEN, "permanent", MESSAGE_TOO_LONG, "invalid message length"),
        (s.ESME_RX_P_APPN, "permanent", NOT_DELIVERABLE, "receiver permanent application error"),
        (s.ESME_RX_R_APPN, "permanent", REJECTED, "receiver rejected the message"),
        (s.ESME_RDELIVERYFAILURE, "permanent", NOT_DELIVERABLE, "delivery failure"),
        (s.ESME_RINVESMCLASS, "permanent", MESSAGE_ERROR, "invalid esm_class"),
        (s.ESME_RINVSERTYP, "permanent", MESSAGE_ERROR, "invalid service_type"),
        (s.ESME_RINVPRTFLG, "permanent", MESSAGE_ERROR, "invalid priority_flag"),
        (s.ESME_RINVREGDLVFLG, "permanent", MESSAGE_ERROR, "invalid registered_delivery"),
        (s.ESME_RINVSCHED, "permanent", MESSAGE_ERROR, "invalid schedule_delivery_time"),
        # Only once the part went again without a validity_period (the connector does that first).
        (s.ESME_RINVEXPIRY, "permanent", MESSAGE_ERROR, "invalid validity_period"),
        (s.ESME_RINVDFTMSGID, "permanent", MESSAGE_ERROR, "invalid predefined message"),
        (s.ESME_RINVREPFLAG, "permanent", MESSAGE_ERROR, "invalid replace_if_present_flag"),
        (s.ESME_RINVSUBREP, "permanent", MESSAGE_ERROR, "invalid submit with replace"),
        (s.ESME_RINVNUMMSGS, "permanent", MESSAGE_ERROR, "invalid number of messages"),
        (s.ESME_RINVMSGID, "permanent", MESSAGE_ERROR, "invalid message_id"),
        (s.ESME_RINVNUMDESTS, "permanent", MESSAGE_ERROR, "invalid number of destinations"),
        (s.ESME_RINVDLNAME, "permanent", MESSAGE_ERROR, "invalid distribution list"),
        (s.ESME_RINVDESTFLAG, "permanent", MESSAGE_ERROR, "invalid dest_flag"),
        (s.ESME_RCNTSUBDL, "permanent", MESSAGE_ERROR, "cannot submit to distribution list"),
        (s.ESME_RINVOPTPARSTREAM, "permanent", MESSAGE_ERROR, "error in optional parameters"),
        (s.ESME_ROPTPARNOTALLWD, "permanent", MESSAGE_ERROR, "optional parameter not allowed"),
        (s.ESME_RINVPARLEN, "permanent", MESSAGE_ERROR, "invalid parameter length"),
        (s.ESME_RMISSINGOPTPARAM, "permanent", MESSAGE_ERROR, "expected optional parameter missing"),
        (s.ESME_RINVOPTPARAMVAL, "permanent", MESSAGE_ERROR, "invalid optional parameter value"),
        (ESME_RINVDCS, "permanent", MESSAGE_ERROR, "invalid data coding scheme"),
        (s.ESME_RINVCMDLEN, "permanent", INTERNAL_ERROR, "invalid command length"),
        (s.ESME_RINVCMDID, "permanent", INTERNAL_ERROR, "invalid command id"),
    ]
    return {int(status): StatusMeaning(kind, code, _label(status, text)) for status, kind, code, text in rows}


def _label(status: int, text: str) -> str:
    try:
        name = CommandStatus(status).name
    except ValueError:
        name = "ESME_RINVDCS" if status == ESME_RINVDCS else f"0x{status:08X}"
    return f"{name} (0x{status:02X}): {text}"


#: command_status → outcome; the table of the module docstring.
CLASSIFICATION: Final[Mapping[int, StatusMeaning]] = MappingProxyType(_rows())

#: What a submit_sm without a response in time means: the SMSC may have taken it, but nobody knows.
TIMEOUT: Final = StatusMeaning("temporary", TEMPORARY_OPERATOR_ERROR, "no submit_sm_resp in time")


def classify(status: int, overrides: Mapping[int, StatusMeaning] | None = None) -> StatusMeaning:
    """The outcome of a submit_sm_resp (or generic_nack) command_status; unknown statuses are temporary.

    Unknown codes are temporary because calling a message final on a code nobody documented would lose it; a
    code that keeps failing ends through the engine's retry limit with 3501 instead. `overrides` lets a
    connector give its carrier's vendor codes (0x400-0x4FF) their real meaning.
    """
    if overrides is not None and status in overrides:
        return overrides[status]
    known = CLASSIFICATION.get(status)
    if known is not None:
        return known
    vendor = " (vendor-specific)" if 0x400 <= status <= 0x4FF else ""
    return StatusMeaning("temporary", TEMPORARY_OPERATOR_ERROR, f"0x{status:08X}: unknown command_status{vendor}")


_SHORT_CODE_MAX: Final = 6


def addressing(sender: str | None) -> tuple[int, int, str]:
    """(source_addr_ton, source_addr_npi, source_addr) for a sender ID (see the module table).

    The form decides: a carrier reads an alphanumeric ID with TON 5 and shows it as text, a short code with
    TON 3, a full number with TON 1 / NPI 1 in international form without "+"; getting it wrong makes the
    carrier rewrite or refuse the sender (ESME_RINVSRCTON).
    """
    value = (sender or "").strip()
    if not value:
        return Ton.UNKNOWN, Npi.UNKNOWN, ""
    digits = value[1:] if value.startswith("+") else value
    if not digits.isascii() or not digits.isdigit():
        return Ton.ALPHANUMERIC, Npi.UNKNOWN, value
    if value.startswith("+"):
        return Ton.INTERNATIONAL, Npi.ISDN, digits
    if value.startswith("00") and len(value) > 2 + _SHORT_CODE_MAX:
        return Ton.INTERNATIONAL, Npi.ISDN, value[2:]
    if len(value) <= _SHORT_CODE_MAX:
        return Ton.NETWORK_SPECIFIC, Npi.UNKNOWN, value
    if value.startswith("0"):
        return Ton.NATIONAL, Npi.ISDN, value
    return Ton.INTERNATIONAL, Npi.ISDN, value


def destination_addressing(msisdn: str) -> tuple[int, int, str]:
    """(dest_addr_ton, dest_addr_npi, destination_addr): recipients are E.164, sent international without "+"."""
    return Ton.INTERNATIONAL, Npi.ISDN, msisdn.strip().removeprefix("+")
