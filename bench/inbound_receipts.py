"""CPU per delivery receipt on the SMPP connector's inbound path, sockets aside.

    .venv/bin/python -m bench.inbound_receipts [--count 20000] [--rounds 7]

What the engine does for each `deliver_sm` receipt between reading it and answering it: parse it, name its part,
queue it to the engine's `ReceiptRecorder` (a `GroupCommitter` whose store here writes nothing) and answer once
the recorder's future resolves. The PDUs are decoded beforehand and handed to the connector's request handler
(`SmppConnector._on_request`, what its binds call) directly, so neither the socket nor the SMPP codec is measured:
`bench.connector` measures the connector with them, but its figure moves by a quarter from one run to the next,
which hides a change of a few microseconds per receipt; this one moves less, and runs of two versions alternated
a few times tell them apart. Prints JSON: microseconds of CPU per receipt, the least and the median of the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import time
from collections.abc import Sequence

import uvloop

from martinet.collector import settle_after_start
from martinet.config import SmppConnectorConfig
from martinet.connectors.smpp.connector import SmppConnector
from martinet.domain.inbound import InboundMessage
from martinet.domain.receipts import Receipt
from martinet.engine.receipts import ReceiptRecorder
from martinet.smpp.pdu import DeliverSm


class _Store:
    """The receipt store without its database."""

    def write_turn(self) -> contextlib.AbstractAsyncContextManager[None]:
        return contextlib.nullcontext()  # no database to wait for

    async def apply(self, receipts: Sequence[Receipt]) -> int:
        return len(receipts)


async def _no_inbound(messages: Sequence[InboundMessage]) -> None:
    raise RuntimeError("no reply expected")


def _receipts(count: int) -> list[DeliverSm]:
    text = "id:{:08X} sub:001 dlvrd:001 submit date:2612051200 done date:2612051201 stat:DELIVRD err:000 text:Hello"
    return [
        DeliverSm(
            sequence_number=i + 1,
            source_addr=f"336{10_000_000 + i}",
            destination_addr="Martinet",
            esm_class=0x04,
            short_message=text.format(i).encode("ascii"),
        )
        for i in range(count)
    ]


async def _run(count: int, rounds: int) -> list[float]:
    # Nothing listens on the port: the connector's binds fail and back off, which is all this needs of them.
    config = SmppConnectorConfig(
        name="bench", type="smpp", host="127.0.0.1", port=9, system_id="bench", password="bench",
        message_id_format="hex", reconnect_min=60, reconnect_max=60,
    )  # fmt: skip
    connector = SmppConnector(config)
    recorder = ReceiptRecorder(_Store())  # type: ignore[arg-type]
    recorder.start()
    await connector.start(recorder, _no_inbound)
    pdus = _receipts(count)
    figures: list[float] = []
    try:
        for _ in range(rounds + 1):  # the first round warms up
            begin = time.process_time()
            answers = [asyncio.ensure_future(connector._on_request(pdu)) for pdu in pdus]  # type: ignore[arg-type]
            await asyncio.gather(*answers)
            figures.append((time.process_time() - begin) * 1e6 / count)
    finally:
        await connector.stop()
        await recorder.stop()
    return figures[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    settle_after_start()  # the engine's collector settings: without them, collections took half the figure
    figures = uvloop.run(_run(args.count, args.rounds))
    print(
        json.dumps(
            {
                "count": args.count,
                "cpu_us_per_receipt_least": round(min(figures), 1),
                "cpu_us_per_receipt_median": round(statistics.median(figures), 1),
                "rounds": [round(f, 1) for f in figures],
            }
        )
    )


if __name__ == "__main__":
    main()
