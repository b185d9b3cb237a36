"""SMPP throughput: submit_sm -> submit_sm_resp per second over loopback, window 64.

    .venv/bin/python -m bench.smpp [--count 50000] [--repeats 1] [--loop uvloop|asyncio]

Each measurement runs after a short warm-up, the server in a process of its own, the client in this one:

* ``ours_vs_simulator``: our client (``martinet.smpp.aio.connect``, 64 coroutines each awaiting
  ``connection.request()`` in a loop, the way the connector uses it) against our simulator,
  ``python -m martinet.smsc --control off`` with no latency, no throttle and no receipts;
  ``smpp34_vs_simulator``: smpp34's client against the same simulator (for information).
* ``ours_vs_smpp34`` and ``smpp34_vs_smpp34``: an ``smpp34.Server`` that accepts every submit_sm at once
  (``python -m bench.smpp --serve PORT``), driven first by our client, then by smpp34's own client
  (``window_size=64``, 64 coroutines awaiting ``Smsc.submit_sm``, as smpp34's python/perf/perf_loopback.py
  does), the same number of identical submit_sm; ``ratio`` is ours / smpp34's.

The driving loop for our client is the one of ``bench/smpp_session.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from bench.harness import free_port, stop_group
from bench.smpp_session import drive
from martinet.smpp.aio import connect
from martinet.smpp.session import SessionConfig

T = TypeVar("T")

WINDOW = 64
SYSTEM_ID = "bench"
PASSWORD = "bench"
# The same PDU as bench/smpp_session.drive sends.
SOURCE = "Martinet"
DESTINATION = "33612345678"
TEXT = b"Your verification code is 123456. It expires in 10 minutes."


@contextlib.contextmanager
def server_process(command: list[str], ready: bytes, timeout: float = 20.0) -> Iterator[None]:
    """Start `command` in a process group of its own, wait for `ready` in its stderr, kill the group after."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, start_new_session=True, stderr=log, stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + timeout
            while True:
                log.seek(0)
                seen = log.read()
                if ready in seen:
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{' '.join(command[2:])} did not start: {seen.decode(errors='replace')}")
                time.sleep(0.05)
            yield
        finally:
            stop_group(process, grace=10)


def simulator(port: int) -> contextlib.AbstractContextManager[None]:
    return server_process(
        [
            sys.executable,
            "-m",
            "martinet.smsc",
            *("--listen", f"127.0.0.1:{port}", "--system-id", SYSTEM_ID, "--password", PASSWORD),
            *("--control", "off", "--log-level", "warning"),
        ],
        b"SMPP on",
    )


def smpp34_server(port: int, loop: str) -> contextlib.AbstractContextManager[None]:
    return server_process([sys.executable, "-m", "bench.smpp", "--serve", str(port), "--loop", loop], b"serving")


# --------------------------------------------------------------------------- the smpp34 server process


async def serve_smpp34(port: int) -> None:
    """An smpp34 SMSC accepting every submit_sm immediately, until SIGTERM."""
    import smpp34

    server = smpp34.Server(host="127.0.0.1", port=port, system_id="Rust34")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def accept_all() -> None:
        submit_event = smpp34.SubmitSmEvent
        number = 0
        while True:
            event = await server.next()
            if type(event) is submit_event:
                number += 1
                event.accept(f"{number:x}")

    task = asyncio.create_task(accept_all())
    print("smpp34 server serving", file=sys.stderr, flush=True)
    await stop.wait()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await server.stop()


# --------------------------------------------------------------------------- the clients


async def ours(port: int, count: int, warmup: int) -> float:
    """Our client: submits per second (bench/smpp_session.drive)."""
    session = SessionConfig(window=WINDOW)
    client = await connect("127.0.0.1", port, system_id=SYSTEM_ID, password=PASSWORD, config=session)
    try:
        await drive(client, warmup, WINDOW)
        return await drive(client, count, WINDOW)
    finally:
        await client.close()


async def theirs(port: int, count: int, warmup: int) -> float:
    """smpp34's client, window_size 64 and 64 coroutines awaiting submit_sm: submits per second."""
    import smpp34

    client = smpp34.Client(
        host="127.0.0.1", port=port, system_id=SYSTEM_ID, password=PASSWORD, bind_type="TRX", window_size=WINDOW
    )
    session = await client.connect()

    async def run(total: int) -> float:
        per_worker = total // WINDOW

        async def worker() -> None:
            submit = session.submit_sm
            for _ in range(per_worker):
                response = await submit(
                    DESTINATION,
                    TEXT,
                    source_addr=SOURCE,
                    source_addr_ton=5,
                    dest_addr_ton=1,
                    dest_addr_npi=1,
                )
                if response.command_status:
                    raise RuntimeError(f"submit refused: 0x{response.command_status:08X}")

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(WINDOW)))
        return per_worker * WINDOW / (time.perf_counter() - began)

    try:
        await run(warmup)
        return await run(count)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(session.unbind(), 5)
        await client.stop()


def run(count: int = 50_000, loop: str = "uvloop", repeats: int = 1) -> dict[str, Any]:
    """Run the four measurements (best of `repeats` each) and print them; returns the figures."""
    warmup = min(count // 10, 5_000)

    def best(measure: Callable[[], Awaitable[float]]) -> float:
        return max(_run_loop(measure, loop) for _ in range(repeats))

    port = free_port()
    with simulator(port):
        ours_vs_simulator = best(lambda: ours(port, count, warmup))
        smpp34_vs_simulator = best(lambda: theirs(port, count, warmup))
    port = free_port()
    with smpp34_server(port, loop):
        ours_vs_smpp34 = best(lambda: ours(port, count, warmup))
        smpp34_vs_smpp34 = best(lambda: theirs(port, count, warmup))
    result: dict[str, Any] = {
        "count": count,
        "window": WINDOW,
        "loop": loop,
        "ours_vs_simulator": ours_vs_simulator,
        "smpp34_vs_simulator": smpp34_vs_simulator,
        "ours_vs_smpp34": ours_vs_smpp34,
        "smpp34_vs_smpp34": smpp34_vs_smpp34,
        "ratio": ours_vs_smpp34 / smpp34_vs_smpp34,
    }
    print(
        f"submit_sm -> submit_sm_resp, window {WINDOW}, {count:,} submits after {warmup:,} warm-up, {loop} loop\n"
        f"  our client    vs our simulator  {ours_vs_simulator:>10,.0f} /s   (target >= 8,000)\n"
        f"  smpp34 client vs our simulator  {smpp34_vs_simulator:>10,.0f} /s\n"
        f"  our client    vs smpp34 server  {ours_vs_smpp34:>10,.0f} /s\n"
        f"  smpp34 client vs smpp34 server  {smpp34_vs_smpp34:>10,.0f} /s\n"
        f"  ratio ours / smpp34 (same server) {result['ratio']:>8.2f}     (target >= 0.8)",
        flush=True,
    )
    return result


def _run_loop(factory: Callable[[], Awaitable[T]], loop: str) -> T:
    async def main() -> T:
        return await factory()

    if loop == "uvloop":
        import uvloop

        return uvloop.run(main())
    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.smpp", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=1, help="report the best of this many runs")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--serve", type=int, metavar="PORT", help="run the smpp34 server only (used by run())")
    args = parser.parse_args()
    if args.serve is not None:
        _run_loop(lambda: serve_smpp34(args.serve), args.loop)
    else:
        run(args.count, args.loop, args.repeats)


if __name__ == "__main__":
    main()
