"""A loopback TCP relay that can be cut and mended: a database server going away and coming back, on demand.

A gateway given the relay's address instead of the server's reaches the server through it. Cut, the relay resets
every connection it carries and refuses new ones, as the host of a stopped server does; mended, it listens again
on the same port and relays new connections. The server itself is never touched, so a drill or a test needs no
rights over it (stopping a shared PostgreSQL would take every other user's database away too).

Used by the outage drill of `bench/faults.py` (in a thread of its own) and by the tests' faults (`tests/faults.py`).
"""

from __future__ import annotations

import asyncio
import contextlib


class Relay:
    """Relays `127.0.0.1:port` (a free port, chosen at `start`) to `host:target_port`."""

    def __init__(self, host: str, target_port: int) -> None:
        self._host = host
        self._target_port = target_port
        self._carried: set[asyncio.StreamWriter] = set()
        self._listener: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._listener = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._listener.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._listener is not None:
            self._listener.close()
        for writer in list(self._carried):
            writer.transport.abort()  # a reset, as when the server's process is gone
        if self._listener is not None:
            await self._listener.wait_closed()
            self._listener = None

    async def mend(self) -> None:
        await self.start()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(self._host, self._target_port)
        except OSError:
            client_writer.close()
            return
        self._carried.update((client_writer, server_writer))
        try:
            await asyncio.gather(_pipe(client_reader, server_writer), _pipe(server_reader, client_writer))
        finally:
            self._carried.difference_update((client_writer, server_writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.CancelledError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()
