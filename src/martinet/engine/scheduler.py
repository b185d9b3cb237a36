"""The scheduler: the engine's clockwork.

Every tick it releases scheduled messages whose time has come (held marketing included), returns to the queue
messages whose lease ran out (their engine died), expires queued messages whose validity ended (even when no
connector is up to claim them), and applies kept receipts whose part has become known since they arrived (or
whose connector has learned how its carrier writes message IDs). It wakes the dispatcher when it released
anything. Less often (`tidy_interval`) it runs the housekeeping jobs it was given, such as forgetting idempotency
keys past their lifetime, and forgets receipts kept longer than `unmatched_ttl` without finding their part
(logged and counted: their part was never recorded, or belongs to another system on the same carrier account).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from martinet.engine.cycles import CycleFailures
from martinet.store.receipts import ReceiptStore
from martinet.store.scheduler import ScheduleStore

log = logging.getLogger(__name__)


Tidy = Callable[[], Awaitable[int]]
#: connector → the reading it applies to receipt IDs, for the connectors that know it (configured or learned).
IdReadings = Callable[[], Mapping[str, str]]


class Scheduler:
    def __init__(
        self,
        schedule: ScheduleStore,
        receipts: ReceiptStore,
        wake: Callable[[], None],
        interval: float = 1.0,
        *,
        id_readings: IdReadings = dict,
        unmatched_ttl: float = 6 * 3600.0,
        tidy: Sequence[Tidy] = (),
        tidy_interval: float = 60.0,
    ) -> None:
        self._schedule = schedule
        self._receipts = receipts
        self._id_readings = id_readings
        self._unmatched_ttl_ms = int(unmatched_ttl * 1000)
        self._wake = wake
        self._interval = interval
        self._tidy = list(tidy)
        self._tidy_interval = tidy_interval
        self._tidied = -float("inf")

    async def run(self, stop: asyncio.Event) -> None:
        failures = CycleFailures("scheduler cycle", log)
        while not stop.is_set():
            await self._housekeeping()
            released = 0
            wait = self._interval
            try:
                released = await self._schedule.release_scheduled()
                abandoned = await self._schedule.take_back_abandoned()
                await self._schedule.expire_overdue()
                await self._receipts.settle(self._id_readings())
            except Exception as exc:
                wait = max(wait, failures.failed(exc))
                abandoned = 0
            else:
                failures.succeeded()
            if released:
                log.info("released %d scheduled messages", released)
            if abandoned:
                log.warning("took back %d messages whose engine let its lease expire", abandoned)
            if released or abandoned:
                self._wake()
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)

    async def _housekeeping(self) -> None:
        if time.monotonic() - self._tidied < self._tidy_interval:
            return
        self._tidied = time.monotonic()
        for job in (*self._tidy, self._forget_kept_receipts):
            try:
                await job()
            except Exception:
                log.exception("housekeeping job failed")

    async def _forget_kept_receipts(self) -> int:
        expired = await self._receipts.expire_kept(self._unmatched_ttl_ms)
        for connector, count in expired.items():
            log.warning(
                "%s: forgot %d receipts that named no part for %d s (engine.unmatched_receipts_ttl)",
                connector,
                count,
                self._unmatched_ttl_ms // 1000,
            )
        return sum(expired.values())
