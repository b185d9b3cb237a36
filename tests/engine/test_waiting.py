"""`first_of`: the engine loops' "until one of these events, or a timeout" leaves no waiting task behind."""

import asyncio

from martinet.engine.waiting import first_of


async def test_returns_when_any_event_is_set_and_leaves_no_task() -> None:
    before = asyncio.all_tasks()
    stop, wake = asyncio.Event(), asyncio.Event()
    asyncio.get_running_loop().call_soon(wake.set)
    await first_of(stop, wake)  # no timeout: only the event can end it
    await asyncio.sleep(0)  # let the cancelled waiters finish
    assert wake.is_set() and not stop.is_set()
    assert asyncio.all_tasks() == before


async def test_returns_after_the_timeout_when_no_event_is_set() -> None:
    before = asyncio.all_tasks()
    quiet = asyncio.Event()
    await first_of(quiet, within=0)
    await asyncio.sleep(0)
    assert not quiet.is_set()
    assert asyncio.all_tasks() == before
