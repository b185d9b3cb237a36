"""Status callbacks delivered by the engine's notifier to a real HTTP receiver on loopback, on both databases."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy import select

from martinet.domain.credits import format_credits
from martinet.domain.webhooks import date_reception, verify
from martinet.store.schema import accounts, callbacks, messages, status_history
from tests.gateway import Gateway, running_gateway, wait_for

FAST = {"allow_private_networks": True, "retry_first": 0.2, "retry_max": 0.5, "timeout": 2}


@dataclass
class Call:
    at: float
    event: str
    target: str
    query: dict[str, str]
    signature: str
    answer: int


@dataclass
class Receiver:
    """An aiohttp server that records every callback and answers what `answer` says."""

    answers: list[Any] = field(default_factory=list)  # consumed first: a status, or (status, headers)
    calls: list[Call] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        if not self.port:
            self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        answer = self.answers.pop(0) if self.answers else 200
        status, headers = answer if isinstance(answer, tuple) else (answer, {})
        self.calls.append(
            Call(
                time.monotonic(),
                request.headers.get("X-Martinet-Event-Id", ""),
                request.raw_path,
                dict(request.query),
                request.headers.get("X-Martinet-Signature", ""),
                status,
            )
        )
        return web.Response(status=status, text="ok", headers=headers)

    def successes(self) -> list[Call]:
        return [c for c in self.calls if 200 <= c.answer < 300]


async def _send(gw: Gateway, **params: str) -> str:
    async with gw.client() as http:
        reply = await http.post("/sendSMS.do", data={"accessToken": gw.token, **params})
    text = reply.content.decode("iso-8859-15")
    assert text.startswith("0 | "), text
    return text.rsplit(" | ", 1)[1]


async def _callback_states(gw: Gateway) -> list[tuple[str, str | None]]:
    async with gw.db.reader.connect() as conn:
        rows = await conn.execute(select(callbacks.c.state, callbacks.c.last_error).order_by(callbacks.c.id))
        return [(r.state, r.last_error) for r in rows]


async def _all_in(gw: Gateway, state: str, count: int) -> bool:
    states = await _callback_states(gw)
    return len(states) == count and all(s == state for s, _ in states)


def _check_exactly_once_in_order(receiver: Receiver, recipients: int) -> dict[str, list[Call]]:
    ok = receiver.successes()
    per_event: dict[str, int] = defaultdict(int)
    for call in ok:
        per_event[call.event] += 1
    assert len(per_event) == 3 * recipients
    assert all(n == 1 for n in per_event.values()), per_event
    per_number: dict[str, list[Call]] = defaultdict(list)
    for call in ok:
        per_number[call.query["numero"]].append(call)
    assert len(per_number) == recipients
    for calls in per_number.values():
        assert [c.query["statut"] for c in calls] == ["0", "13", "11"]
        ids = [int(c.event[1:]) for c in calls]
        assert ids == sorted(ids)
    return per_number


async def test_every_status_change_arrives_once_in_order_signed(database_url: str) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        async with running_gateway(database_url, callbacks=FAST) as gw:
            url = f"http://127.0.0.1:{receiver.port}/dlr?x=1"
            sms_id = await _send(
                gw, numero="0612345678,0612345679", message="hello", notification_url=url, refClient="ref-42"
            )
            await wait_for(lambda: _all_in(gw, "delivered", 6), timeout=15)
            async with gw.db.reader.connect() as conn:
                secret = await conn.scalar(select(accounts.c.webhook_secret).where(accounts.c.login == "acme"))
                history = {
                    f"h{r.id}": r
                    for r in await conn.execute(
                        select(status_history.c.id, status_history.c.at, status_history.c.code, messages.c.msisdn, messages.c.cost)
                        .join(messages, messages.c.id == status_history.c.message_id)
                    )
                }
        assert secret is not None and len(secret) == 64
        per_number = _check_exactly_once_in_order(receiver, 2)
        assert set(per_number) == {"33612345678", "33612345679"}
        for call in receiver.calls:
            assert call.target.startswith("/dlr?x=1&numero=")
            assert verify(secret, call.target, call.signature, now=time.time())
            row = history[call.event]
            assert call.query == {
                "x": "1",
                "numero": row.msisdn,
                "date_reception": date_reception(row.at, "Europe/Paris"),
                "statut": str(row.code),
                "smsID": sms_id,
                "refClient": "ref-42",
                "mcc_mnc": "",
                "cost": format_credits(row.cost),
            }
    finally:
        await receiver.stop()


async def test_failures_429_and_an_outage_still_deliver_each_event_once_in_order(database_url: str) -> None:
    receiver = Receiver(answers=[500, 500, 500, (429, {"Retry-After": "1"})])
    await receiver.start()
    try:
        async with running_gateway(database_url, callbacks=FAST) as gw:
            url = f"http://127.0.0.1:{receiver.port}/dlr"
            await _send(gw, numero="0612345678,0612345679", message="hello", notification_url=url)

            async def throttled() -> Call | None:
                return next((c for c in receiver.calls if c.answer == 429), None)

            paused = await wait_for(throttled, timeout=10, interval=0.01)
            await asyncio.sleep(0.5)
            await receiver.stop()  # down from 0.5 s into the pause until 2.5 s after it began
            await asyncio.sleep(2.0)
            await receiver.start()
            await wait_for(lambda: _all_in(gw, "delivered", 6), timeout=15)
            async with gw.db.reader.connect() as conn:
                attempts = (await conn.execute(select(callbacks.c.attempts))).scalars().all()
        # Nothing was asked of the host while it said to wait (bar requests already on their way).
        assert not [c for c in receiver.calls if paused.at + 0.1 < c.at < paused.at + 0.9]
        assert sum(c.answer == 500 for c in receiver.calls) == 3
        assert sum(attempts) >= 6 + 4 + 1  # every success, the four refusals, at least one try during the outage
        _check_exactly_once_in_order(receiver, 2)
    finally:
        await receiver.stop()


async def test_urls_reaching_loopback_are_refused_unless_allowed(database_url: str) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        async with running_gateway(database_url, callbacks={"retry_first": 0.2}) as gw:
            await _send(gw, numero="0612345678", message="a", notification_url=f"http://localhost:{receiver.port}/d")
            await _send(gw, numero="0612345679", message="b", notification_url=f"http://127.0.0.1:{receiver.port}/d")
            await _send(gw, numero="0612345670", message="c", notification_url="ftp://example.com/d")
            try:
                await wait_for(lambda: _all_in(gw, "failed", 9), timeout=10)
            finally:
                states = await _callback_states(gw)
                print(states)
        assert receiver.calls == []
        errors = [error or "" for _, error in states]
        assert sum("loopback" in e for e in errors) == 6, errors
        assert sum("scheme" in e for e in errors) == 3, errors
    finally:
        await receiver.stop()
