"""What connectors receive (receipts, inbound messages), made durable in batches before they are acknowledged."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from martinet.batching import GroupCommitter
from martinet.domain.inbound import InboundMessage
from martinet.domain.receipts import Receipt
from martinet.store.inbound import InboundStore
from martinet.store.receipts import ReceiptStore


class ReceiptRecorder:
    """The `ReceiptSink` given to connectors: `await recorder(receipts)` returns once they are committed.

    Calling it queues the receipts at once and returns the committer's future, not a coroutine: a connector
    may then wait for it without a task of its own (the SMPP connector does, for two receipts per message).
    """

    def __init__(self, store: ReceiptStore, max_batch: int = 5000) -> None:
        self._store = store
        self._committer: GroupCommitter[Sequence[Receipt], None] = GroupCommitter(
            self._commit, weight=len, max_weight=max_batch, name="receipt-recorder", turn=store.write_turn
        )

    def start(self) -> None:
        self._committer.start()

    async def stop(self) -> None:
        await self._committer.stop()

    def __call__(self, receipts: Sequence[Receipt]) -> asyncio.Future[None]:
        return self._committer.enqueue(receipts)

    async def _commit(self, batches: list[Sequence[Receipt]]) -> list[None]:
        flat = [receipt for batch in batches for receipt in batch]
        await self._store.apply(flat)
        return [None] * len(batches)


class InboundRecorder:
    """The `InboundSink` given to connectors: returns once the inbound messages are committed."""

    def __init__(self, store: InboundStore, max_batch: int = 5000) -> None:
        self._store = store
        self._committer: GroupCommitter[Sequence[InboundMessage], None] = GroupCommitter(
            self._commit, weight=len, max_weight=max_batch, name="inbound-recorder"
        )

    def start(self) -> None:
        self._committer.start()

    async def stop(self) -> None:
        await self._committer.stop()

    async def __call__(self, messages: Sequence[InboundMessage]) -> None:
        await self._committer.submit(messages)

    async def _commit(self, batches: list[Sequence[InboundMessage]]) -> list[None]:
        await self._store.record([message for batch in batches for message in batch])
        return [None] * len(batches)
