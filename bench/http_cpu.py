"""CPU of the HTTP worker per accepted send, accept path alone (`serve --no-engine`), both doors.

    .venv/bin/python -m bench.http_cpu [--count 20000] [--connections 64] [--door legacy|rest|both]

The rate of `bench/accept.py` depends on what else the two cores run; the CPU time the HTTP worker spends per
accepted request depends much less on it, so it is the figure to compare two versions of the accept path by
(alternating runs of each, the same options). Requests are those of the end-to-end comparison (`bench/kannel.py`):
a form `POST sendSMS.do` with one recipient and a `notification_url`; and the REST door's
`POST /sms/v1/messages` of `bench/rest.py`. The load generator is `bench/dlr.py`'s (raw HTTP on keep-alive
connections, closed loop), so no wrk is needed.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path

from bench import dlr
from bench.harness import gateway
from bench.kannel import martinet_request

TEXT = "Votre code de connexion est 482913"


def rest_request(token: str) -> Callable[[int, int], bytes]:
    def build(index: int, sent_ms: int) -> bytes:
        body = json.dumps(
            {"recipient": {"to": f"+336{10000000 + index}"}, "body": {"text": TEXT}, "refClient": f"bench-{index}"}
        ).encode()
        return (
            b"POST /sms/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"X-Api-Key: %s\r\nContent-Length: %d\r\n\r\n%s" % (token.encode(), len(body), body)
        )

    return build


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


def measure(door: str, count: int, connections: int) -> dict[str, float]:
    with gateway(engine=False, extra_toml="[callbacks]\nallow_private_networks = true\n") as gw:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--door", choices=["legacy", "rest", "both"], default="both")
    args = parser.parse_args()
    doors = ["legacy", "rest"] if args.door == "both" else [args.door]
    print(json.dumps({door: measure(door, args.count, args.connections) for door in doors}))


if __name__ == "__main__":
    main()
