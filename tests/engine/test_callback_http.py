"""The notifier's HTTP client against real servers on loopback: aiohttp's server (an independent implementation)
for ordinary answers, keep-alive and TLS, and a scripted asyncio server for the answers a receiver may give that
aiohttp would not write (a body to the end of the connection, a connection closed while idle, garbage)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web

from martinet.domain.webhooks import append_query
from martinet.engine.callback_http import AnswerError, CallbackClient, split_url

LIMIT = 64 * 1024


async def _loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


def _client(timeout: float = 5.0, context: ssl.SSLContext | None = None) -> CallbackClient:
    return CallbackClient(_loopback, timeout=timeout, answer_limit=LIMIT, user_agent="test/1", ssl_context=context)


@contextlib.asynccontextmanager
async def _aiohttp(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]], context: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[int, list[str]]]:
    """An aiohttp server answering every path with `handler`; yields its port and the peer port of each request
    (one entry per request: equal entries mean one connection reused)."""
    peers: list[str] = []

    async def counted(request: web.Request) -> web.StreamResponse:
        peers.append(str(request.transport.get_extra_info("peername")[1]) if request.transport else "")
        return await handler(request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", counted)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield port, peers
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def _scripted(answers: list[bytes | None]) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A server that reads one request head per connection turn and writes the next scripted answer; None closes
    the connection without answering. Yields its port and the request heads it read."""
    heads: list[bytes] = []
    script = iter(answers)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                heads.append(head)
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                if length:
                    await reader.readexactly(length)
                answer = next(script)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if b"Connection: close" in answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, StopIteration):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], heads
    finally:
        server.close()
        await server.wait_closed()


async def test_requests_share_a_keep_alive_connection_and_carry_headers_and_body() -> None:
    seen: list[tuple[str, str, str, bytes]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append((request.method, request.path_qs, request.headers.get("X-Event", ""), await request.read()))
        return web.Response(status=200, text="OK")

    client = _client()
    try:
        async with _aiohttp(handler) as (port, peers):
            first = await client.request(
                "GET", f"http://localhost:{port}/dlr?numero=336%2B1&x=%C3%A9", [("X-Event", "h1")], None
            )
            second = await client.request("POST", f"http://localhost:{port}/json", [("X-Event", "h2")], b'{"a":1}')
    finally:
        await client.close()
    assert (first.status, second.status) == (200, 200)
    assert seen == [("GET", "/dlr?numero=336%2B1&x=%C3%A9", "h1", b""), ("POST", "/json", "h2", b'{"a":1}')]
    assert peers[0] == peers[1], "the second request did not reuse the first one's connection"


async def test_status_and_retry_after_of_a_refusal() -> None:
    async def handler(_request: web.Request) -> web.Response:
        return web.Response(status=429, headers={"Retry-After": "7"}, text="slow down")

    client = _client()
    try:
        async with _aiohttp(handler) as (port, _peers):
            answer = await client.request("GET", f"http://127.0.0.1:{port}/", [], None)
    finally:
        await client.close()
    assert (answer.status, answer.retry_after) == (429, "7")


async def test_a_body_longer_than_the_limit_ends_its_connection_and_the_next_request_opens_another() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        answer = web.StreamResponse(status=200)
        await answer.prepare(request)
        with contextlib.suppress(ConnectionError):
            for _ in range(200):  # 12.8 MiB, chunked
                await answer.write(b"x" * 65536)
        return answer

    client = _client()
    try:
        async with _aiohttp(handler) as (port, peers):
            first = await client.request("GET", f"http://127.0.0.1:{port}/a", [], None)
            second = await client.request("GET", f"http://127.0.0.1:{port}/b", [], None)
    finally:
        await client.close()
    assert (first.status, second.status) == (200, 200)
    assert peers[0] != peers[1]


async def test_a_connection_the_receiver_closed_while_idle_is_replaced_and_the_request_sent_once_more() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"
    # First connection: answers once, then closes without answering the second request (an idle timeout race).
    async with _scripted([ok, None, ok]) as (port, heads):
        client = _client()
        try:
            first = await client.request("GET", f"http://127.0.0.1:{port}/1", [], None)
            second = await client.request("GET", f"http://127.0.0.1:{port}/2", [], None)
        finally:
            await client.close()
    assert (first.status, second.status) == (200, 200)
    assert [h.split(b" ")[1] for h in heads] == [b"/1", b"/2", b"/2"]


async def test_a_body_running_to_the_end_of_the_connection_and_interim_answers() -> None:
    answers: list[bytes | None] = [
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nConnection: close\r\n\r\nno length, ends with the connection",
    ]
    async with _scripted(answers) as (port, _heads):
        client = _client()
        try:
            answer = await client.request("GET", f"http://127.0.0.1:{port}/", [], None)
        finally:
            await client.close()
    assert answer.status == 201


async def test_garbage_a_silent_receiver_and_unsendable_requests_fail_precisely() -> None:
    endless_header = b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * (1024 * 1024) + b"\r\n\r\n"
    async with _scripted([b"SMTP ready\r\n\r\n", endless_header]) as (port, _heads):
        client = _client()
        try:
            with pytest.raises(AnswerError, match="malformed"):
                await client.request("GET", f"http://127.0.0.1:{port}/", [], None)
            with pytest.raises(AnswerError, match="headers longer than"):
                await client.request("GET", f"http://127.0.0.1:{port}/", [], None)
        finally:
            await client.close()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    client = _client(timeout=0.5)
    try:
        with pytest.raises(TimeoutError):
            await client.request("GET", f"http://127.0.0.1:{silent.getsockname()[1]}/", [], None)
        with pytest.raises(ValueError, match="line break"):
            await client.request("GET", "http://127.0.0.1:9/", [("X-Event", "a\r\nInjected: 1")], None)
        with pytest.raises(ValueError, match="control"):
            await client.request("GET", "http://127.0.0.1:9/a\r\nInjected: 1", [], None)
        with pytest.raises(ValueError, match="invalid host name"):
            await client.request("GET", "http://shop example.com/", [], None)
    finally:
        await client.close()
        silent.close()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    client = _client()
    try:
        with pytest.raises(OSError):
            await client.request("GET", f"http://127.0.0.1:{closed.getsockname()[1]}/", [], None)
    finally:
        await client.close()
        closed.close()


def _certificate(folder: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed (Debian package openssl)")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


async def test_https_verifies_the_receivers_certificate(tmp_path: Path) -> None:
    key, cert = _certificate(tmp_path)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)

    async def handler(_request: web.Request) -> web.Response:
        return web.Response(text="OK")

    trusting = ssl.create_default_context(cafile=str(cert))
    async with _aiohttp(handler, server) as (port, _peers):
        client = _client(context=trusting)
        try:
            answer = await client.request("GET", f"https://localhost:{port}/dlr", [], None)
        finally:
            await client.close()
        assert answer.status == 200
        client = _client()  # the system's store: a self-signed certificate is refused
        try:
            with pytest.raises(ssl.SSLCertVerificationError):
                await client.request("GET", f"https://localhost:{port}/dlr", [], None)
        finally:
            await client.close()


def test_a_query_appended_to_a_split_url_gives_what_splitting_the_whole_url_gives() -> None:
    """The notifier splits a callback URL once and appends each callback's query to the target it got."""
    for base in (
        "https://x.example/dlr",
        "https://x.example/dlr?k=v",
        "https://x.example/dlr?",
        "https://x.example/dlr?k=v&",
        "http://x.example",
        "http://u:p@X.Example:8080/p;q?k=%20v",
        "http://[2001:db8::1]:81?",
        "https://bücher.example/dlr/café?client=Jean Dupont",
    ):
        origin, target = split_url(base)
        for query in ("", "numero=336&date_reception=2024-07-01+12%3A00%3A00"):
            assert split_url(append_query(base, query)) == (origin, append_query(target, query)), base


def test_a_url_is_sent_in_its_ascii_form() -> None:
    """An internationalised name as the resolver and the Host header take it, accents and spaces as escapes."""
    origin, target = split_url("https://Bücher.example:8443/dlr/café?client=Jean Dupont")
    assert (origin.host, origin.host_header, target) == (
        "xn--bcher-kva.example",
        b"xn--bcher-kva.example:8443",
        "/dlr/caf%C3%A9?client=Jean%20Dupont",
    )
