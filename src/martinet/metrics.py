"""Prometheus metrics, correct whichever process counted them (docs/metrics.md).

`martinet serve` runs several HTTP workers and an engine; a scrape reaches one worker only. So when
`PROMETHEUS_MULTIPROC_DIR` is set (the supervisor sets it for its children, `martinet.server`), every process
writes its samples to its own files there and `/metrics` aggregates all of them, the engine's included. Without
it (one process: tests, embedding) the default registry is used as it is.

Counting happens on hot paths, so callers hold pre-bound children (`.labels()` once, at construction) and each
event costs one increment. The queue depth is not counted at all: it is read from the database when a scrape
asks (at most once per `admin.counts_max_age` seconds, `StoreCounts`), so it is right whichever process answers
and whatever happened while no process was looking.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from martinet.domain.credits import MILLI

log = logging.getLogger(__name__)

#: The environment variable prometheus_client reads (at import) to write samples to files instead of memory.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

DOORS = ("smsmode", "rest")
ACCEPT_RESULTS = ("accepted", "invalid", "no_credit", "rate_limited", "duplicate", "unauthorized", "error")
PART_RESULTS = ("accepted", "refused_temporary", "refused_permanent", "error")
CALLBACK_KINDS = ("status", "reply")
CALLBACK_OUTCOMES = ("delivered", "retry", "failed")
CREDIT_MOVEMENTS = ("debit", "refund", "topup", "withdrawal", "transfer")

ACCEPTS = Counter(
    "martinet_accepts",
    "Send requests answered by the doors, by door (smsmode, rest) and result.",
    ["door", "result"],
)
RECIPIENTS_ACCEPTED = Counter(
    "martinet_recipients_accepted",
    "Messages (one per valid recipient) created by accepted sends, by door.",
    ["door"],
)
PARTS_SUBMITTED = Counter(
    "martinet_parts_submitted",
    "SMS parts handed to a connector, by connector and what its carrier answered.",
    ["connector", "result"],
)
THROTTLED = Counter(
    "martinet_throttled",
    "Throttling answers (ESME_RTHROTTLED) received from the carrier, by connector.",
    ["connector"],
)
THROTTLE_WAIT = Histogram(
    "martinet_throttle_wait_seconds",
    "Time a part waited for a token and a window slot before going on the wire, by connector.",
    ["connector"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
BREAKER_STATE = Gauge(
    "martinet_breaker_state",
    "Circuit breaker of each connector: 0 closed, 1 half-open (probing), 2 open (resting).",
    ["connector"],
    multiprocess_mode="livemax",
)
RECEIPT_LATENCY = Histogram(
    "martinet_receipt_latency_seconds",
    "Time from a part's submission to its final delivery receipt, by connector.",
    ["connector"],
    buckets=(0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 4 * 3600.0, 86400.0),
)
CALLBACKS = Counter(
    "martinet_callbacks",
    "Callback requests made, by kind (status, reply) and outcome (delivered, retry, failed).",
    ["kind", "outcome"],
)
CREDITS = Counter(
    "martinet_credits",
    "Credits moved, by movement: debit (accepted sends), refund, topup and withdrawal (operators).",
    ["movement"],
)
RECEIPT_ID_READING = Gauge(
    "martinet_receipt_id_reading",
    "1 for how each connector reads message IDs in receipts (literal, decimal, hex), configured or learned; "
    "absent while an auto connector is still learning.",
    ["connector", "reading"],
    multiprocess_mode="livemax",
)
RECEIPT_DEADLINE = Counter(
    "martinet_receipt_deadline",
    "Parts whose final receipt was overdue, by connector and outcome: queried (the carrier's query_sm answer gave "
    "the final status) or unknown (recorded as 3599).",
    ["connector", "outcome"],
)
SQLITE_WRITE_LOCK = Counter(
    "martinet_sqlite_write_lock_seconds",
    "Seconds the gateway's processes spent waiting for SQLite's write lock (wait) and holding it (held). SQLite "
    "has one writer at a time: held seconds per elapsed second is how busy it is, the ceiling of a SQLite node.",
    ["phase"],
)
SQLITE_LOG_SYNC = Histogram(
    "martinet_sqlite_log_sync_seconds",
    "SQLite with sqlite_synchronous = full: how long each sync of the log took, made once the write lock is "
    "released and before the transaction's writers go on (not counted in the lock's held seconds).",
    buckets=(0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.0),
)
UNMATCHED_RECEIPTS_EXPIRED = Counter(
    "martinet_unmatched_receipts_expired",
    "Receipts that named no known part and were forgotten after engine.unmatched_receipts_ttl, by connector.",
    ["connector"],
)

# --- Receipts ---


def receipt_id_reading(connector: str, reading: str) -> None:
    """Publish the reading a connector applies to receipt IDs (`connectors.smpp.message_ids.Reading`)."""
    RECEIPT_ID_READING.labels(connector, reading).set(1)


def receipts_overdue(connector: str, queried: int, unknown: int) -> None:
    if queried:
        RECEIPT_DEADLINE.labels(connector, "queried").inc(queried)
    if unknown:
        RECEIPT_DEADLINE.labels(connector, "unknown").inc(unknown)


def unmatched_receipts_expired(counts: dict[str, int]) -> None:
    for connector, count in counts.items():
        UNMATCHED_RECEIPTS_EXPIRED.labels(connector).inc(count)


# --- Doors ---


#: How long a door's counts may wait in its process before they reach the Prometheus counters.
PUBLISH_DELAY = 0.2


class DoorCounters:
    """The accept counters of one door, published in bursts.

    In multiprocess mode every increment takes a lock and writes a memory-mapped file: two per send cost 4 % of
    an HTTP worker at 3,000 sends/s. So counts gather in plain integers and are published at most
    `PUBLISH_DELAY` seconds later (one timer per burst), and at once before this process renders `/metrics`.
    """

    def __init__(self, door: str) -> None:
        self._results = {result: ACCEPTS.labels(door, result) for result in ACCEPT_RESULTS}
        self._recipients = RECIPIENTS_ACCEPTED.labels(door)
        self._pending: dict[str, int] = {}
        self._pending_recipients = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        _DOORS.append(self)

    def answered(self, result: str) -> None:
        self._pending[result] = self._pending.get(result, 0) + 1
        self._publish_soon()

    def accepted(self, recipients: int) -> None:
        self._pending["accepted"] = self._pending.get("accepted", 0) + 1
        self._pending_recipients += recipients
        self._publish_soon()

    def publish(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_loop = None
        pending, self._pending = self._pending, {}
        for result, count in pending.items():
            self._results[result].inc(count)
        if self._pending_recipients:
            self._recipients.inc(self._pending_recipients)
            self._pending_recipients = 0

    def _publish_soon(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # counted outside an event loop: nothing would publish later
            self.publish()
            return
        if self._timer is not None and self._timer_loop is loop and not loop.is_closed():
            return
        self._timer, self._timer_loop = loop.call_later(PUBLISH_DELAY, self.publish), loop


_DOORS: list[DoorCounters] = []


# --- Connectors ---

#: Parts accepted per connector by this process, as plain numbers: the heartbeat reads them every few seconds.
_accepted_parts: dict[str, float] = {}


def parts_submitted(connector: str) -> float:
    """Parts this process handed to `connector` that its carrier accepted, since the process started.

    The engine's heartbeat turns two readings into the live throughput `martinet status` shows.
    """
    return _accepted_parts.get(connector, 0.0)


class PartCounters:
    """The submission counters of one connector, bound once by the dispatcher."""

    def __init__(self, connector: str) -> None:
        self._connector = connector
        self._accepted = PARTS_SUBMITTED.labels(connector, "accepted")
        self._temporary = PARTS_SUBMITTED.labels(connector, "refused_temporary")
        self._permanent = PARTS_SUBMITTED.labels(connector, "refused_permanent")
        self._error = PARTS_SUBMITTED.labels(connector, "error")
        _accepted_parts.setdefault(connector, 0.0)

    def accepted(self, parts: int) -> None:
        self._accepted.inc(parts)
        _accepted_parts[self._connector] += parts

    def refused(self, parts: int, *, temporary: bool, error: bool) -> None:
        """`error`: the connector failed (exception, not bound, connection lost), the carrier said nothing."""
        if error:
            self._error.inc(parts)
        elif temporary:
            self._temporary.inc(parts)
        else:
            self._permanent.inc(parts)


# --- Callbacks and credits ---

_CALLBACKS = {
    (kind, outcome): CALLBACKS.labels(kind, outcome) for kind in CALLBACK_KINDS for outcome in CALLBACK_OUTCOMES
}
_CREDITS = {movement: CREDITS.labels(movement) for movement in CREDIT_MOVEMENTS}


def callback_done(kind: str, outcome: str, count: int = 1) -> None:
    _CALLBACKS[kind, outcome].inc(count)


def credits_moved(movement: str, milli: int) -> None:
    """Count `milli` millicredits (the store's unit) as credits; call only once the transaction committed."""
    if milli > 0:
        _CREDITS[movement].inc(milli / MILLI)


def observe_receipt_latencies(latencies: Iterable[tuple[str, float]]) -> None:
    for connector, seconds in latencies:
        RECEIPT_LATENCY.labels(connector).observe(seconds)


# --- Store ---

_LOCK_WAITED = SQLITE_WRITE_LOCK.labels("wait")
_LOCK_HELD = SQLITE_WRITE_LOCK.labels("held")


def sqlite_write_lock(waited: float, held: float) -> None:
    """One SQLite write transaction: seconds waiting for the write lock, then holding it (the commit included)."""
    _LOCK_WAITED.inc(waited)
    _LOCK_HELD.inc(held)


def sqlite_log_synced(seconds: float) -> None:
    """One sync of the SQLite log after a release of the write lock (`store.database.sync_log`)."""
    SQLITE_LOG_SYNC.observe(seconds)


# --- Exposition ---


class _Default(Collector):
    """The default registry's metrics, in the per-scrape registry that also carries the gauges read from the store."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class _ReadAtScrape(Collector):
    """A gauge whose values were read from the database for this scrape (keys: the label values, in order)."""

    def __init__(
        self, name: str, documentation: str, labels: list[str], values: Iterable[tuple[tuple[str, ...], int]]
    ) -> None:
        self._name, self._documentation, self._labels = name, documentation, labels
        self._values = sorted(values)

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(self._name, self._documentation, labels=self._labels)
        for labels, count in self._values:
            family.add_metric(list(labels), count)
        yield family


#: Reads messages waiting by (lane, state) and callbacks by outbox state from the database.
StoreCount = Callable[[], Awaitable[tuple[dict[tuple[str, str], int], dict[str, int]]]]


class StoreCounts:
    """The gauges read from the database (queue depth, callbacks outbox), read at most once per `max_age` seconds.

    Each count is an index range scan, cheap alone but not free on a large queue: without this, whoever can reach
    /metrics decides how often the database counts. Concurrent scrapes share one reading; a reading that failed
    is not retried before `max_age` either, and shows as no samples rather than as stale ones.
    """

    def __init__(self, count: StoreCount, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        """`count` reads the database (given by the composition root: this module does not import the store,
        which counts on it)."""
        self._count_store = count
        self._max_age = max_age
        self._clock = clock
        self._lock = asyncio.Lock()
        self._read_at: float | None = None
        self._values: tuple[dict[tuple[str, str], int], dict[str, int]] = ({}, {})

    async def read(self) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
        """Messages waiting by (lane, state), and callbacks by outbox state."""
        async with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self._max_age:
                self._values = await self._count()
                self._read_at = self._clock()
            return self._values

    async def _count(self) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
        try:
            return await self._count_store()
        except Exception:
            log.exception("reading the queue depth and the callbacks outbox for /metrics failed")
            return {}, {}


async def exposition(counts: StoreCounts) -> tuple[bytes, str]:
    """The metrics of every process of this gateway in the text exposition format, and its content type."""
    for door in _DOORS:  # this process's counts are exact on its own page
        door.publish()

    depth, backlog = await counts.read()
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_ENV):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Default())
    registry.register(
        _ReadAtScrape(
            "martinet_queue_depth",
            "Messages waiting in the queue (queued: due now; scheduled: later), by lane; read at scrape time.",
            ["lane", "state"],
            depth.items(),
        )
    )
    registry.register(
        _ReadAtScrape(
            "martinet_callbacks_outbox",
            "Callbacks in the outbox (pending: to deliver or to retry; failed: dead letters awaiting a replay); "
            "read at scrape time.",
            ["state"],
            (((state,), count) for state, count in backlog.items()),
        )
    )
    return generate_latest(registry), CONTENT_TYPE_LATEST
