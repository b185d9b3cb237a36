"""Running the engine: connectors started, receipts recorded, scheduler, dispatcher and heartbeat looping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from martinet.connectors.base import Connector, InFlight
from martinet.engine.dispatcher import Dispatcher
from martinet.engine.notifier import Notifier
from martinet.engine.receipts import InboundRecorder, ReceiptRecorder
from martinet.engine.scheduler import Scheduler, Tidy
from martinet.engine.wakeup import listen
from martinet.store.inbound import InboundStore
from martinet.store.nodes import NodeStore
from martinet.store.queue import QueueStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EngineTimings:
    poll_interval: float  # seconds between queue polls when nothing wakes the dispatcher
    schedule_interval: float = 1.0
    heartbeat: float = 2.0  # seconds between two signs of life; silent for 3× this, an engine is not counted


class Engine:
    def __init__(
        self,
        queue: QueueStore,
        inbound: InboundStore,
        nodes: NodeStore,
        connectors: Sequence[Connector],
        dispatcher: Dispatcher,
        *,
        owner: str,
        node: str,
        database_url: str,
        timings: EngineTimings,
        notifier: Notifier | None = None,
        tidy: Sequence[Tidy] = (),
    ) -> None:
        """`tidy`: housekeeping jobs the scheduler runs every minute (each returns how much it removed)."""
        if not connectors:
            raise ValueError("the engine needs at least one connector")
        self._queue = queue
        self._nodes = nodes
        self._connectors = list(connectors)
        self._recorder = ReceiptRecorder(queue)
        self._inbound = InboundRecorder(inbound)
        self._dispatcher = dispatcher
        self._scheduler = Scheduler(queue, dispatcher.announce, timings.schedule_interval, tidy=tidy)
        self._owner = owner
        self._node = node
        self._url = database_url
        self._timings = timings
        self._notifier = notifier
        self._share = 1.0
        self.started = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        self._recorder.start()
        self._inbound.start()
        released = await self._queue.release_leases(self._node)
        if released:
            log.warning("took back %d messages claimed by an earlier run of this node", released)
        try:
            await self._beat()
            for connector in self._connectors:
                await connector.start(self._recorder, self._inbound)
                pending = await self._queue.pending_parts(connector.name)
                await connector.resume([InFlight(p.carrier_id, p.msisdn, p.code) for p in pending])
            self.started.set()
            log.info("engine started with connectors %s", ", ".join(c.name for c in self._connectors))
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._scheduler.run(stop))
                tasks.create_task(self._heartbeats(stop))
                tasks.create_task(listen(self._url, self._dispatcher.announce, stop))
                tasks.create_task(self._dispatcher.run(stop, self._timings.poll_interval))
                if self._notifier is not None:
                    tasks.create_task(self._notifier.run(stop))
        finally:
            for connector in self._connectors:
                with contextlib.suppress(Exception):
                    await connector.stop()
            await self._recorder.stop()
            await self._inbound.stop()
            with contextlib.suppress(Exception):
                await self._nodes.leave(self._owner)

    async def _heartbeats(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._timings.heartbeat)
            if not stop.is_set():
                try:
                    await self._beat()
                except Exception:
                    log.exception("heartbeat failed")

    async def _beat(self) -> None:
        """Say this engine is alive and take its share of every connector's throughput."""
        live = await self._nodes.heartbeat(self._owner, self._node, int(self._timings.heartbeat * 3000))
        share = 1.0 / live
        if share != self._share:
            log.info("%d engines share the connectors; this one uses %.0f%% of each", live, share * 100)
            self._share = share
            for connector in self._connectors:
                connector.set_share(share)
