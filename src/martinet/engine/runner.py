"""Running the engine: connectors started, receipts recorded, scheduler and dispatcher looping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from martinet.connectors.base import Connector, InFlight
from martinet.connectors.sandbox import SandboxConnector
from martinet.engine.dispatcher import Dispatcher, DispatchSettings
from martinet.engine.receipts import InboundRecorder, ReceiptRecorder
from martinet.engine.scheduler import Scheduler
from martinet.store.inbound import InboundStore
from martinet.store.queue import QueueStore

log = logging.getLogger(__name__)


class Engine:
    def __init__(
        self,
        queue: QueueStore,
        inbound: InboundStore,
        connectors: Sequence[Connector],
        settings: DispatchSettings,
        now_ms: Callable[[], int],
        *,
        poll_interval: float,
        schedule_interval: float = 1.0,
        dispatchers: int = 1,
    ) -> None:
        if not connectors:
            raise ValueError("the engine needs at least one connector")
        self._queue = queue
        self._connectors = list(connectors)
        self._recorder = ReceiptRecorder(queue)
        self._inbound = InboundRecorder(inbound)
        sandbox = next((c for c in self._connectors if isinstance(c, SandboxConnector)), None)
        carrier = next((c for c in self._connectors if not isinstance(c, SandboxConnector)), sandbox)
        assert carrier is not None
        self._dispatcher = Dispatcher(queue, carrier, sandbox, settings, now_ms)
        self._scheduler = Scheduler(queue, schedule_interval)
        self._poll_interval = poll_interval
        self._settings = settings
        self._dispatchers = dispatchers
        self.started = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        self._recorder.start()
        self._inbound.start()
        released = await self._queue.release_leases(self._settings.node)
        if released:
            log.warning("took back %d messages claimed by an earlier run of this node", released)
        try:
            for connector in self._connectors:
                await connector.start(self._recorder, self._inbound)
                pending = await self._queue.pending_parts(connector.name)
                await connector.resume([InFlight(p.carrier_id, p.msisdn, p.code) for p in pending])
            self.started.set()
            log.info("engine started with connectors %s", ", ".join(c.name for c in self._connectors))
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._scheduler.run(stop))
                # Several dispatch loops overlap claiming, submitting and recording: while one waits for the
                # carrier's answers, another claims and records. Claims are atomic, so they never share work.
                for _ in range(self._dispatchers):
                    tasks.create_task(self._dispatcher.run(stop, self._poll_interval))
        finally:
            for connector in self._connectors:
                with contextlib.suppress(Exception):
                    await connector.stop()
            await self._recorder.stop()
            await self._inbound.stop()
