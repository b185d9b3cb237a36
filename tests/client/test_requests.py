"""What the clients put on the wire, checked on a real loopback server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs

import pytest

from martinet.client import AsyncClient, Client
from tests.client.scripted import MESSAGE, message, reply, scripted

pytestmark = pytest.mark.unit


async def test_send_to_many_with_every_option() -> None:
    answer = {"messages": [message("x-0"), message("x-1", status={"value": "UNDELIVERABLE", "code": 3998})]}
    async with scripted(default=reply(201, answer)) as server, AsyncClient(server.base, "k") as c:
        sent = await c.send(
            recipients=["0612345678", "12"],
            text="Promo",
            sender="Acme",
            scheduled_at=datetime(2026, 12, 1, 9, 0, tzinfo=timezone(timedelta(hours=1))),
            ref_client="order-42",
            callback_url_status="https://example.com/status",
            callback_url_mo="https://example.com/mo",
            stop=True,
            flow="MARKETING",
            validity=3600,
        )
    assert [m.message_id for m in sent] == ["x-0", "x-1"]
    assert sent[1].status.value == "UNDELIVERABLE"
    assert server.requests[0].json() == {
        "recipients": [{"to": "0612345678"}, {"to": "12"}],
        "body": {"text": "Promo", "stop": True},
        "from": "Acme",
        "sentDate": "2026-12-01T09:00:00+01:00",
        "refClient": "order-42",
        "callbackUrlStatus": "https://example.com/status",
        "callbackUrlMo": "https://example.com/mo",
        "flow": "MARKETING",
        "validity": 3600,
    }


async def test_preview_posts_the_send_body_without_a_key() -> None:
    preview = {
        "body": {"text": "a", "encoding": "GSM7", "messagePartCount": 1, "length": 1},
        "flow": "OTP",
        "recipients": [],
        "price": {"amount": 0.5, "currency": "CREDIT"},
    }
    async with scripted(default=reply(200, preview)) as server:
        with Client(server.base, "k") as c:
            got = await asyncio.to_thread(c.preview, "0612345678", "a", flow="OTP")
    assert str(got.price.amount) == "0.5" and got.flow == "OTP"
    request = server.requests[0]
    assert (request.method, request.target) == ("POST", "/sms/v1/messages:preview")
    assert request.json() == {"recipient": {"to": "0612345678"}, "body": {"text": "a", "stop": False}, "flow": "OTP"}
    assert "idempotency-key" not in request.headers


async def test_list_filters() -> None:
    async with (
        scripted(default=reply(200, {"items": [MESSAGE], "page": 1, "pageSize": 50, "hasMore": False})) as server,
        AsyncClient(server.base, "k") as c,
    ):
        got = [
            m
            async for m in c.list_messages(
                start=datetime(2026, 11, 1, tzinfo=UTC),
                end=datetime(2026, 11, 30, 12, 0),
                recipient="+33612345678",
                ref_client="order 42",
                page_size=50,
            )
        ]
    assert len(got) == 1
    query = parse_qs(server.requests[0].target.partition("?")[2])
    assert query == {
        "page": ["1"],
        "pageSize": ["50"],
        "startDate": ["2026-11-01T00:00:00+00:00"],
        "endDate": ["2026-11-30T12:00:00"],
        "recipient": ["+33612345678"],
        "refClient": ["order 42"],
    }


async def test_ids_are_escaped_in_paths() -> None:
    async with scripted(default=reply(200, MESSAGE)) as server, AsyncClient(server.base, "k") as c:
        await c.get("a/b?c")
    assert server.requests[0].target == "/sms/v1/messages/a%2Fb%3Fc"


async def test_legacy_send_form() -> None:
    async with scripted(default=reply(200, "0 | Accepté | Xk3p9QaZ2mTb".encode("iso-8859-15"))) as server:
        with Client(server.base, "tok") as c:
            sms_id = await asyncio.to_thread(
                lambda: c.legacy.send_sms(
                    ["0612345678", "0698765432"],
                    "Prix : 5 € — merci ✓",
                    emetteur="Acme",
                    date_envoi=datetime(2026, 12, 1, 9, 5),
                    classe_msg=2,
                    refClient=None,
                )
            )
    assert sms_id == "Xk3p9QaZ2mTb"
    request = server.requests[0]
    assert (request.method, request.target) == ("POST", "/http/1.6/sendSMS.do")
    assert request.headers["content-type"] == "application/x-www-form-urlencoded; charset=utf-8"
    form = parse_qs(request.body.decode("ascii"), encoding="utf-8")
    assert form == {
        "accessToken": ["tok"],
        "numero": ["0612345678,0698765432"],
        "message": ["Prix : 5 € — merci ✓"],
        "emetteur": ["Acme"],
        "date_envoi": ["01122026-09:05"],
        "classe_msg": ["2"],
    }


async def test_legacy_report_status_cancel() -> None:
    answers = [
        reply(200, b"33612345678 11 | 33698765432 13"),
        reply(200, "12 | Partiellement délivré".encode("iso-8859-15")),
        reply(200, "0 | SMS supprimé".encode("iso-8859-15")),
    ]
    async with scripted(answers) as server, AsyncClient(server.base, "tok") as c:
        report = await c.legacy.delivery_report("abc")
        status = await c.legacy.status("abc")
        await c.legacy.cancel(numero="0612345678")
    assert report == [("33612345678", 11), ("33698765432", 13)]
    assert status == 12
    assert [r.target for r in server.requests] == [
        "/http/1.6/compteRendu.do",
        "/http/1.6/smsStatus.do",
        "/http/1.6/deleteSMS.do",
    ]
    assert server.requests[2].body == b"accessToken=tok&numero=0612345678"
