"""CPU of the HTTP worker per accepted send, accept path alone (`serve --no-engine`), both doors.

    .venv/bin/python -m bench.http_cpu [--count 20000] [--connections 64] [--door legacy|rest|both] [--in-process]

The rate of `bench/accept.py` depends on what else the two cores run; the CPU time the HTTP worker spends per
accepted request depends much less on it, so it is the figure to compare two versions of the accept path by
(alternating runs of each, the same options). Requests are those of the end-to-end comparison (`bench/kannel.py`):
a form `POST sendSMS.do` with one recipient and a `notification_url`; and the REST door's
`POST /sms/v1/messages` of `bench/rest.py`. The load generator is `bench/dlr.py`'s (raw HTTP on keep-alive
connections, closed loop), so no wrk is needed.

`--in-process` drives the HTTP worker's app (`martinet.app.http_app`) in this process through ASGI instead: the same
requests, `connections` of them in flight, no socket and no HTTP server, the CPU counted by `time.process_time`. It
tells what the app costs without the server around it, and runs as it is under `valgrind --tool=callgrind`, whose
count of instructions does not drift with the machine (docs/benchmarks-history.md: two runs of different `--count`, the
difference divided by the difference of the counts, leave the start-up out). So does the server path, the whole
benchmark under `valgrind --tool=callgrind --trace-children=yes` with `--start-timeout 900`: the HTTP worker's own
file counts what it executed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import uvloop
from starlette.types import ASGIApp

from bench import dlr
from bench.harness import configured, gateway
from bench.kannel import FIRST_NUMBER, martinet_form, martinet_request
from martinet.api.asgi import Message, Scope
from martinet.app import http_app
from martinet.config import load_settings
from martinet.store.sqlite_library import quiet_memory_statistics

TEXT = "Votre code de connexion est 482913"


def rest_body(index: int) -> bytes:
    return json.dumps(
        {"recipient": {"to": f"+336{10000000 + index}"}, "body": {"text": TEXT}, "refClient": f"bench-{index}"}
    ).encode()


def rest_request(token: str) -> Callable[[int, int], bytes]:
    def build(index: int, sent_ms: int) -> bytes:
        body = rest_body(index)
        return (
            b"POST /sms/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"X-Api-Key: %s\r\nContent-Length: %d\r\n\r\n%s" % (token.encode(), len(body), body)
        )

    return build


def legacy_bodies(token: str, count: int) -> list[bytes]:
    """`count` forms as `martinet_form` makes them, one number each, made from one of them: encoding each
    (`urllib.parse.urlencode`) would cost more instructions than the app's decoding, and an instruction count of
    the run (`bench.accept_instructions`) is meant to hold the app's work."""
    made = martinet_form(token, "http://127.0.0.1:9", 0, 0)
    head, number, tail = made.partition(b"numero=%d" % FIRST_NUMBER)
    if not number:
        raise ValueError(f"no numero={FIRST_NUMBER} in {made!r}")
    return [b"%snumero=%d%s" % (head, FIRST_NUMBER + index, tail) for index in range(count)]


def _legacy_accepted(status: int, body: bytes) -> bool:
    return status == 200 and body.startswith(b"0 | ")


def _rest_accepted(status: int, body: bytes) -> bool:
    return status == 201


def _worker_seconds(group: int) -> dict[int, float]:
    """CPU seconds (user + system) of each HTTP worker of the `martinet serve` whose process group is `group`."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rpartition(")")[2].split()
            command = Path(entry.path, "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[2]) == group and b"spawn_main" in command:
            found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    return found


def measure(door: str, count: int, connections: int, start_timeout: float = 30.0) -> dict[str, float]:
    extra = "[callbacks]\nallow_private_networks = true\n"
    with gateway(engine=False, extra_toml=extra, start_timeout=start_timeout) as gw:
        if door == "legacy":
            build, accepted = martinet_request(gw.token, "http://127.0.0.1:9"), _legacy_accepted
        else:
            build, accepted = rest_request(gw.token), _rest_accepted
        dlr.load(gw.base, build, accepted, count=min(2000, count), connections=connections)  # warm-up
        before = _worker_seconds(gw.group)
        result = dlr.load(gw.base, build, accepted, count=count, connections=connections)
        after = _worker_seconds(gw.group)
    cpu = sum(after.get(pid, 0.0) - seconds for pid, seconds in before.items())
    elapsed = result.ended - result.began
    return {
        "accepted": result.accepted,
        "refused": result.refused,
        "per_second": round(result.accepted / elapsed, 1) if elapsed > 0 else 0.0,
        "worker_cpu_s": round(cpu, 2),
        "cpu_us_per_accept": round(cpu / result.accepted * 1e6, 1) if result.accepted else float("nan"),
    }


_WARM_UP = 500  # requests before the measured ones: caches filled, statements compiled


def measure_in_process(door: str, count: int, connections: int) -> dict[str, float]:
    """The worker's app alone: `count` requests through ASGI in this process, `connections` in flight; SQLite set
    up as in an HTTP worker (`martinet.server`)."""
    quiet_memory_statistics()
    with configured(extra_toml="[callbacks]\nallow_private_networks = true\n") as made:
        app = http_app(load_settings(made.config))
        return uvloop.run(_drive(app, door, made.token, made.port, count, connections))


async def _drive(
    app: ASGIApp,
    door: str,
    token: str,
    port: int,
    count: int,
    connections: int,
) -> dict[str, float]:
    if door == "legacy":
        path = "/http/1.6/sendSMS.do"
        headers = [(b"content-type", b"application/x-www-form-urlencoded")]
        bodies = legacy_bodies(token, _WARM_UP + count)
        success = _legacy_accepted
    else:
        path = "/sms/v1/messages"
        headers = [(b"content-type", b"application/json"), (b"x-api-key", token.encode())]
        bodies = [rest_body(i) for i in range(_WARM_UP + count)]
        success = _rest_accepted
    lifespan_in: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    lifespan_out: asyncio.Queue[Message] = asyncio.Queue()
    lifespan = asyncio.ensure_future(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, lifespan_in.get, lifespan_out.put)
    )
    await lifespan_in.put({"type": "lifespan.startup"})
    started = await lifespan_out.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"the app did not start: {started}")
    outcomes = {True: 0, False: 0}

    async def one(body: bytes) -> None:
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), *headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", port),
        }
        delivered = False
        answer: dict[str, Any] = {}

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if delivered:  # the app reads no further than the body: it would wait here for a disconnect
                await asyncio.Event().wait()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            else:
                answer["body"] = answer.get("body", b"") + message.get("body", b"")

        await app(scope, receive, send)
        outcomes[success(answer["status"], answer.get("body", b""))] += 1

    async def run(todo: Iterator[bytes]) -> None:
        async def worker() -> None:
            for body in todo:
                await one(body)

        await asyncio.gather(*(worker() for _ in range(connections)))

    await run(iter(bodies[:_WARM_UP]))
    outcomes[True] = outcomes[False] = 0
    cpu, wall = time.process_time(), time.perf_counter()
    await run(iter(bodies[_WARM_UP:]))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await lifespan_in.put({"type": "lifespan.shutdown"})
    await lifespan_out.get()
    await lifespan
    accepted = outcomes[True]
    return {
        "accepted": accepted,
        "refused": outcomes[False],
        "per_second": round(accepted / wall, 1) if wall > 0 else 0.0,
        "cpu_us_per_accept": round(cpu / accepted * 1e6, 1) if accepted else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--door", choices=["legacy", "rest", "both"], default="both")
    parser.add_argument("--in-process", action="store_true", help="drive the app through ASGI, without a server")
    parser.add_argument("--start-timeout", type=float, default=30.0, help="seconds for the gateway to start")
    args = parser.parse_args()
    doors = ["legacy", "rest"] if args.door == "both" else [args.door]
    if args.in_process:
        results = {door: measure_in_process(door, args.count, args.connections) for door in doors}
    else:
        results = {door: measure(door, args.count, args.connections, args.start_timeout) for door in doors}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
