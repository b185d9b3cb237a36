"""The sandbox connector: a pretend carrier for trying the gateway without one.

It takes every part, then reports it "delivered to operator" (13) and later "received" (11) after configurable
delays, like a real network would. Numbers of the test range `+33 6 99 99 90 0X` behave badly on purpose, one
outcome each, so that client code can be tested against failures:

| number        | outcome                                                           |
|---------------|-------------------------------------------------------------------|
| 33699999001   | refused at submission, permanently: routing error (34)            |
| 33699999002   | delivered to operator (13), then not deliverable (21)             |
| 33699999003   | delivered to operator (13), then expired (37)                     |
| 33699999004   | delivered to operator (13), then rejected (22)                    |
| 33699999005   | refused at submission once (temporary), accepted on the retry     |

Everything it knows lives in memory; after a restart the engine hands back the parts still in flight
(`resume`), and it reports them as if the network had kept them. It takes parts at once and without limit, so it
is always ready once started, its capacity is large, it has no throughput to share, and it ignores `expires_at`
(nothing waits long enough in it to expire).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence

from martinet.connectors.base import (
    Accepted,
    InboundSink,
    InFlight,
    OutboundMessage,
    ReceiptSink,
    Refused,
    ResultListener,
    SubmitResult,
)
from martinet.domain.receipts import Receipt
from martinet.domain.status import (
    DELIVERED_TO_OPERATOR,
    EXPIRED,
    NOT_DELIVERABLE,
    RECEIVED,
    REJECTED,
    ROUTING_ERROR,
    State,
)
from martinet.domain.status import (
    SENT as SENT_CODE,
)
from martinet.domain.voice import LISTENED

TEST_RANGE = "336999990"

SANDBOX_CAPACITY = 10_000
"""Parts the sandbox says it can take per dispatch cycle (`capacity`); it takes them all at once."""

_FINAL_OUTCOMES: dict[str, tuple[State, int, str]] = {
    "02": (State.UNDELIVERED, NOT_DELIVERABLE, "UNDELIV"),
    "03": (State.EXPIRED, EXPIRED, "EXPIRED"),
    "04": (State.UNDELIVERED, REJECTED, "REJECTD"),
}


class SandboxConnector:
    def __init__(self, name: str, *, operator_delay: float, handset_delay: float) -> None:
        self._name = name
        self._operator_delay = operator_delay
        self._handset_delay = handset_delay
        self._sink: ReceiptSink | None = None
        self._ids = itertools.count(1)
        self._prefix = f"{int(time.time() * 1000):x}"
        self._refused_once: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = False
        self.submitted = 0

    @property
    def name(self) -> str:
        return self._name

    @property
    def ready(self) -> bool:
        """Started: the sandbox has no link that could be down."""
        return self._started

    def capacity(self, lane: str) -> int:
        """Large and constant: `submit` answers at once, so nothing ever queues here."""
        return SANDBOX_CAPACITY if self._started else 0

    def set_share(self, fraction: float) -> None:
        """Nothing to share: the sandbox has no throughput limit."""
        if not 0 < fraction <= 1:
            raise ValueError("the share of a connector's throughput must be in (0, 1]")

    async def start(self, receipts: ReceiptSink, inbound: InboundSink) -> None:
        self._sink = receipts
        self._started = True

    async def stop(self) -> None:
        self._started = False
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def submit(
        self, batch: Sequence[OutboundMessage], on_result: ResultListener | None = None
    ) -> list[SubmitResult]:
        results: list[SubmitResult] = []
        for message in batch:
            result: SubmitResult | None = self._refusal(message)
            if result is None:
                ids = tuple(f"{self._prefix}-{next(self._ids)}" for _ in message.parts)
                self.submitted += len(ids)
                result = Accepted(message.message_id, ids)
                self._schedule(message.msisdn, ids, SENT_CODE, voice=message.voice is not None)
            results.append(result)
            if on_result is not None:
                on_result(result)
        return results

    async def resume(self, in_flight: Sequence[InFlight]) -> None:
        for part in in_flight:
            self._schedule(part.msisdn, (part.carrier_id,), part.code)

    def _refusal(self, message: OutboundMessage) -> Refused | None:
        if not message.msisdn.startswith(TEST_RANGE):
            return None
        case = message.msisdn[len(TEST_RANGE) :]
        if case == "01":
            return Refused(message.message_id, False, ROUTING_ERROR, "sandbox: routing error")
        if case == "05" and message.msisdn not in self._refused_once:
            self._refused_once.add(message.msisdn)
            return Refused(message.message_id, True, ROUTING_ERROR, "sandbox: temporary failure")
        return None

    def _schedule(self, msisdn: str, carrier_ids: tuple[str, ...], reached: int, *, voice: bool = False) -> None:
        task = asyncio.create_task(self._report(msisdn, carrier_ids, reached, voice))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _report(self, msisdn: str, carrier_ids: tuple[str, ...], reached: int, voice: bool = False) -> None:
        """Report 13 then the final outcome, skipping steps a resumed part has already been through; a voice
        message is reported listened (16) after the handset delay."""
        assert self._sink is not None
        if voice:
            await asyncio.sleep(self._handset_delay)
            await self._emit(carrier_ids, State.DELIVERED, LISTENED, "call answered and played to the end")
            return
        if reached != DELIVERED_TO_OPERATOR:
            await asyncio.sleep(self._operator_delay)
            await self._emit(carrier_ids, State.SENT, DELIVERED_TO_OPERATOR, "ACCEPTD")
        await asyncio.sleep(self._handset_delay)
        state, code, stat = _FINAL_OUTCOMES.get(
            msisdn[len(TEST_RANGE) :] if msisdn.startswith(TEST_RANGE) else "",
            (State.DELIVERED, RECEIVED, "DELIVRD"),
        )
        await self._emit(carrier_ids, state, code, stat)

    async def _emit(self, carrier_ids: tuple[str, ...], state: State, code: int, stat: str) -> None:
        assert self._sink is not None
        now = int(time.time() * 1000)
        receipts = [Receipt(self._name, cid, state, code, now, f"stat:{stat}") for cid in carrier_ids]
        while True:
            try:
                await self._sink(receipts)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                # A real SMSC retries an unacknowledged receipt; so does the sandbox.
                await asyncio.sleep(1.0)
