"""JSON callbacks of REST sends: POSTs of the message and reply resources, signed over the body, delivered by the
engine's notifier to a real HTTP receiver on loopback, on both databases; smsmode sends keep their GET."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web
from sqlalchemy import func, select

from martinet.app import price_table
from martinet.clock import now_ms
from martinet.domain.ids import new_send_id
from martinet.domain.resources import MessageFacts, ReplyFacts, message_resource, reply_resource
from martinet.domain.status import FINAL_STATES
from martinet.domain.webhooks import body_signature, signature, verify, verify_body
from martinet.services.accept import SendRequest, SendService
from martinet.smsc import Simulator
from martinet.store.acceptance import AcceptanceWriter
from martinet.store.accounts import AccountStore
from martinet.store.schema import accounts, callbacks, inbound_messages, messages, sends, status_history
from tests.engine.carriers import bound, carrier_config, smpp_connector
from tests.gateway import Gateway, running_gateway, wait_for

FAST = {"allow_private_networks": True, "retry_first": 0.2, "retry_max": 0.5, "timeout": 2}
REPLY_NUMBER = "38100"


@dataclass
class Call:
    method: str
    target: str
    content_type: str
    event: str
    signature: str
    body: bytes
    answer: int


@dataclass
class Receiver:
    """An aiohttp server that records every callback, whatever its method, with its raw body."""

    answers: dict[str, list[int]] = field(default_factory=dict)  # path → answers consumed first; then 200
    calls: list[Call] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        queued = self.answers.get(request.path)
        status = queued.pop(0) if queued else 200
        self.calls.append(
            Call(
                request.method,
                request.raw_path,
                request.headers.get("Content-Type", ""),
                request.headers.get("X-Martinet-Event-Id", ""),
                request.headers.get("X-Martinet-Signature", ""),
                await request.read(),
                status,
            )
        )
        return web.Response(status=status, text="ok")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def successes(self, prefix: str) -> list[Call]:
        return [c for c in self.calls if 200 <= c.answer < 300 and c.target.startswith(prefix)]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    await hook.start()
    try:
        yield hook
    finally:
        await hook.stop()


async def _rest_send(gw: Gateway, **fields: Any) -> str:
    """A send as the REST door makes it: through the one acceptance service, asking for JSON callbacks."""
    found = await AccountStore(gw.db, now_ms).by_login("acme")
    assert found is not None
    writer = AcceptanceWriter(gw.db, opt_out_lanes=gw.settings.optout.lanes)
    await writer.start()
    try:
        service = SendService(
            writer,
            price_table(gw.settings),
            stop_mention=gw.settings.accounts.stop_mention,
            now_ms=now_ms,
            new_id=new_send_id,
        )
        accepted = await service.accept(SendRequest(account=found[0], callback_format="json", **fields))
    finally:
        await writer.stop()
    return accepted.send_id


async def _legacy_send(gw: Gateway, **params: str) -> str:
    async with gw.client() as http:
        reply = await http.post("/sendSMS.do", data={"accessToken": gw.token, **params})
    answer = reply.content.decode("iso-8859-15")
    assert answer.startswith("0 | "), answer
    return answer.rsplit(" | ", 1)[1]


async def _all_delivered(gw: Gateway) -> bool:
    """Every message final and every callback delivered."""
    async with gw.db.reader.connect() as conn:
        states = (await conn.execute(select(messages.c.state))).scalars().all()
        pending = await conn.scalar(select(func.count()).where(callbacks.c.state != "delivered"))
        queued = await conn.scalar(select(func.count()).select_from(callbacks))
    return bool(states) and all(s in FINAL_STATES for s in states) and pending == 0 and bool(queued)


async def _expected_resources(gw: Gateway, sms_id: str) -> dict[str, dict[str, object]]:
    """Event id → the message resource as it stood at that status change, for every callback of `sms_id`."""
    async with gw.db.reader.connect() as conn:
        rows = await conn.execute(
            select(
                callbacks.c.history_id,
                status_history.c.at,
                status_history.c.state,
                status_history.c.code,
                messages.c.msisdn,
                messages.c.cost,
                messages.c.seq,
                sends.c.created_at,
                sends.c.lane,
                sends.c.sender,
                sends.c.text,
                sends.c.encoding,
                sends.c.segments,
                sends.c.ref_client,
                sends.c.scheduled_at,
            )
            .join(status_history, status_history.c.id == callbacks.c.history_id)
            .join(messages, messages.c.id == status_history.c.message_id)
            .join(sends, sends.c.id == messages.c.send_id)
            .where(sends.c.id == sms_id)
        )
        return {
            f"h{r.history_id}": message_resource(
                MessageFacts(
                    send_id=sms_id,
                    seq=r.seq,
                    accepted_at=r.created_at,
                    lane=r.lane,
                    msisdn=r.msisdn,
                    sender=r.sender,
                    text=r.text,
                    encoding=r.encoding,
                    segments=r.segments,
                    state=r.state,
                    code=r.code,
                    cost=r.cost,
                    updated_at=r.at,
                    ref_client=r.ref_client,
                    scheduled_at=r.scheduled_at,
                )
            )
            for r in rows
        }


async def _secret(gw: Gateway) -> str:
    async with gw.db.reader.connect() as conn:
        secret = await conn.scalar(select(accounts.c.webhook_secret).where(accounts.c.login == "acme"))
    assert isinstance(secret, str)
    return secret


async def test_a_rest_send_gets_signed_json_posts_and_a_legacy_send_its_get(
    database_url: str, receiver: Receiver
) -> None:
    receiver.answers = {"/status": [500]}  # the first JSON callback is refused: its retry is the same event
    async with running_gateway(database_url, callbacks=FAST) as gw:
        sms_id = await _rest_send(
            gw,
            text="Votre code : 123456",
            recipients="0612345678,0612345679",
            ref_client="order-42",
            notification_url=receiver.url("/status?site=3"),
        )
        legacy_id = await _legacy_send(
            gw, numero="0612345670", message="hello", notification_url=receiver.url("/dlr?x=1")
        )
        await wait_for(lambda: _all_delivered(gw), timeout=15)
        expected = await _expected_resources(gw, sms_id)
        secret = await _secret(gw)
    now = time.time()

    posted = [c for c in receiver.calls if c.target.startswith("/status")]
    assert posted[0].answer == 500
    assert [c.body for c in posted if c.event == posted[0].event] == [posted[0].body] * 2
    for call in posted:
        assert (call.method, call.target, call.content_type) == ("POST", "/status?site=3", "application/json")
        assert verify_body(secret, call.body, call.signature, now=now)
        assert not verify_body(secret, call.body + b" ", call.signature, now=now)
        assert not verify(secret, call.target, call.signature, now=now)  # the URL is not what is signed

    ok = receiver.successes("/status")
    assert sorted(c.event for c in ok) == sorted(expected)  # each status change once, de-duplicable by its id
    per_message: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for call in ok:
        resource = orjson.loads(call.body)
        assert resource == expected[call.event]
        per_message[resource["messageId"]].append(resource)
    assert set(per_message) == {f"{sms_id}-0", f"{sms_id}-1"}
    for message_id, reports in per_message.items():
        assert [(r["status"]["value"], r["status"]["code"]) for r in reports] == [
            ("ENROUTE", 0),
            ("ENROUTE", 13),
            ("DELIVERED", 11),
        ]
        assert {r["recipient"]["to"] for r in reports} == {
            "33612345678" if message_id.endswith("-0") else "33612345679"
        }
        assert all((r["smsId"], r["refClient"], r["direction"]) == (sms_id, "order-42", "MT") for r in reports)
        assert reports[-1]["status"]["deliveryDate"] == reports[-1]["status"]["updatedAt"]
        assert reports[0]["status"]["deliveryDate"] is None

    legacy = [c for c in receiver.calls if c.target.startswith("/dlr")]
    assert len(legacy) == 3 and all(c.answer == 200 for c in legacy)
    for call in legacy:
        assert (call.method, call.body) == ("GET", b"")
        assert call.target.startswith("/dlr?x=1&numero=33612345670&")
        assert f"smsID={legacy_id}" in call.target
        assert verify(secret, call.target, call.signature, now=now)


@pytest.fixture
async def carrier() -> AsyncIterator[Simulator]:
    async with Simulator(carrier_config(seed=4)) as smsc:
        yield smsc


async def _submitted_to(carrier: Simulator, number: str) -> bool:
    return any(m.destination.addr == number for m in carrier.messages.values())


async def test_a_reply_to_a_rest_send_posts_the_reply_resource(
    database_url: str, carrier: Simulator, receiver: Receiver
) -> None:
    connector = smpp_connector("carrier", carrier.port, reply_numbers=[REPLY_NUMBER])
    settings: dict[str, Any] = {"connectors": [connector], "marketing": {"quiet_hours": {}}, "callbacks": FAST}
    async with running_gateway(database_url, **settings) as gw:
        await wait_for(lambda: bound(carrier), timeout=10)
        sms_id = await _rest_send(
            gw,
            text="Confirmez-vous le rendez-vous ? Répondez OUI",
            recipients="0612345678",
            classe=4,
            ref_client="rdv-7",
            notification_url_reponse=receiver.url("/mo"),
        )
        await wait_for(lambda: _submitted_to(carrier, "33612345678"), timeout=10)
        carrier.inject_mo("33612345678", REPLY_NUMBER, "Oui, merci")

        async def posted() -> list[Call]:
            return receiver.successes("/mo")

        (call,) = await wait_for(posted, timeout=10)
        async with gw.db.reader.connect() as conn:
            inbound = (await conn.execute(select(inbound_messages))).one()
        secret = await _secret(gw)

    assert (call.method, call.content_type, call.event) == ("POST", "application/json", f"r{inbound.id}")
    assert verify_body(secret, call.body, call.signature, now=time.time())
    facts = ReplyFacts(
        inbound.id, inbound.received_at, inbound.source, inbound.destination, inbound.text, sms_id, "rdv-7"
    )
    assert call.body == orjson.dumps(reply_resource(facts))
    resource = orjson.loads(call.body)
    assert (resource["from"], resource["recipient"], resource["body"]["text"]) == (
        "33612345678",
        {"to": REPLY_NUMBER},
        "Oui, merci",
    )
    assert (resource["smsId"], resource["refClient"], resource["responseId"]) == (sms_id, "rdv-7", call.event)


def test_signatures_of_a_body_and_of_a_request_target() -> None:
    secret, body, t = "s3cr3t", b'{"smsId":"abc"}', 1_800_000_000
    header = body_signature(secret, body, t)
    expected = hmac.new(b"s3cr3t", b'1800000000.{"smsId":"abc"}', hashlib.sha256).hexdigest()
    assert header == f"t={t},v1={expected}"
    assert verify_body(secret, body, header, now=t + 10)
    assert not verify_body(secret, body, header, now=t + 301)  # too old
    assert not verify_body("other", body, header, now=t)
    assert not verify_body(secret, b'{"smsId":"abd"}', header, now=t)
    # The GET signature is what it was: over "t.<path+query>".
    target = "/dlr?x=1&numero=33612345678"
    get_expected = hmac.new(b"s3cr3t", f"{t}.{target}".encode(), hashlib.sha256).hexdigest()
    assert signature(secret, target, t) == f"t={t},v1={get_expected}"
    assert verify(secret, target, signature(secret, target, t), now=t)
    assert not verify(secret, target, "t=oops,v1=00", now=t)
