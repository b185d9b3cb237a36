"""The write turns of one process: urgent writers (one-time password claims) go before those already waiting, then
receipts, then the rest; and the time spent waiting for SQLite's write lock and holding it is counted."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import REGISTRY
from sqlalchemy import insert
from sqlalchemy.engine import Connection

from martinet.store.database import Database, Turn, WriteTurns
from martinet.store.schema import store_probes


async def test_urgent_writers_then_receipts_overtake_the_queue_but_not_the_holder() -> None:
    turns = WriteTurns()
    order: list[str] = []
    holder_may_finish = asyncio.Event()

    async def write(name: str, kind: Turn = Turn.NORMAL, hold: asyncio.Event | None = None) -> None:
        async with turns.turn(kind):
            order.append(name)
            if hold is not None:
                await hold.wait()

    first = asyncio.create_task(write("holder", hold=holder_may_finish))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(write(f"record-{i}")) for i in range(3)]
    await asyncio.sleep(0)
    receipts = asyncio.create_task(write("receipts", Turn.PROMPT))
    await asyncio.sleep(0)
    urgent = asyncio.create_task(write("otp-claim", Turn.URGENT))
    await asyncio.sleep(0)
    holder_may_finish.set()
    await asyncio.gather(first, urgent, receipts, *waiting)
    assert order == ["holder", "otp-claim", "receipts", "record-0", "record-1", "record-2"]


async def test_a_cancelled_waiter_does_not_keep_the_turn() -> None:
    turns = WriteTurns()
    release = asyncio.Event()

    async def hold() -> None:
        async with turns.turn():
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    cancelled = asyncio.create_task(hold())
    await asyncio.sleep(0)
    cancelled.cancel()
    release.set()
    await holder
    async with asyncio.timeout(1):  # the turn is free again
        async with turns.turn():
            pass


def _lock_seconds(phase: str) -> float:
    return REGISTRY.get_sample_value("martinet_sqlite_write_lock_seconds_total", {"phase": phase}) or 0.0


async def test_the_time_holding_sqlite_write_lock_is_counted_and_postgresql_counts_none(db: Database) -> None:
    before = _lock_seconds("held"), _lock_seconds("wait")

    def slow_work(conn: Connection) -> None:
        conn.execute(insert(store_probes).values(owner="probe", written_at=1))
        time.sleep(0.05)  # inside the transaction: held, not waited

    await db.run_write(slow_work)
    async with db.write() as conn:  # the asyncio path counts too
        await conn.execute(insert(store_probes).values(owner="probe-2", written_at=1))
    held, waited = _lock_seconds("held") - before[0], _lock_seconds("wait") - before[1]

    if db.sync_writer is None:  # PostgreSQL: no process-wide write lock to count
        assert (held, waited) == (0.0, 0.0)
    else:
        assert held >= 0.05
        assert 0.0 <= waited < held
