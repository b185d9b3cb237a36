"""Throughput of the SMPP stack: submit_sm -> submit_sm_resp per second, our client against our simulator.

    .venv/bin/python -m bench.smpp_session [--count 100000] [--window 64] [--loop asyncio|uvloop]

Part of the benchmarks, not of the tests (timings on shared machines are too noisy to assert on).  The simulator runs
with no latency, no throttle and no receipts (registered_delivery 0), so what is measured is the
stack: codec, session, window, adapter, loopback TCP.  Two set-ups are reported:

* ``separate process``: the simulator as ``python -m martinet.smsc`` (as deployed), the client here;
  each side gets a core.
* ``one event loop``: simulator and client in this process, sharing one core: the worst case, and
  what the test suite does.

The client is 64 coroutines each awaiting ``connection.request()`` in a loop (with window 64), the
way a dispatcher uses it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator

from martinet.smpp import SubmitSm
from martinet.smpp.aio import SMPPConnection, connect
from martinet.smpp.session import SessionConfig
from martinet.smsc import Credential, Simulator, SimulatorConfig


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def drive(connection: SMPPConnection, count: int, workers: int) -> float:
    """Send `count` submit_sm through `workers` concurrent requesters; returns submits per second."""
    per_worker = count // workers

    async def worker() -> None:
        for _ in range(per_worker):
            response = await connection.request(
                SubmitSm(
                    source_addr_ton=5,
                    source_addr="Martinet",
                    dest_addr_ton=1,
                    dest_addr_npi=1,
                    destination_addr="33612345678",
                    short_message=b"Your verification code is 123456. It expires in 10 minutes.",
                )
            )
            if response.command_status:
                raise RuntimeError(f"submit refused: 0x{response.command_status:08X}")

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return per_worker * workers / (time.perf_counter() - began)


@contextlib.asynccontextmanager
async def simulator_process(loop_name: str) -> AsyncIterator[int]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "martinet.smsc",
        *("--listen", f"127.0.0.1:{port}", "--system-id", "bench", "--password", "bench"),
        *("--control", "off", "--log-level", "warning"),
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    try:
        while b"SMPP on" not in await asyncio.wait_for(process.stderr.readline(), 10):
            pass
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        await process.wait()


async def measure(count: int, window: int, loop_name: str) -> None:
    session = SessionConfig(window=window)
    results: dict[str, float] = {}

    async with simulator_process(loop_name) as port:
        client = await connect("127.0.0.1", port, system_id="bench", password="bench", config=session)
        await drive(client, min(count // 10, 10_000), window)  # warm-up
        results["separate process"] = await drive(client, count, window)
        await client.close()

    config = SimulatorConfig(port=0, control_port=None, credentials=(Credential("bench", "bench"),), session=session)
    async with Simulator(config) as smsc:
        client = await connect("127.0.0.1", smsc.port, system_id="bench", password="bench", config=session)
        await drive(client, min(count // 10, 10_000), window)
        results["one event loop"] = await drive(client, count, window)
        await client.close()

    print(f"submit_sm -> submit_sm_resp, window {window}, {count:,} messages, {loop_name} loop")
    for label, rate in results.items():
        print(f"  {label:18s} {rate:>10,.0f} /s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="uvloop")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(measure(args.count, args.window, "uvloop"))
    else:
        asyncio.run(measure(args.count, args.window, "asyncio"))


if __name__ == "__main__":
    main()
