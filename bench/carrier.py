"""A carrier for the fault drills: the SMSC simulator in a process of its own, which says what it received.

    .venv/bin/python -m bench.carrier SIMULATOR.toml REPORT_PORT

The simulator's own control endpoint (`/stats`) counts; the drills also need to know *which* destinations arrived
(a message received twice is an SMS paid for twice) and *when* (failover and restart times), and to kill a carrier
at an instant where what it received is known exactly. This process runs the simulator of `SIMULATOR.toml` and
answers, on 127.0.0.1:REPORT_PORT (one request per connection, JSON):

* `GET /stats`: the simulator's counters, with `receipts_owed` (receipts on the wire or queued behind the window,
  not yet answered by the gateway, plus those parked waiting for a bind: the receipt backlog) and `now_ms` (this machine's monotonic clock,
  the clock of every `*_ms` figure here);
* `GET /arrivals?after=MS`: how many submissions arrived after `MS` and when the first of them did;
* `GET /destinations`: every destination received, in arrival order (a list, with repeats);
* `POST /die?dump=PATH`: writes `{"killed_ms", "destinations"}` to PATH, then sends itself SIGKILL, all in one
  step of the event loop: no SMPP traffic is handled between the record and the kill, which the kernel then
  makes look to the gateway as any dead carrier (its sockets closed under it).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

from martinet.smsc import Simulator
from martinet.smsc.config import load_config


def _now_ms() -> float:
    return time.monotonic() * 1000


def _stats(simulator: Simulator) -> dict[str, Any]:
    stats = simulator.stats()
    # Each attempt counts in receipts_sent and ends acknowledged or retried (sent again after retry_delay).
    in_flight = stats["receipts_sent"] - stats["receipts_acked"] - stats["receipts_retried"]
    stats["receipts_owed"] = in_flight + stats["waiting_deliveries"]
    stats["now_ms"] = _now_ms()
    return stats


def _arrivals(simulator: Simulator, after_ms: float) -> dict[str, Any]:
    """Walks the newest first, so the cost is what arrived after `after_ms`, not everything held."""
    messages = simulator.messages
    count, first = 0, None
    for message in reversed(messages.values()):  # an OrderedDict's view: reversible
        if message.received_monotonic_ms <= after_ms:
            break
        count += 1
        first = message.received_monotonic_ms
    return {"count": count, "first_ms": first, "total": len(messages), "now_ms": _now_ms()}


def _destinations(simulator: Simulator) -> list[str]:
    return [m.destination.addr for m in simulator.messages.values()]


def _die(simulator: Simulator, dump: str) -> None:
    record = {"killed_ms": _now_ms(), "destinations": _destinations(simulator)}
    Path(dump).write_text(json.dumps(record), encoding="utf-8")
    os.kill(os.getpid(), signal.SIGKILL)


async def _answer(simulator: Simulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        method, target, _ = head.split(b"\r\n", 1)[0].decode("ascii").split(" ", 2)
        url = urllib.parse.urlsplit(target)
        query = dict(urllib.parse.parse_qsl(url.query))
        body: Any
        if method == "GET" and url.path == "/stats":
            body = _stats(simulator)
        elif method == "GET" and url.path == "/arrivals":
            body = _arrivals(simulator, float(query.get("after", "0")))
        elif method == "GET" and url.path == "/destinations":
            body = _destinations(simulator)
        elif method == "POST" and url.path == "/die" and query.get("dump"):
            _die(simulator, query["dump"])
            return
        else:
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        payload = json.dumps(body).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        await writer.drain()
    except (OSError, ValueError, asyncio.IncompleteReadError, TimeoutError):
        pass
    finally:
        writer.close()


async def _main(config: Path, report_port: int) -> None:
    simulator = Simulator(load_config(config))
    await simulator.start()
    server = await asyncio.start_server(
        lambda r, w: _answer(simulator, r, w), "127.0.0.1", report_port, reuse_address=True
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        server.close()
        await simulator.stop()


def main() -> None:
    if len(sys.argv) != 3 or not sys.argv[2].isdigit():
        raise SystemExit("usage: python -m bench.carrier SIMULATOR.toml REPORT_PORT")
    import uvloop

    uvloop.run(_main(Path(sys.argv[1]), int(sys.argv[2])))


if __name__ == "__main__":
    main()
