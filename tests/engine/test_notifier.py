"""Status callbacks delivered by the engine's notifier to a real HTTP receiver on loopback, on both databases."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy import select, update

from martinet.domain.credits import format_credits
from martinet.domain.networks import load_network_dataset
from martinet.domain.status import FINAL_STATES
from martinet.domain.webhooks import date_reception, verify
from martinet.store.outbox import REPORTED_STATES
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


async def _callback_states(gw: Gateway) -> dict[str, tuple[str, str | None]]:
    """Event id → (state, last_error) of every callback."""
    async with gw.db.reader.connect() as conn:
        rows = await conn.execute(select(callbacks.c.history_id, callbacks.c.state, callbacks.c.last_error))
        return {f"h{r.history_id}": (r.state, r.last_error) for r in rows}


async def _reportable(gw: Gateway) -> dict[str, list[str]] | None:
    """Recipient → its reportable status events in order, once every message is final (else None).

    From the history rather than a fixed list: under load the sandbox's 13 and 11 may be recorded as one change.
    """
    async with gw.db.reader.connect() as conn:
        states = (await conn.execute(select(messages.c.state))).scalars().all()
        if not states or any(s not in FINAL_STATES for s in states):
            return None
        rows = await conn.execute(
            select(status_history.c.id, messages.c.msisdn)
            .join(messages, messages.c.id == status_history.c.message_id)
            .where(status_history.c.state.in_([s.value for s in REPORTED_STATES]))
            .order_by(status_history.c.id)
        )
        events: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            events[row.msisdn].append(f"h{row.id}")
        return dict(events)


async def _settled(gw: Gateway, state: str) -> dict[str, list[str]] | None:
    """The reportable events once every message is final and every callback is in `state`."""
    expected = await _reportable(gw)
    if expected is None:
        return None
    callback_states = await _callback_states(gw)
    events = {e for evs in expected.values() for e in evs}
    if set(callback_states) != events or any(s != state for s, _ in callback_states.values()):
        return None
    return expected


def _check_exactly_once_in_order(receiver: Receiver, expected: dict[str, list[str]]) -> dict[str, list[Call]]:
    ok = receiver.successes()
    per_event: dict[str, int] = defaultdict(int)
    for call in ok:
        per_event[call.event] += 1
    assert set(per_event) == {e for evs in expected.values() for e in evs}
    assert all(n == 1 for n in per_event.values()), per_event
    per_number: dict[str, list[Call]] = defaultdict(list)
    for call in ok:
        per_number[call.query["numero"]].append(call)
    assert set(per_number) == set(expected)
    for number, calls in per_number.items():
        assert [c.event for c in calls] == expected[number]
        assert calls[0].query["statut"] == "0" and calls[-1].query["statut"] == "11"
    return per_number


async def test_every_status_change_arrives_once_in_order_signed(database_url: str) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        async with running_gateway(database_url, callbacks=FAST) as gw:
            url = f"http://127.0.0.1:{receiver.port}/dlr?x=1"
            sms_id = await _send(
                gw, numero="0612345678,+2348031234567", message="hello", notification_url=url, refClient="ref-42"
            )
            expected = await wait_for(lambda: _settled(gw, "delivered"), timeout=15)
            async with gw.db.reader.connect() as conn:
                secret = await conn.scalar(select(accounts.c.webhook_secret).where(accounts.c.login == "acme"))
                history = {
                    f"h{r.id}": r
                    for r in await conn.execute(
                        select(
                            status_history.c.id,
                            status_history.c.at,
                            status_history.c.code,
                            messages.c.msisdn,
                            messages.c.cost,
                        ).join(messages, messages.c.id == status_history.c.message_id)
                    )
                }
        assert secret is not None and len(secret) == 64
        per_number = _check_exactly_once_in_order(receiver, expected)
        assert set(per_number) == {"33612345678", "2348031234567"}
        # SFR holds the 06 12 34 range (data/operators.toml); MTN Nigeria's code comes from the MCC/MNC data set.
        networks = {"33612345678": "20810", "2348031234567": "62130" if load_network_dataset() is not None else ""}
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
                "mcc_mnc": networks[row.msisdn],
                "cost": format_credits(row.cost),
            }
    finally:
        await receiver.stop()


async def test_a_url_typed_with_accents_and_spaces_is_sent_percent_encoded_and_signed_as_sent(
    database_url: str,
) -> None:
    """A PHP client's `notification_url` as its developer typed it: the receiver gets it as a browser would send it
    (UTF-8 escapes), reads back the values written, and the signature covers the target it received."""
    receiver = Receiver()
    await receiver.start()
    try:
        async with running_gateway(database_url, callbacks=FAST) as gw:
            url = f"http://127.0.0.1:{receiver.port}/dlr/café?client=Jean Dupont&ville=Orléans"
            await _send(gw, numero="0612345678", message="hello", notification_url=url)
            expected = await wait_for(lambda: _settled(gw, "delivered"), timeout=15)
            async with gw.db.reader.connect() as conn:
                secret = await conn.scalar(select(accounts.c.webhook_secret).where(accounts.c.login == "acme"))
        assert secret is not None
        _check_exactly_once_in_order(receiver, expected)
        for call in receiver.calls:
            assert call.target.startswith("/dlr/caf%C3%A9?client=Jean%20Dupont&ville=Orl%C3%A9ans&numero=")
            assert (call.query["client"], call.query["ville"]) == ("Jean Dupont", "Orléans")
            assert verify(secret, call.target, call.signature, now=time.time())
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
            expected = await wait_for(lambda: _settled(gw, "delivered"), timeout=15)
            async with gw.db.reader.connect() as conn:
                attempts = (await conn.execute(select(callbacks.c.attempts))).scalars().all()
        # Nothing was asked of the host while it said to wait (bar requests already on their way).
        assert not [c for c in receiver.calls if paused.at + 0.1 < c.at < paused.at + 0.9]
        assert sum(c.answer == 500 for c in receiver.calls) == 3
        events = sum(len(e) for e in expected.values())
        assert sum(attempts) >= events + 4 + 1  # every success, the four refusals, at least one try during the outage
        _check_exactly_once_in_order(receiver, expected)
    finally:
        await receiver.stop()


async def test_urls_reaching_loopback_are_refused_at_acceptance_and_at_delivery(database_url: str) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        async with running_gateway(database_url, callbacks={"retry_first": 0.2}) as gw:
            refusals = [
                await _refused(gw, notification_url=f"http://localhost:{receiver.port}/d"),
                await _refused(gw, notification_url=f"http://127.0.0.1:{receiver.port}/d"),
                await _refused(gw, notification_url_reponse="http://169.254.169.254/latest/meta-data"),
                await _refused(gw, notification_url="ftp://example.com/d"),
            ]
            # An account default set by the operator is only checked at delivery: the notifier refuses it too.
            async with gw.db.write() as conn:
                await conn.execute(update(accounts).values(callback_url=f"http://localhost:{receiver.port}/d"))
            await _send(gw, numero="0612345678", message="a")
            expected = await wait_for(lambda: _settled(gw, "failed"), timeout=10)
            states = await _callback_states(gw)
        assert all(r.startswith("35 | ") for r in refusals), refusals  # nothing stored for any of them
        assert "notification_url" in refusals[0] and "une adresse de bouclage" in refusals[0]
        assert "notification_url_reponse" in refusals[2] and "une adresse lien-local" in refusals[2]
        assert "schéma 'ftp' refusé" in refusals[3]
        assert receiver.calls == []
        assert expected and all("loopback" in (error or "") for _state, error in states.values()), states
    finally:
        await receiver.stop()


async def _refused(gw: Gateway, **params: str) -> str:
    async with gw.client() as http:
        reply = await http.post(
            "/sendSMS.do", data={"accessToken": gw.token, "numero": "0612345678", "message": "x", **params}
        )
    return reply.content.decode("iso-8859-15")


async def test_a_retry_after_beyond_any_date_pauses_no_longer_than_a_callback_lives(database_url: str) -> None:
    """`Retry-After: 10000000000000000` overflowed the store's integers (the batch's results were lost and
    callbacks sent again); it now pauses the host until the callbacks' age runs out, and they end failed."""
    receiver = Receiver(answers=[(429, {"Retry-After": "10000000000000000"})] * 50)
    await receiver.start()
    try:
        settings = {**FAST, "max_age_hours": 1 / 3600}  # one second
        async with running_gateway(database_url, callbacks=settings) as gw:
            url = f"http://127.0.0.1:{receiver.port}/dlr"
            await _send(gw, numero="0612345678", message="hello", notification_url=url)
            await wait_for(lambda: _settled(gw, "failed"), timeout=20)
        assert receiver.calls and all(c.answer == 429 for c in receiver.calls)
        tries = Counter(c.event for c in receiver.calls)
        assert max(tries.values()) <= 2, tries  # paused, then tried once more as it expires, and failed
    finally:
        await receiver.stop()
