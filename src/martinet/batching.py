"""Group commit: many concurrent callers, one transaction (and shared lookups: one query for many callers).

Callers `await submit(item)`; a single task takes whatever has queued up while the previous batch was being
written and hands it to `commit` in one call. Nothing waits for a timer: an idle system writes a lone item at
once, a busy one writes big batches. Each caller gets its own item's result, or the batch's exception — never
a success for something that was not written.

A writer that must wait for the database before it can write (SQLite's write lock, held in turn by the node's
processes) passes that wait as `turn`: the task enters it once an item has come and takes the batch only then,
so that what queued during the wait is written in this transaction, not in the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
K = TypeVar("K")


class GroupCommitter(Generic[T, R]):
    def __init__(
        self,
        commit: Callable[[list[T]], Awaitable[Sequence[R]]],
        *,
        weight: Callable[[T], int] = lambda _item: 1,
        max_weight: int = 10_000,
        name: str = "group-commit",
        turn: Callable[[], AbstractAsyncContextManager[object]] = contextlib.nullcontext,
    ) -> None:
        self._commit = commit
        self._turn = turn
        self._weight = weight
        self._max_weight = max_weight
        self._name = name
        self._queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def submit(self, item: T) -> R:
        return await self.enqueue(item)

    def enqueue(self, item: T) -> asyncio.Future[R]:
        """Queue `item` for the next batch without waiting for it: the future resolves once it is committed.

        For callers that must not hold up what they are doing (a connector reporting its carrier's answers) but
        still want the item written as soon as the committer can take it.
        """
        if self._task is None:
            raise RuntimeError(f"{self._name}: start() was not called")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, future))
        return future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            try:
                async with self._turn():
                    self._fill(batch)
                    await self._flush(batch)
            except Exception as exc:  # the turn could not be had (nor given back): this batch fails, not the next
                _fail(batch, exc)

    def _fill(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        weight = sum(self._weight(item) for item, _ in batch)
        while not self._queue.empty() and weight < self._max_weight:
            entry = self._queue.get_nowait()
            batch.append(entry)
            weight += self._weight(entry[0])

    async def _flush(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._commit([item for item, _ in batch])
        except Exception as exc:
            _fail(batch, exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)


def _fail(batch: list[tuple[T, asyncio.Future[R]]], exc: Exception) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)


class SharedLookups(Generic[K, R]):
    """Concurrent lookups of the same key share one run: the first caller's, which the others await.

    A cache in front of the store expires all at once under load: every request in flight then misses together
    and each would query the store for the same row (64 connections, 64 identical queries every few seconds).
    The shared run is shielded, so a caller that is cancelled does not cancel the others' answer; an exception
    reaches every caller, and the next lookup after it runs afresh.
    """

    def __init__(self) -> None:
        self._running: dict[K, asyncio.Future[R]] = {}

    async def run(self, key: K, lookup: Callable[[], Awaitable[R]]) -> R:
        running = self._running.get(key)
        if running is None:
            running = self._running[key] = asyncio.ensure_future(lookup())
            running.add_done_callback(functools.partial(self._done, key))
        return await asyncio.shield(running)

    def _done(self, key: K, future: asyncio.Future[R]) -> None:
        if self._running.get(key) is future:
            del self._running[key]
        if not future.cancelled():
            future.exception()  # retrieved here too: every caller may have been cancelled meanwhile
