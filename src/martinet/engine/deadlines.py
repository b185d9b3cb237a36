"""Receipt deadlines: every part reaches a final status, even when its carrier never reports.

A carrier that dies owing receipts, loses them, or never sends any leaves parts at "sent" (0 or 13) for good.
Each part is recorded with a deadline (the connector's `receipt_deadline`, never past the message's validity);
this loop takes the parts past it, asks their carrier where it can (`QueriesCarrier`: SMPP query_sm when the
connector's `query_sm` is on) and applies a final answer like a receipt; for the others it records that the
outcome is unknown (3599, "no delivery receipt within the deadline"), which is final, reported and called back,
and refunds nothing (the carrier took the message). A real receipt arriving later still replaces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence

from martinet import metrics
from martinet.connectors.base import Connector, QueriesCarrier
from martinet.domain.receipts import UNKNOWN_OUTCOME, Receipt
from martinet.domain.status import State
from martinet.engine.cycles import CycleFailures
from martinet.store.receipts import OverduePart, ReceiptStore

log = logging.getLogger(__name__)

UNKNOWN_DETAIL = "no delivery receipt within the receipt deadline"


class ReceiptDeadlines:
    def __init__(
        self,
        receipts: ReceiptStore,
        connectors: Mapping[str, Connector],
        now_ms: Callable[[], int],
        interval: float = 5.0,
        batch: int = 1000,
    ) -> None:
        self._receipts = receipts
        self._connectors = connectors
        self._now_ms = now_ms
        self._interval = interval
        self._batch = batch

    async def run(self, stop: asyncio.Event) -> None:
        failures = CycleFailures("concluding parts whose receipt is overdue", log)
        while not stop.is_set():
            wait = self._interval
            try:
                concluded = await self.conclude_overdue()
            except Exception as exc:
                wait = max(wait, failures.failed(exc))
                concluded = 0
            else:
                failures.succeeded()
            if concluded < self._batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=wait)

    async def conclude_overdue(self) -> int:
        """One pass: returns how many overdue parts got a final status."""
        overdue = await self._receipts.claim_overdue(self._batch)
        if not overdue:
            return 0
        by_connector: dict[str, list[OverduePart]] = {}
        for part in overdue:
            by_connector.setdefault(part.connector, []).append(part)
        receipts: list[Receipt] = []
        for name, waiting in by_connector.items():
            receipts += await self._conclude(name, waiting)
        await self._receipts.apply(receipts)
        return len(receipts)

    async def _conclude(self, name: str, waiting: Sequence[OverduePart]) -> list[Receipt]:
        connector = self._connectors.get(name)
        answers: dict[str, Receipt] = {}
        if isinstance(connector, QueriesCarrier):
            try:
                answers = await connector.query([p.carrier_id for p in waiting])
            except Exception:
                log.exception("%s: query_sm about overdue parts failed", name)
        now = self._now_ms()
        concluded = []
        for part in waiting:
            answer = answers.get(part.carrier_id)
            if answer is None:
                answer = Receipt(name, part.carrier_id, State.UNDELIVERED, UNKNOWN_OUTCOME, now, UNKNOWN_DETAIL)
            concluded.append(
                Receipt(
                    name, part.carrier_id, answer.state, answer.code, answer.at, answer.detail, part_id=part.part_id
                )
            )
        queried = sum(1 for p in waiting if p.carrier_id in answers)
        metrics.receipts_overdue(name, queried, len(waiting) - queried)
        log.warning(
            "%s: %d parts had no final receipt by their deadline: %d answered by query_sm, %d recorded as unknown",
            name,
            len(waiting),
            queried,
            len(waiting) - queried,
        )
        return concluded
