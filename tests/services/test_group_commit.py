"""Group commit (`martinet.batching.GroupCommitter`) behind a turn: the batch is taken once the turn is had, so
what queued while it was awaited is written with it; a turn that cannot be had fails its batch, not the next."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from martinet.batching import GroupCommitter

pytestmark = pytest.mark.unit


class Turn:
    """A turn that opens when told to (`open`), or fails once (`fail_next`)."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.fail_next: Exception | None = None

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[None]:
        await self.opened.wait()
        if self.fail_next is not None:
            failure, self.fail_next = self.fail_next, None
            raise failure
        yield


async def test_what_queues_while_the_turn_is_awaited_goes_into_the_same_batch() -> None:
    batches: list[list[int]] = []

    async def commit(items: list[int]) -> list[int]:
        batches.append(items)
        return [item * 10 for item in items]

    turn = Turn()
    committer: GroupCommitter[int, int] = GroupCommitter(commit, turn=turn)
    committer.start()
    try:
        first = committer.enqueue(1)
        await asyncio.sleep(0.01)  # the committer took item 1 and waits for its turn
        later = [committer.enqueue(i) for i in (2, 3, 4)]
        turn.opened.set()
        assert await asyncio.gather(first, *later) == [10, 20, 30, 40]
    finally:
        await committer.stop()
    assert batches == [[1, 2, 3, 4]]


async def test_a_turn_that_cannot_be_had_fails_its_batch_and_the_next_one_is_written() -> None:
    written: list[int] = []

    async def commit(items: list[int]) -> list[None]:
        written.extend(items)
        return [None] * len(items)

    turn = Turn()
    turn.fail_next = OSError("no lock file")
    committer: GroupCommitter[int, None] = GroupCommitter(commit, turn=turn)
    committer.start()
    try:
        failed = committer.enqueue(1)
        await asyncio.sleep(0.01)
        turn.opened.set()
        with pytest.raises(OSError, match="no lock file"):
            await failed
        async with asyncio.timeout(1):
            await committer.enqueue(2)
    finally:
        await committer.stop()
    assert written == [2]
