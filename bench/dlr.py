"""The two ends of the Martinet/Kannel comparison (`bench/kannel.py`): a load generator and a callback receiver.

Both speak raw HTTP/1.1 over asyncio (uvloop), so that they cost the gateways as little CPU as possible on a
2-core machine, and cost both gateways the same.

* `Receiver` (`receiver_main` in a process of its own): answers 200 to every GET and counts the delivery callbacks
  of both gateways — Martinet's on `/m?t=…&numero=…&statut=…` (final unless `statut` is 0 or 13),
  Kannel's on `/k?t=…&n=…&type=%d` (final unless the DLR type is 4 or 8). `t` is the wall clock in milliseconds
  at which the load generator sent the request, so each final callback gives a send → callback latency.
  `GET /stats` returns the counts, first/last callback times and latency percentiles; `GET /reset` zeroes them.
* `load()`: a closed loop of `connections` keep-alive connections sending `count` requests, each built by a
  function of its index; it counts the requests the gateway accepted and their answer times.
"""

from __future__ import annotations

import asyncio
import collections
import json
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DELIVERED = {"m": "11", "k": "1"}  # Martinet's statut "received"; Kannel's DLR type "delivered to phone"
INTERMEDIATE = {"m": {"0", "13"}, "k": {"4", "8"}}  # sent / delivered to operator; buffered / accepted by SMSC


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


class _Stats:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.received = 0
        self.by_kind: collections.Counter[str] = collections.Counter()  # "m:11", "k:8"…
        self.final: set[str] = set()
        self.delivered = 0
        self.failed = 0
        self.duplicates = 0  # a second final callback for a number
        self.first: float | None = None
        self.last: float | None = None
        self.last_final: float | None = None
        self.latencies_ms: list[float] = []

    def record(self, target: bytes) -> None:
        now = time.time()
        path, _, query = target.decode("latin-1").partition("?")
        gateway = path.strip("/")[:1]
        fields = dict(urllib.parse.parse_qsl(query))
        kind = fields.get("statut" if gateway == "m" else "type", "?")
        number = fields.get("numero" if gateway == "m" else "n", "")
        self.received += 1
        self.by_kind[f"{gateway}:{kind}"] += 1
        self.first = self.first or now
        self.last = now
        if gateway in DELIVERED and kind not in INTERMEDIATE[gateway]:
            if number in self.final:
                self.duplicates += 1
                return
            self.final.add(number)
            self.last_final = now
            if kind == DELIVERED[gateway]:
                self.delivered += 1
            else:
                self.failed += 1
            sent = fields.get("t")
            if sent and sent.isdigit():
                self.latencies_ms.append(now * 1000 - int(sent))

    def report(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "by_kind": dict(self.by_kind),
            "final": len(self.final),
            "delivered": self.delivered,
            "failed": self.failed,
            "duplicates": self.duplicates,
            "first": self.first,
            "last": self.last,
            "last_final": self.last_final,
            "latency_p50_ms": percentile(self.latencies_ms, 0.5),
            "latency_p99_ms": percentile(self.latencies_ms, 0.99),
        }


class _Callbacks(asyncio.Protocol):
    """Minimal HTTP/1.x server: GET requests without bodies, keep-alive unless the client says otherwise."""

    def __init__(self, stats: _Stats) -> None:
        self._stats = stats
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while b"\r\n\r\n" in self._buffer:
            head, self._buffer = self._buffer.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n")
            parts = lines[0].split(b" ")
            headers = {k.strip().lower(): v.strip().lower() for k, _, v in (h.partition(b":") for h in lines[1:])}
            length = int(headers.get(b"content-length", b"0") or 0)
            self._buffer = self._buffer[length:]  # bodies are not expected; skip one if any
            target = parts[1] if len(parts) > 1 else b"/"
            if target.startswith(b"/stats"):
                body = json.dumps(self._stats.report()).encode()
            elif target.startswith(b"/reset"):
                self._stats.reset()
                body = b"{}"
            else:
                self._stats.record(target)
                body = b"OK"
            close = headers.get(b"connection") == b"close" or (
                parts[-1] == b"HTTP/1.0" and headers.get(b"connection") != b"keep-alive"
            )
            assert self._transport is not None
            self._transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n%s"
                % (len(body), b"Connection: close\r\n" if close else b"", body)
            )
            if close:
                self._transport.close()
                return


def receiver_main(port: int) -> None:
    """Run the callback receiver on 127.0.0.1:`port` until terminated."""
    import uvloop

    async def serve() -> None:
        stats = _Stats()
        server = await asyncio.get_running_loop().create_server(
            lambda: _Callbacks(stats), "127.0.0.1", port, backlog=1024
        )
        async with server:
            await server.serve_forever()

    uvloop.run(serve())


@dataclass
class LoadResult:
    sent: int = 0
    accepted: int = 0
    refused: int = 0
    answers: collections.Counter[str] = field(default_factory=collections.Counter)  # refusals, first 80 chars
    began: float = 0.0  # wall clock of the first request
    ended: float = 0.0  # wall clock of the last answer
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def accepted_per_second(self) -> float:
        return self.accepted / (self.ended - self.began) if self.ended > self.began else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "accepted": self.accepted,
            "refused": self.refused,
            "refusals": dict(self.answers.most_common(5)),
            "seconds": round(self.ended - self.began, 2),
            "accepted_per_second": round(self.accepted_per_second, 1),
            "answer_p50_ms": round(percentile(self.latencies_ms, 0.5), 1),
            "answer_p99_ms": round(percentile(self.latencies_ms, 0.99), 1),
        }


async def _exchange(
    host: str, port: int, request: bytes, streams: list[Any]
) -> tuple[int, bytes]:  # (status, body), on the connection in streams[0:2], opened again when needed
    for attempt in (1, 2):
        if not streams:
            streams[:] = await asyncio.open_connection(host, port)
        reader, writer = streams
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
        except (OSError, asyncio.IncompleteReadError):
            writer.close()
            streams.clear()
            if attempt == 2:
                raise
            continue
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ")[1])
        headers = {k.strip().lower(): v.strip().lower() for k, _, v in (h.partition(b":") for h in lines[1:] if h)}
        if b"content-length" in headers:
            body = await reader.readexactly(int(headers[b"content-length"]))
        else:
            body = await reader.read()
            headers[b"connection"] = b"close"
        if headers.get(b"connection") == b"close":
            writer.close()
            streams.clear()
        return status, body
    raise AssertionError("unreachable")


async def _load(
    host: str,
    port: int,
    build: Callable[[int, int], bytes],
    accepted: Callable[[int, bytes], bool],
    count: int,
    connections: int,
) -> LoadResult:
    result = LoadResult()
    indexes = iter(range(count))

    async def worker() -> None:
        streams: list[Any] = []
        for index in indexes:
            sent_ms = time.time_ns() // 1_000_000
            request = build(index, sent_ms)
            try:
                status, body = await _exchange(host, port, request, streams)
            except (OSError, asyncio.IncompleteReadError) as exc:
                status, body = 0, f"{type(exc).__name__}: {exc}".encode()
            now = time.time()
            result.sent += 1
            result.latencies_ms.append(now * 1000 - sent_ms)
            result.ended = max(result.ended, now)
            if accepted(status, body):
                result.accepted += 1
            else:
                result.refused += 1
                result.answers[f"{status} {body[:80].decode('latin-1')}"] += 1
        if streams:
            streams[1].close()

    result.began = time.time()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return result


def load(
    base: str,
    build: Callable[[int, int], bytes],
    accepted: Callable[[int, bytes], bool],
    *,
    count: int,
    connections: int = 64,
) -> LoadResult:
    """Send `count` requests (`build(index, sent_ms)` → the raw request) on `connections` keep-alive connections."""
    import uvloop

    parsed = urllib.parse.urlsplit(base)
    return uvloop.run(_load(parsed.hostname or "127.0.0.1", parsed.port or 80, build, accepted, count, connections))
