"""The write turns of one process: urgent writers (one-time password claims) go before those already waiting, then
receipts, then the rest."""

from __future__ import annotations

import asyncio

from martinet.store.database import Turn, WriteTurns


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
