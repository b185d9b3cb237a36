"""Shared lookups (`martinet.batching.SharedLookups`): one run per key for the callers that ask at once."""

from __future__ import annotations

import asyncio

import pytest

from martinet.batching import SharedLookups


class Lookup:
    """Answers once released, counting its runs."""

    def __init__(self) -> None:
        self.runs = 0
        self.release = asyncio.Event()
        self.fail: Exception | None = None

    async def __call__(self) -> int:
        self.runs += 1
        await self.release.wait()
        if self.fail is not None:
            raise self.fail
        return self.runs


async def test_callers_asking_at_once_share_one_run_and_a_later_caller_runs_again() -> None:
    lookups: SharedLookups[str, int] = SharedLookups()
    lookup = Lookup()
    callers = [asyncio.create_task(lookups.run("k", lookup)) for _ in range(10)]
    other = asyncio.create_task(lookups.run("other key", lookup))
    await asyncio.sleep(0)
    lookup.release.set()
    assert {await caller for caller in callers} == {1}
    assert await other == 2
    assert await lookups.run("k", lookup) == 3  # the shared run is over: a new one


async def test_a_failed_run_reaches_every_caller_and_the_next_caller_runs_afresh() -> None:
    lookups: SharedLookups[str, int] = SharedLookups()
    lookup = Lookup()
    lookup.fail = RuntimeError("store down")
    callers = [asyncio.create_task(lookups.run("k", lookup)) for _ in range(3)]
    await asyncio.sleep(0)
    lookup.release.set()
    for caller in callers:
        with pytest.raises(RuntimeError, match="store down"):
            await caller
    lookup.fail = None
    assert await lookups.run("k", lookup) == 2


async def test_a_cancelled_caller_leaves_the_others_their_answer() -> None:
    lookups: SharedLookups[str, int] = SharedLookups()
    lookup = Lookup()
    first = asyncio.create_task(lookups.run("k", lookup))
    second = asyncio.create_task(lookups.run("k", lookup))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    lookup.release.set()
    assert await second == 1
    with pytest.raises(asyncio.CancelledError):
        await first
