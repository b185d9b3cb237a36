"""The HTTP workers' connection protocol: uvicorn's httptools protocol, with each answer sent in one write.

uvicorn writes an answer's status line and headers when the application sends `http.response.start`, and its
body when it sends `http.response.body`: two `send` system calls, two TCP segments, and two wake-ups of the
client for an answer of a hundred bytes, where a request's whole life makes about a dozen system calls (`perf
trace -s` under load, docs/benchmarks-history.md).

`CoalescingTransport` holds what is written during one step of the event loop and writes it at the end of the
step, in one call. The application's two messages are sent within one step (nothing between them waits), so an
answer leaves whole; a streamed answer still leaves piece by piece, one step later at most.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """Stands in for a transport: `write` is joined with the other writes of the same loop step, and everything
    else goes to the real transport. Every method that writes or ends the connection flushes or drops what is
    pending first, so that nothing reaches the socket out of order."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if self._pending is None:
            self._pending = [bytes(data)]
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(bytes(data))

    def flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()  # what was written before the close is sent before it, as with the real transport
        self._transport.close()

    def abort(self) -> None:
        self._pending = None
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending or ()))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a `CoalescingTransport`, and closing a connection whose
    request line and headers take longer than `head_timeout` seconds to arrive.

    uvicorn times a connection out only while it is idle between requests: a client that sends a header line
    every few seconds (or connects and sends nothing) would hold its connection, and a few thousand such clients
    every descriptor of the worker. `head_timeout` runs from the connection (or the first byte of each request on
    a kept-alive connection) to the end of the headers; the body is read by the doors under their own limits.
    """

    head_timeout: float = 30.0
    _head_since: float | None = None  # when the head being read began (None: between requests)
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
        self._head_since = self.loop.time()  # waiting for the first request counts
        self._head_timer = self.loop.call_later(self.head_timeout, self._check_head)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_since = self.loop.time()

    def on_headers_complete(self) -> None:
        self._head_since = None
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def _check_head(self) -> None:
        """One timer per connection, looking again when the head being read would be due: a request costs two
        attribute writes and a clock read, not a timer armed and cancelled of its own."""
        since, now = self._head_since, self.loop.time()
        if since is not None and now - since >= self.head_timeout:
            self._head_timer = None
            if not self.transport.is_closing():
                self.transport.close()
            return
        wait = self.head_timeout if since is None else self.head_timeout - (now - since)
        self._head_timer = self.loop.call_later(wait, self._check_head)


def with_head_timeout(seconds: float) -> type[CoalescingHttpToolsProtocol]:
    """The protocol class with its `head_timeout` (uvicorn makes each connection's protocol from a class)."""
    return type("HttpProtocol", (CoalescingHttpToolsProtocol,), {"head_timeout": seconds})
