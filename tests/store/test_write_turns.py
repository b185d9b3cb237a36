"""The write turns of one process: urgent writers (one-time password claims) go before those already waiting."""

from __future__ import annotations

import asyncio

from martinet.store.database import WriteTurns


async def test_an_urgent_writer_overtakes_the_queue_but_not_the_holder() -> None:
    turns = WriteTurns()
    order: list[str] = []
    holder_may_finish = asyncio.Event()

    async def write(name: str, urgent: bool = False, hold: asyncio.Event | None = None) -> None:
        async with turns.turn(urgent=urgent):
            order.append(name)
            if hold is not None:
                await hold.wait()

    first = asyncio.create_task(write("holder", hold=holder_may_finish))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(write(f"record-{i}")) for i in range(3)]
    await asyncio.sleep(0)
    urgent = asyncio.create_task(write("otp-claim", urgent=True))
    await asyncio.sleep(0)
    holder_may_finish.set()
    await asyncio.gather(first, urgent, *waiting)
    assert order == ["holder", "otp-claim", "record-0", "record-1", "record-2"]


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
