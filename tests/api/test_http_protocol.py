"""The HTTP workers' protocol (`martinet.api.http_protocol`), served by uvicorn as `martinet serve` configures it
(`martinet.server.http_config`), to a raw socket on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import uvicorn

from martinet.config import Settings
from martinet.server import bind, http_config

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

#: Offset of `tcpi_data_segs_in` (segments received that carried data) in Linux's `struct tcp_info`.
_DATA_SEGS_IN = 152


def _data_segments_received(sock: socket.socket) -> int:
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    assert len(info) >= _DATA_SEGS_IN + 4, "this kernel's tcp_info does not count data segments"
    return int(struct.unpack_from("I", info, _DATA_SEGS_IN)[0])


async def _small(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = b"0 | Accept\xc3\xa9 | 123"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


@contextlib.asynccontextmanager
async def _serving(app: Callable[..., Awaitable[None]], **http: Any) -> AsyncIterator[int]:
    sock = bind("127.0.0.1", 0)
    settings = Settings(http={"host": "127.0.0.1", "port": sock.getsockname()[1], **http})
    server = uvicorn.Server(http_config(settings, app))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await task
        sock.close()


async def _read_answer(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))[15:])
    return head, await reader.readexactly(length)


@pytest.mark.skipif(sys.platform != "linux", reason="counts segments with Linux's TCP_INFO")
async def test_an_answer_leaves_in_one_segment() -> None:
    async with _serving(_small) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(3):  # on one keep-alive connection
            before = _data_segments_received(sock)
            writer.write(b"GET /http/1.6/sendSMS.do HTTP/1.1\r\nHost: gateway\r\n\r\n")
            head, body = await _read_answer(reader)
            assert head.startswith(b"HTTP/1.1 200 OK\r\n")
            assert body == "0 | Accepté | 123".encode()
            assert _data_segments_received(sock) - before == 1  # head and body together
        writer.close()


async def test_pipelined_requests_are_answered_whole_and_in_order() -> None:
    async def echo(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _small(scope, receive, send)
            return
        body = scope["path"].encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    async with _serving(echo) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"".join(b"GET /%d HTTP/1.1\r\nHost: gateway\r\n\r\n" % n for n in range(5)))
        bodies = [(await _read_answer(reader))[1] for _ in range(5)]
        assert bodies == [b"/%d" % n for n in range(5)]
        writer.close()


async def test_an_answer_before_a_close_is_sent_before_the_close() -> None:
    async with _serving(_small) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n")
        received = await asyncio.wait_for(reader.read(), 10)  # to the end of the connection
        assert received.startswith(b"HTTP/1.1 200 OK\r\n")
        assert received.endswith("0 | Accepté | 123".encode())
        writer.close()


async def test_a_streamed_answer_is_not_held_back_until_its_end() -> None:
    """Each piece of a streamed answer leaves as it is sent: the application sends the second piece only once
    the client has read the first, which would never come if pieces waited for the answer's end."""
    first_read = asyncio.Event()

    async def streaming(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _small(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"first;", "more_body": True})
        await asyncio.wait_for(first_read.wait(), 10)
        await send({"type": "http.response.body", "body": b"second", "more_body": False})

    async with _serving(streaming) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: gateway\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")
        assert await asyncio.wait_for(reader.readuntil(b"first;\r\n"), 10) == b"6\r\nfirst;\r\n"
        first_read.set()
        assert await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 10) == b"6\r\nsecond\r\n0\r\n\r\n"
        writer.close()


async def _closed_within(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, lines: list[bytes]) -> float:
    """Send `lines` 0.2 s apart (a client trickling its headers) until the server closes; the seconds it took."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    for line in lines:
        if reader.at_eof():
            break
        with contextlib.suppress(ConnectionError):
            writer.write(line)
            await writer.drain()
        with contextlib.suppress(TimeoutError):
            if await asyncio.wait_for(reader.read(), 0.2) == b"":
                break
    return loop.time() - started


async def test_a_request_whose_headers_trickle_in_is_cut_off() -> None:
    """A header line now and then would hold the connection for ever (uvicorn times out only idle connections
    between requests): the headers must all arrive within `http.head_timeout`, on a new connection and on each
    request of a kept-alive one, and a connection that sends nothing is closed too."""
    trickle = [b"GET / HTTP/1.1\r\n"] + [b"X-Slow-%d: 1\r\n" % i for i in range(30)]
    async with _serving(_small, head_timeout=0.6) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await _closed_within(reader, writer, trickle) < 2.0
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await _closed_within(reader, writer, [b""] * 20) < 2.0  # connected, silent
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await asyncio.wait_for(reader.readuntil(b"123"), 2)
        assert answer.startswith(b"HTTP/1.1 200")
        await asyncio.sleep(0.8)  # kept alive past the head timeout while idle: uvicorn's own keep-alive (5 s)
        assert await _closed_within(reader, writer, trickle) < 2.0
        writer.close()
