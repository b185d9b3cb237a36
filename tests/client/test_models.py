from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from martinet.client import Balance, Message, Page, Preview, Reply, parse_callback
from martinet.client.models import loads
from tests.client.scripted import MESSAGE, REPLY


def test_message_from_the_documented_resource() -> None:
    m = Message.from_json(loads(json.dumps(MESSAGE)))
    assert m.message_id == "JtT3cRqYyAfw1N2c-0"
    assert m.sms_id == "JtT3cRqYyAfw1N2c"
    assert m.accepted_at == datetime(2026, 11, 26, 18, 30, 0, 123000, tzinfo=UTC)
    assert m.flow == "TRANSACTIONAL"
    assert (m.direction, m.to, m.sender) == ("MT", "33612345678", "Acme")
    assert (m.text, m.encoding, m.part_count, m.length) == ("Your code is 123456", "GSM7", 1, 19)
    assert (m.status.value, m.status.code, m.status.delivery_date) == ("ENROUTE", 1, None)
    assert m.status.updated_at == m.accepted_at
    assert not m.status.final
    assert m.price.amount == Decimal("1.0") and m.price.currency == "CREDIT"
    assert (m.ref_client, m.sent_date, m.href) == ("order-42", None, "/sms/v1/messages/JtT3cRqYyAfw1N2c-0")


def test_amounts_are_exact_decimals() -> None:
    m = Message.from_json(loads('{"messageId": "a-0", "price": {"amount": 0.1, "currency": "CREDIT"}}'))
    assert m.price.amount == Decimal("0.1")
    assert Balance.from_json(loads('{"balance": 998.5, "currency": "CREDIT"}')).amount == Decimal("998.5")
    assert Balance.from_json(loads('{"balance": 1000}')) == Balance(Decimal(1000), "CREDIT")


def test_unknown_fields_are_ignored_and_kept_in_raw() -> None:
    data = {**MESSAGE, "futureField": {"x": 1}, "status": {**MESSAGE["status"], "reason": "new"}}
    m = Message.from_json(data)
    assert m.raw["futureField"] == {"x": 1}
    assert m == Message.from_json(MESSAGE)  # raw does not take part in equality


def test_missing_optional_fields_do_not_fail() -> None:
    m = Message.from_json({"messageId": "x-0", "smsId": "x", "acceptedAt": "2026-11-26T18:30:00Z"})
    assert m.sender is None and m.flow is None and m.ref_client is None and m.status.value == ""


def test_delivered_and_scheduled_times() -> None:
    data = {
        **MESSAGE,
        "status": {"value": "DELIVERED", "code": 11, "deliveryDate": "2026-11-26T18:30:05.000Z", "updatedAt": None},
        "sentDate": "2026-12-01T08:00:00.000Z",
    }
    m = Message.from_json(data)
    assert m.status.final
    assert m.status.delivery_date == datetime(2026, 11, 26, 18, 30, 5, tzinfo=UTC)
    assert m.sent_date == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_reply() -> None:
    r = Reply.from_json(REPLY)
    assert (r.response_id, r.direction, r.sender, r.to, r.text, r.length) == (
        "r17",
        "MO",
        "33612345678",
        "36180",
        "Yes please",
        10,
    )
    assert r.received_at == datetime(2026, 11, 26, 18, 31, 2, tzinfo=UTC)
    assert (r.sms_id, r.ref_client, r.href) == ("JtT3cRqYyAfw1N2c", "order-42", "/sms/v1/replies/r17")
    assert Reply.from_json({**REPLY, "smsId": None}).sms_id is None


def test_preview() -> None:
    p = Preview.from_json(
        loads(
            json.dumps(
                {
                    "body": {
                        "text": "Promo -20% STOP au 36180",
                        "encoding": "GSM7",
                        "messagePartCount": 1,
                        "length": 25,
                    },
                    "flow": "MARKETING",
                    "recipients": [
                        {
                            "to": "33612345678",
                            "country": "FR",
                            "valid": True,
                            "price": {"amount": 1.0, "currency": "CREDIT"},
                        },
                        {"to": "12", "valid": False, "problem": "not a valid phone number"},
                        {
                            "to": "33698765432",
                            "valid": True,
                            "price": {"amount": 2.0, "currency": "CREDIT"},
                            "body": {"text": "Bonjour Zoé", "encoding": "GSM7", "messagePartCount": 2, "length": 11},
                        },
                    ],
                    "price": {"amount": 1.0, "currency": "CREDIT"},
                }
            )
        )
    )
    assert (p.text, p.encoding, p.part_count, p.length, p.flow) == (
        "Promo -20% STOP au 36180",
        "GSM7",
        1,
        25,
        "MARKETING",
    )
    assert p.price.amount == 1
    first, second, third = p.recipients
    assert first.valid and first.country == "FR" and first.price is not None and first.price.amount == 1
    assert not second.valid and second.problem == "not a valid phone number" and second.price is None
    assert (first.text, first.part_count) == (None, None)  # the send's text
    assert (third.text, third.encoding, third.part_count, third.length) == ("Bonjour Zoé", "GSM7", 2, 11)


def test_page() -> None:
    page: Page[Message] = Page.from_json(
        {"items": [MESSAGE], "page": 1, "pageSize": 20, "hasMore": True, "next": "/sms/v1/messages?page=2&pageSize=20"},
        Message.from_json,
    )
    assert len(page.items) == 1 and page.has_more and page.next == "/sms/v1/messages?page=2&pageSize=20"
    last: Page[Message] = Page.from_json({"items": [], "page": 3, "pageSize": 20, "hasMore": False}, Message.from_json)
    assert last.next is None and not last.has_more and last.page == 3


def test_parse_callback() -> None:
    assert isinstance(parse_callback(json.dumps(MESSAGE).encode()), Message)
    reply = parse_callback(json.dumps(REPLY))
    assert isinstance(reply, Reply) and reply.response_id == "r17"
    with pytest.raises(ValueError):
        parse_callback(b"[1, 2]")
    with pytest.raises(ValueError):
        parse_callback(b'{"hello": 1}')
    with pytest.raises(ValueError):
        parse_callback(b"not json")


def test_the_sdk_imports_none_of_the_server() -> None:
    """Applications install martinet for the SDK: importing it must not load the gateway's heavy stack."""
    import subprocess
    import sys

    code = (
        "import sys, martinet.client; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'starlette', 'uvicorn', 'aiohttp', 'pydantic'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
