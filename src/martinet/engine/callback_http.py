"""The HTTP/1.1 client the notifier delivers callbacks with: one request per callback, on keep-alive connections.

Why not aiohttp's client, which the notifier used before: a callback is a small GET or POST whose answer matters
only by its status (and `Retry-After`), and aiohttp's general-purpose request path (timers, tracing, cookie and
redirect machinery, a stream reader per answer, several writes per request) cost about 0.3 ms of CPU per callback,
half of the notifier's time at full load (docs/benchmarks-history.md). This client writes each request in one `write`,
parses answers with `httptools` (the C parser uvicorn uses, so no new dependency), keeps idle connections per host
and reuses them. It still resolves names through a resolver passed in (the notifier's `GuardedResolver`, so the
address checked is the address connected to), verifies TLS certificates with the system's store, follows no
redirect, keeps no cookie, never decompresses, and reads at most `answer_limit` bytes of an answer's body: a longer
body closes its connection, so a receiver streaming without end costs bounded memory.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import cast
from urllib.parse import urlsplit

import httptools

from martinet.domain.valueclass import valueclass
from martinet.domain.webhooks import ascii_host, request_target, url_problem

#: Resolves (host, port) to the addresses a connection may be made to; raises OSError when there are none.
Resolve = Callable[[str, int], Awaitable[Sequence[str]]]

#: Bytes an answer's status line and headers may take: past them the answer is refused (the parser would
#: otherwise gather an endless header line in memory).
HEAD_LIMIT = 16 * 1024
#: Seconds an idle connection is kept for reuse; receivers commonly close theirs after 5 to 75 s, and a request
#: on a connection the receiver closed meanwhile is sent again once on a new one.
IDLE_SECONDS = 15.0


class AnswerError(Exception):
    """The receiver's answer could not be read as HTTP/1.1 (or the connection ended before its status line)."""


@valueclass
class Answer:
    status: int
    retry_after: str | None  # the header's value, for 429 and 503


@valueclass
class Origin:
    scheme: str
    host: str
    port: int

    @property
    def host_header(self) -> bytes:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return (host if self.port == default else f"{host}:{self.port}").encode("ascii")


class _Connection(asyncio.Protocol):
    """One connection and the answer it is waiting for; `httptools` calls the `on_*` methods while parsing."""

    def __init__(self, answer_limit: int) -> None:
        self._limit = answer_limit
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future[Answer] | None = None
        self._status = 0
        self._retry_after: str | None = None
        self._header_name = b""
        self._body = 0
        self._head = 0  # bytes received before the end of the headers
        self._received = False  # a byte of the current answer arrived

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        self._received = True
        if self._waiter is None or self._waiter.done():  # bytes nobody asked for: the connection is unusable
            self._close()
            return
        rest = b""
        if not self._status:  # the headers are fed at most HEAD_LIMIT bytes in all
            room = HEAD_LIMIT - self._head
            data, rest = data[:room], data[room:]
            self._head += len(data)
        try:
            self._parser.feed_data(data)
            if rest and not self.closed:
                if not self._status:
                    self._fail(AnswerError(f"answer headers longer than {HEAD_LIMIT} bytes"))
                    return
                self._parser.feed_data(rest)
        except httptools.HttpParserUpgrade:
            self._fail(AnswerError("the receiver switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(AnswerError(f"malformed answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._status:  # an answer whose body runs to the end of the connection
            waiter.set_result(Answer(self._status, self._retry_after))
        else:
            waiter.set_exception(_Unanswered(exc, self._received))

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        if name:
            self._header_name = name
        if self._header_name.lower() == b"retry-after":
            self._retry_after = (self._retry_after or "") + value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self._body += len(body)
        if self._body > self._limit:  # never read (nor buffer) the rest: the status is all that matters
            self._finish(reusable=False)

    def on_message_complete(self) -> None:
        if 100 <= self._status < 200:  # an interim answer (100 Continue, 103): the final one follows
            self._status, self._retry_after = 0, None
            return
        self._finish(reusable=self._parser.should_keep_alive())

    # use by the client

    def send(self, request: bytes, loop: asyncio.AbstractEventLoop) -> asyncio.Future[Answer]:
        assert self.transport is not None
        self._waiter = loop.create_future()
        self._status, self._retry_after, self._header_name, self._body, self._received = 0, None, b"", 0, False
        self._head = 0
        self.transport.write(request)
        return self._waiter

    def abort(self) -> None:
        self._close()

    def _finish(self, *, reusable: bool) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(Answer(self._status, self._retry_after))
        if not reusable:
            self._close()

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        self._close()

    def _close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class _Unanswered(ConnectionError):
    """The connection ended before an answer's status; `stale` when nothing at all came back (a receiver that
    closed an idle keep-alive connection just as the request went out: sending again is safe)."""

    def __init__(self, cause: Exception | None, received: bool) -> None:
        super().__init__(f"connection closed before an answer{f': {cause}' if cause else ''}")
        self.stale = not received


class CallbackClient:
    """Sends one request at a time per connection, any number of connections at once; the caller bounds them."""

    def __init__(
        self,
        resolve: Resolve,
        *,
        timeout: float,
        answer_limit: int,
        user_agent: str,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._resolve = resolve
        self._timeout = timeout
        self._limit = answer_limit
        self._agent = user_agent.encode("ascii")
        self._ssl = ssl_context
        self._clock = clock
        self._idle: dict[Origin, list[_Connection]] = {}

    async def request(self, method: str, url: str, headers: Sequence[tuple[str, str]], body: bytes | None) -> Answer:
        """Send `method url` and return the answer's status within the client's `timeout`, connection included
        (raises OSError, TimeoutError, AnswerError, or ValueError for a URL or header that cannot be sent)."""
        origin, target = split_url(url)
        return await self.request_to(method, origin, target, headers, body)

    async def request_to(
        self, method: str, origin: Origin, target: str, headers: Sequence[tuple[str, str]], body: bytes | None
    ) -> Answer:
        """`request` for a URL already split by `split_url`: the notifier splits a callback URL once for all the
        callbacks sent to it, and appends each one's query to the target."""
        head = _head(method, target, origin, headers, body, self._agent)
        request = head + body if body else head
        async with asyncio.timeout(self._timeout):
            connection = self._take_idle(origin)
            if connection is not None:
                try:
                    return await self._exchange(origin, connection, request)
                except _Unanswered as exc:
                    if not exc.stale:
                        raise
            return await self._exchange(origin, await self._connect(origin), request)

    async def close(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.abort()
        self._idle.clear()

    async def _exchange(self, origin: Origin, connection: _Connection, request: bytes) -> Answer:
        try:
            answer = await connection.send(request, asyncio.get_running_loop())
        except BaseException:
            connection.abort()
            raise
        if not connection.closed:
            connection.idle_since = self._clock()
            self._idle.setdefault(origin, []).append(connection)
        return answer

    def _take_idle(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = self._clock()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < IDLE_SECONDS:
                return connection
            connection.abort()
        return None

    async def _connect(self, origin: Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        addresses = await self._resolve(origin.host, origin.port)
        tls = None
        if origin.scheme == "https":
            tls = self._ssl or ssl.create_default_context()
        last: OSError | None = None
        for address in addresses:
            try:
                _transport, connection = await loop.create_connection(
                    lambda: _Connection(self._limit),
                    address,
                    origin.port,
                    ssl=tls,
                    server_hostname=origin.host if tls else None,
                )
                return connection
            except OSError as exc:
                last = exc
        raise last or OSError(f"no address for {origin.host}")


def split_url(url: str) -> tuple[Origin, str]:
    """The origin to connect to and the request target of `url`, in their ASCII forms (`ascii_host`,
    `ascii_target`: a name in IDNA, an accent percent-encoded); raises ValueError for what cannot be sent."""
    problem = url_problem(url)
    if problem is not None:
        raise ValueError(problem)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return Origin(parts.scheme, ascii_host(parts.hostname or ""), port), request_target(url)


def _head(
    method: str, target: str, origin: Origin, headers: Sequence[tuple[str, str]], body: bytes | None, agent: bytes
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1".encode("ascii"), b"Host: " + origin.host_header, b"User-Agent: " + agent]
    for name, value in headers:
        if "\r" in value or "\n" in value:
            raise ValueError(f"header {name} holds a line break")
        lines.append(f"{name}: {value}".encode("latin-1"))
    if body is not None:
        lines.append(b"Content-Length: %d" % len(body))
    lines.append(b"\r\n")
    return b"\r\n".join(lines)
