"""The JSON resources of the REST API: a message and a reply, as the REST door answers them and as JSON
callbacks post them.

Both the door (`martinet.api.rest`) and the callbacks outbox (`martinet.store.callbacks`) build them, so they
live here, pure: facts in, plain dicts out (serialised with orjson by the caller). See docs/rest-api.md.
"""

from __future__ import annotations

from datetime import UTC, datetime

from martinet.domain.credits import MILLI
from martinet.domain.lanes import Lane
from martinet.domain.status import State
from martinet.domain.valueclass import valueclass

MESSAGES_PATH = "/sms/v1/messages"
REPLIES_PATH = "/sms/v1/replies"

#: Prices are in the account's credits (1 credit is one standard SMS to France at the default prices).
CURRENCY = "CREDIT"

#: The REST `flow` of each lane and back (`TRANSACTIONAL` is the notification lane).
FLOW_OF_LANE: dict[str, str] = {Lane.OTP: "OTP", Lane.NOTIFICATION: "TRANSACTIONAL", Lane.MARKETING: "MARKETING"}
LANE_OF_FLOW: dict[str, str] = {flow: lane for lane, flow in FLOW_OF_LANE.items()}

#: The REST status value of each internal state: smsmode's five, plus CANCELLED and EXPIRED.
STATUS_OF_STATE: dict[str, str] = {
    State.SCHEDULED: "SCHEDULED",
    State.QUEUED: "ENROUTE",
    State.SUBMITTING: "ENROUTE",
    State.SENT: "ENROUTE",
    State.DELIVERED: "DELIVERED",
    State.UNDELIVERED: "UNDELIVERED",
    State.FAILED: "UNDELIVERABLE",
    State.EXPIRED: "EXPIRED",
    State.CANCELLED: "CANCELLED",
}
STATUS_VALUES = ("SCHEDULED", "ENROUTE", "DELIVERED", "UNDELIVERABLE", "UNDELIVERED", "CANCELLED", "EXPIRED")
#: The internal states behind each status value (for filtering lists by status).
STATES_OF_STATUS: dict[str, tuple[str, ...]] = {
    value: tuple(state for state, shown in STATUS_OF_STATE.items() if shown == value) for value in STATUS_VALUES
}

_ENCODINGS = {"GSM-7": "GSM7", "UCS-2": "UNICODE"}


@valueclass
class MessageFacts:
    """What a message resource shows, as stored (times in Unix ms, costs in millicredits)."""

    send_id: str
    seq: int
    accepted_at: int
    lane: str
    msisdn: str
    sender: str | None
    text: str
    encoding: str  # "GSM-7" or "UCS-2"
    segments: int
    state: str
    code: int
    cost: int
    updated_at: int
    ref_client: str | None = None
    scheduled_at: int | None = None
    channel: str = "sms"  # "voice": read aloud in a call (domain/voice.py)


@valueclass
class ReplyFacts:
    """What a reply resource shows: an inbound SMS and the send it answers, when one was found."""

    id: int
    received_at: int
    source: str
    destination: str
    text: str
    send_id: str | None
    ref_client: str | None = None


def message_id(send_id: str, seq: int) -> str:
    """The public id of a message: its send's id (the smsmode `smsID`) and its position among the recipients."""
    return f"{send_id}-{seq}"


def parse_message_id(value: str) -> tuple[str, int] | None:
    """`message_id` backwards; None when `value` cannot be one."""
    send_id, dash, seq = value.rpartition("-")
    # `isascii`: `str.isdigit` also takes `²` and other scripts' digits, which `int` refuses or misreads.
    if not dash or not send_id or not (seq.isascii() and seq.isdigit()) or len(seq) > 6 or len(send_id) > 16:
        return None
    return send_id, int(seq)


def iso_time(ms: int | None) -> str | None:
    """Unix ms as ISO 8601 in UTC with milliseconds (`2026-11-26T18:30:00.123Z`)."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def credits(milli: int) -> float:
    """Millicredits as a JSON number of credits (exact: three decimals at most)."""
    return round(milli / MILLI, 3)


def message_resource(facts: MessageFacts) -> dict[str, object]:
    """The message as `GET /sms/v1/messages/{id}` shows it and a JSON status callback posts it."""
    ident = message_id(facts.send_id, facts.seq)
    resource: dict[str, object] = {
        "messageId": ident,
        "smsId": facts.send_id,
        "acceptedAt": iso_time(facts.accepted_at),
        "channel": {
            "type": "VOICE" if facts.channel == "voice" else "SMS",
            "flow": FLOW_OF_LANE.get(facts.lane, facts.lane.upper()),
        },
        "direction": "MT",
        "recipient": {"to": facts.msisdn},
        "from": facts.sender,
        "body": {
            "text": facts.text,
            "encoding": _ENCODINGS.get(facts.encoding, facts.encoding),
            "messagePartCount": facts.segments,
            "length": len(facts.text),
        },
        "status": {
            "value": STATUS_OF_STATE.get(facts.state, "ENROUTE"),
            "code": facts.code,
            "deliveryDate": iso_time(facts.updated_at) if facts.state == State.DELIVERED else None,
            "updatedAt": iso_time(facts.updated_at),
        },
        "price": {"amount": credits(facts.cost), "currency": CURRENCY},
        "refClient": facts.ref_client,
        "sentDate": iso_time(facts.scheduled_at),
        "href": f"{MESSAGES_PATH}/{ident}",
    }
    return resource


def reply_resource(facts: ReplyFacts) -> dict[str, object]:
    """An inbound SMS as `GET /sms/v1/replies` lists it and a JSON reply callback posts it."""
    return {
        "responseId": f"r{facts.id}",
        "direction": "MO",
        "from": facts.source,
        "recipient": {"to": facts.destination},
        "body": {"text": facts.text, "length": len(facts.text)},
        "receivedAt": iso_time(facts.received_at),
        "smsId": facts.send_id,
        "refClient": facts.ref_client,
        "href": f"{REPLIES_PATH}/r{facts.id}",
    }
