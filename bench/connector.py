"""CPU per message of the SMPP connector alone: submit_sm out, submit_sm_resp in, two receipts in and answered.

The end-to-end bench (`bench.kannel`) sums the engine's CPU with the store's; this one runs the `SmppConnector`
in this process against the simulator in another (`python -m martinet.smsc`, every message DELIVRD with an
ENROUTE receipt first, as `bench.kannel` configures it), the way the dispatcher drives it: batches handed over
as capacity allows, each accepted message's recording a future resolved by a `GroupCommitter` that writes
nothing, receipts going to the engine's `ReceiptRecorder` over a store that only counts them.
`time.process_time` counts this process only, so what is measured is the connector, its SMPP session and the
event loop.

`python -m bench.connector [--count N] [--batch B] [--rounds R] [--profile FILE]`; prints JSON, CPU ms per
message (submission and both receipts).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.kannel import simulator
from martinet.batching import GroupCommitter
from martinet.config import SmppConnectorConfig
from martinet.connectors.base import OutboundMessage, SubmitResult
from martinet.connectors.smpp.connector import SmppConnector
from martinet.domain.inbound import InboundMessage
from martinet.domain.lanes import Lane
from martinet.domain.receipts import Receipt
from martinet.domain.text import Encoding
from martinet.engine.receipts import ReceiptRecorder

WINDOW = 64
EXPIRES_IN_MS = 48 * 3600 * 1000  # a validity period on every message, as the API's default gives


class _Receipts:
    """The receipt store without its database, behind the engine's own `ReceiptRecorder`: receipts are batched
    and answered as the engine batches and answers them, and only counted."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = asyncio.Event()

    def write_turn(self) -> contextlib.AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()  # no database to wait for

    async def apply(self, receipts: Sequence[Receipt]) -> int:
        self.count += len(receipts)
        self.changed.set()
        return len(receipts)


async def _no_inbound(messages: Sequence[InboundMessage]) -> None:
    """The simulator sends no replies here."""


async def _recorded(outcomes: list[SubmitResult]) -> list[None]:
    """The dispatcher's recorder without its database: the batching and the futures only."""
    await asyncio.sleep(0)
    return [None] * len(outcomes)


def _messages(start: int, count: int) -> list[OutboundMessage]:
    expires_at = int(time.time() * 1000) + EXPIRES_IN_MS
    return [
        OutboundMessage(i, f"336{10_000_000 + i % 1_000_000}", "Martinet", ("Hello",), Encoding.GSM7, "notification", expires_at)
        for i in range(start, start + count)
    ]  # fmt: skip


async def _drive(connector: SmppConnector, receipts: _Receipts, start: int, count: int, batch: int) -> None:
    """Hand `count` messages over as the dispatcher would, then wait for their two receipts each."""
    recorder: GroupCommitter[SubmitResult, None] = GroupCommitter(_recorded, weight=lambda _: 1, name="bench")
    recorder.start()
    tasks: set[asyncio.Task[list[SubmitResult]]] = set()
    target = receipts.count + 2 * count
    sent = 0
    try:
        while sent < count:
            room = min(batch, connector.capacity(Lane.NOTIFICATION), count - sent)
            if room <= 0:
                _, tasks = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                continue
            tasks.add(asyncio.create_task(connector.submit(_messages(start + sent, room), recorder.enqueue)))
            sent += room
            await asyncio.sleep(0)
        results = [r for done in await asyncio.gather(*tasks) for r in done]
        if any(not hasattr(r, "carrier_ids") for r in results):
            raise RuntimeError("the simulator refused messages")
        deadline = time.monotonic() + 60
        while receipts.count < target:
            receipts.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(receipts.changed.wait(), max(0.0, deadline - time.monotonic()))
            if time.monotonic() > deadline:
                raise RuntimeError(f"{target - receipts.count} receipts never came")
    finally:
        await recorder.stop()


async def _run(count: int, batch: int, rounds: int, profile: str | None) -> list[float]:
    with tempfile.TemporaryDirectory() as folder, simulator(Path(folder)) as (port, _control, _pid):
        config = SmppConnectorConfig(
            name="simulator", type="smpp", host="127.0.0.1", port=port, system_id="martinet", password="bench",
            window=WINDOW, message_id_format="hex",
        )  # fmt: skip
        connector = SmppConnector(config)
        receipts = _Receipts()
        recorder = ReceiptRecorder(receipts)  # type: ignore[arg-type]
        recorder.start()
        await connector.start(recorder, _no_inbound)
        try:
            await asyncio.wait_for(connector.bound.wait(), 30)
            await _drive(connector, receipts, 0, min(count, 2000), batch)  # warm-up
            figures = []
            profiler = cProfile.Profile() if profile else None
            for r in range(rounds):
                begin = time.process_time()
                if profiler is not None:
                    profiler.enable()
                await _drive(connector, receipts, (r + 1) * count, count, batch)
                if profiler is not None:
                    profiler.disable()
                figures.append((time.process_time() - begin) * 1000 / count)
            if profiler is not None and profile is not None:
                profiler.dump_stats(profile)
            return figures
        finally:
            await connector.stop()
            await recorder.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500, help="messages per hand-over (engine.batch_size)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of the measured rounds")
    args = parser.parse_args()
    figures = asyncio.run(_run(args.count, args.batch, args.rounds, args.profile))
    print(
        json.dumps(
            {
                "count": args.count,
                "cpu_ms_per_message": round(statistics.median(figures), 4),
                "rounds": [round(f, 4) for f in figures],
            }
        )
    )


if __name__ == "__main__":
    main()
