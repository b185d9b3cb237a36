"""Running the engine: connectors started, receipts recorded, scheduler, dispatcher and heartbeat looping."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from martinet import logs, metrics
from martinet.connectors.base import Connector, InFlight, ReadsCarrierIds, ReportsWindow
from martinet.domain.valueclass import valueclass
from martinet.engine.cycles import retried
from martinet.engine.deadlines import ReceiptDeadlines
from martinet.engine.dispatcher import Dispatcher
from martinet.engine.notifier import Notifier
from martinet.engine.receipts import InboundRecorder, ReceiptRecorder
from martinet.engine.scheduler import Scheduler, Tidy
from martinet.engine.wakeup import listen
from martinet.store.dispatch import DispatchStore
from martinet.store.inbound import InboundStore
from martinet.store.nodes import NodeStore
from martinet.store.receipts import ReceiptStore
from martinet.store.scheduler import ScheduleStore

log = logs.get_logger(__name__)
_start_log = logging.getLogger(__name__)  # the start's retries log as the loops' do (martinet.engine.cycles)


@valueclass
class EngineTimings:
    poll_interval: float  # seconds between queue polls when nothing wakes the dispatcher
    schedule_interval: float = 1.0
    heartbeat: float = 2.0  # seconds between two signs of life; silent for 3× this, an engine is not counted
    unmatched_receipts_ttl: float = 6 * 3600.0  # seconds a receipt naming no known part is kept
    deadline_interval: float = 5.0  # seconds between two looks for parts whose final receipt is overdue


class Engine:
    def __init__(
        self,
        dispatch: DispatchStore,
        schedule: ScheduleStore,
        receipts: ReceiptStore,
        inbound: InboundStore,
        nodes: NodeStore,
        connectors: Sequence[Connector],
        dispatcher: Dispatcher,
        *,
        owner: str,
        node: str,
        database_url: str,
        timings: EngineTimings,
        now_ms: Callable[[], int],
        notifier: Notifier | None = None,
        tidy: Sequence[Tidy] = (),
    ) -> None:
        """`tidy`: housekeeping jobs the scheduler runs every minute (each returns how much it removed)."""
        if not connectors:
            raise ValueError("the engine needs at least one connector")
        self._dispatch = dispatch
        self._receipts = receipts
        self._nodes = nodes
        self._connectors = list(connectors)
        self._recorder = ReceiptRecorder(receipts)
        self._inbound = InboundRecorder(inbound)
        self._dispatcher = dispatcher
        self._scheduler = Scheduler(
            schedule,
            receipts,
            dispatcher.announce,
            timings.schedule_interval,
            id_readings=self.id_readings,
            unmatched_ttl=timings.unmatched_receipts_ttl,
            tidy=tidy,
        )
        self._deadlines = ReceiptDeadlines(
            receipts, {c.name: c for c in self._connectors}, now_ms, timings.deadline_interval
        )
        self._owner = owner
        self._node = node
        self._url = database_url
        self._timings = timings
        self._notifier = notifier
        self._share = 1.0
        # Per connector: (monotonic time, parts submitted) at the previous heartbeat, for the live throughput.
        self._readings: dict[str, tuple[float, float]] = {}
        self._heartbeat_tracebacks = logs.Tracebacks(time.monotonic)  # a beat fails each time while the store does
        self.started = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        # Every line of this engine, its tasks' included (they copy this context), names the node: several
        # engines log to one place when they share a database.
        structlog.contextvars.bind_contextvars(node=self._node, owner=self._owner)
        self._recorder.start()
        self._inbound.start()
        try:
            released = await retried(
                "taking back this node's claims", _start_log, stop, lambda: self._dispatch.release_leases(self._node)
            )
            if released:
                log.warning("took back messages claimed by an earlier run of this node", messages=released)
            await retried("the first heartbeat", _start_log, stop, self._beat)
            if stop.is_set():
                return
            for connector in self._connectors:
                await connector.start(self._recorder, self._inbound)
                reading = functools.partial(self._receipts.pending_parts, connector.name)
                pending = await retried("reading the parts awaiting receipts", _start_log, stop, reading)
                if pending is None:
                    return  # stopped before the store answered
                await connector.resume([InFlight(p.carrier_id, p.msisdn, p.code) for p in pending])
                if pending:
                    log.info("resumed parts awaiting receipts", connector=connector.name, parts=len(pending))
            # At once, so readiness sees the connectors started without waiting a heartbeat.
            await retried("the heartbeat of the connectors started", _start_log, stop, self._beat)
            if stop.is_set():
                return
            self.started.set()
            log.info("engine started", connectors=[c.name for c in self._connectors])
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._scheduler.run(stop))
                tasks.create_task(self._deadlines.run(stop))
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
                except Exception as exc:
                    log.error("heartbeat failed", error=logs.failure(exc), exc_info=self._heartbeat_tracebacks.of(exc))

    async def _beat(self) -> None:
        """Say this engine is alive (with its status) and take its share of every connector's throughput."""
        live = await self._nodes.heartbeat(self._owner, self._node, int(self._timings.heartbeat * 3000), self.status())
        share = 1.0 / live
        if share != self._share:
            log.info("engines share the connectors", engines=live, share_percent=round(share * 100))
            self._share = share
            for connector in self._connectors:
                connector.set_share(share)

    def id_readings(self) -> dict[str, str]:
        """How each connector that knows it reads message IDs in receipts (see `ReadsCarrierIds`)."""
        return {c.name: c.id_reading for c in self._connectors if isinstance(c, ReadsCarrierIds) and c.id_reading}

    def status(self) -> dict[str, Any]:
        """What readiness checks and `martinet status` read: each connector's readiness and its parts/s since
        the previous call (0 on the first)."""
        now = time.monotonic()
        connectors = []
        for connector in self._connectors:
            reading = metrics.parts_submitted(connector.name)
            previous = self._readings.get(connector.name)
            rate = 0.0
            if previous is not None and now > previous[0]:
                rate = max(0.0, (reading - previous[1]) / (now - previous[0]))
            self._readings[connector.name] = (now, reading)
            entry: dict[str, Any] = {
                "name": connector.name,
                "ready": bool(connector.ready),
                "throughput": round(rate, 2),
            }
            if isinstance(connector, ReadsCarrierIds):
                entry["id_reading"] = connector.id_reading or "learning"
            if isinstance(connector, ReportsWindow):
                entry["window_in_use"] = connector.window_in_use
                entry["refusals"] = {f"0x{status:08X}": count for status, count in connector.refusals.items()}
            connectors.append(entry)
        return {"pid": os.getpid(), "share": self._share, "connectors": connectors}
