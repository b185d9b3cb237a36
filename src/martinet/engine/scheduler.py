"""The scheduler: the engine's clockwork. Releases scheduled messages when their time comes, and applies kept
receipts whose part has become known since they arrived."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from martinet.store.queue import QueueStore

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, queue: QueueStore, interval: float = 1.0) -> None:
        self._queue = queue
        self._interval = interval

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                released = await self._queue.release_scheduled()
                await self._queue.rematch_receipts()
            except Exception:
                log.exception("scheduler cycle failed")
                released = 0
            if released:
                log.info("released %d scheduled messages", released)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)
