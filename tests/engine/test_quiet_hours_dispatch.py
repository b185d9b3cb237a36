"""Marketing held outside the allowed hours, released at the opening — the real dispatcher on a moved clock."""

from __future__ import annotations

import random
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from martinet.connectors.sandbox import SandboxConnector
from martinet.domain.quiet_hours import QuietHours, window
from martinet.domain.routing import OperatorLookup, Router
from martinet.domain.status import State
from martinet.engine.breaker import CircuitBreaker
from martinet.engine.dispatcher import Dispatcher, DispatchSettings
from martinet.engine.receipts import InboundRecorder, ReceiptRecorder
from martinet.store.acceptance import AcceptanceWriter, NewMessage, NewSend
from martinet.store.accounts import AccountStore
from martinet.store.database import Database
from martinet.store.dispatch import DispatchStore
from martinet.store.inbound import InboundStore
from martinet.store.receipts import ReceiptStore
from martinet.store.scheduler import ScheduleStore
from martinet.store.schema import messages, status_history

PARIS = ZoneInfo("Europe/Paris")


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=PARIS).timestamp() * 1000)


class Clock:
    def __init__(self, at: str) -> None:
        self.now = _ms(at)

    def __call__(self) -> int:
        return self.now


async def _scheduled_campaign(db: Database, clock: Clock, at: str, lane: str, count: int) -> None:
    accounts = AccountStore(db, clock)
    account = await accounts.create(
        f"acct-{lane}", password_hash=None, language="fr", timezone="Europe/Paris", lane=lane, non_gsm="replace"
    )
    await accounts.post(account.id, 1_000_000, "topup")
    writer = AcceptanceWriter(db)
    await writer.start()
    try:
        due = _ms(at)
        recipients = [NewMessage(f"3361234{i:04d}", "FR", State.SCHEDULED, 10, 45, due) for i in range(count)]
        send = NewSend(
            f"S-{lane}",
            account.id,
            clock(),
            due,
            "Promo",
            "GSM-7",
            1,
            2,
            None,
            None,
            None,
            None,
            lane,
            45 * count,
            recipients,
        )
        assert await writer.accept(send)
    finally:
        await writer.stop()


async def _step(schedule: ScheduleStore, dispatcher: Dispatcher) -> None:
    await schedule.release_scheduled()
    while await dispatcher.run_once():
        pass
    await dispatcher.settle()


async def _states(db: Database, lane: str) -> set[str]:
    async with db.reader.connect() as conn:
        rows = await conn.execute(select(messages.c.state).where(messages.c.lane == lane).distinct())
        return {row.state for row in rows}


async def test_a_campaign_scheduled_on_sunday_goes_out_on_monday_at_eight(db: Database) -> None:
    clock = Clock("2026-11-28T12:00:00")  # Saturday
    await _scheduled_campaign(db, clock, "2026-11-29T10:00:00", "marketing", 20)  # Sunday morning
    await _scheduled_campaign(db, clock, "2026-11-29T10:00:00", "notification", 2)  # not subject to the rule
    schedule = ScheduleStore(db, clock)
    sandbox = SandboxConnector("sandbox", operator_delay=0, handset_delay=0)
    receipts, inbound = ReceiptRecorder(ReceiptStore(db, clock)), InboundRecorder(InboundStore(db))
    receipts.start()
    inbound.start()
    await sandbox.start(receipts, inbound)
    dispatcher = Dispatcher(
        DispatchStore(db, clock),
        {"sandbox": sandbox},
        {"sandbox": CircuitBreaker(5, 30, lambda: clock.now / 1000)},
        Router([], ["sandbox"], OperatorLookup.default()),
        QuietHours({"FR": window("FR", "Europe/Paris", "08:00", "20:00", ["sunday"], True)}),
        DispatchSettings("n", "n:1", 100, 60_000, 5_000, 300_000),
        clock,
        sandbox=None,
        rng=random.Random(1),
    )
    dispatcher.start()
    try:
        clock.now = _ms("2026-11-29T10:00:00")
        await _step(schedule, dispatcher)
        assert await _states(db, "marketing") == {"scheduled"}  # held
        assert await _states(db, "notification") != {"scheduled"}  # released and sent
        assert sandbox.submitted == 2

        clock.now = _ms("2026-11-30T07:59:59")  # Monday, a second early
        await _step(schedule, dispatcher)
        assert await _states(db, "marketing") == {"scheduled"}

        clock.now = _ms("2026-11-30T08:00:00")
        await _step(schedule, dispatcher)
        assert sandbox.submitted == 22
        assert "scheduled" not in await _states(db, "marketing")
    finally:
        await dispatcher.stop()
        await sandbox.stop()
        await receipts.stop()
        await inbound.stop()
    async with db.reader.connect() as conn:
        details = (
            (await conn.execute(select(status_history.c.detail).where(status_history.c.state == "scheduled")))
            .scalars()
            .all()
        )
    assert any(d and "until 2026-11-30 08:00" in d for d in details)
    async with db.reader.connect() as conn:
        sent = (
            (
                await conn.execute(
                    select(status_history.c.message_id)
                    .join(messages, messages.c.id == status_history.c.message_id)
                    .where(status_history.c.code == 0, messages.c.lane == "marketing")
                    .order_by(status_history.c.id)
                )
            )
            .scalars()
            .all()
        )
    assert sent == sorted(sent) and len(sent) == 20  # released in the order they were accepted
