"""The scheduler: the engine's clockwork.

Every tick it releases scheduled messages whose time has come (held marketing included), returns to the queue
messages whose lease ran out (their engine died), expires queued messages whose validity ended (even when no
connector is up to claim them), and applies kept receipts whose part has become known since
they arrived. It wakes the dispatcher when it released anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from martinet.store.queue import QueueStore

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, queue: QueueStore, wake: Callable[[], None], interval: float = 1.0) -> None:
        self._queue = queue
        self._wake = wake
        self._interval = interval

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            released = 0
            try:
                released = await self._queue.release_scheduled()
                abandoned = await self._queue.take_back_abandoned()
                await self._queue.expire_overdue()
                await self._queue.rematch_receipts()
            except Exception:
                log.exception("scheduler cycle failed")
                abandoned = 0
            if released:
                log.info("released %d scheduled messages", released)
            if abandoned:
                log.warning("took back %d messages whose engine let its lease expire", abandoned)
            if released or abandoned:
                self._wake()
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)
