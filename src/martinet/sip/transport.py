"""SIP over UDP and TCP: one socket (or connection) carrying the messages of many calls.

Whoever owns a transport gets each parsed message with the address it came from, and sends by address; over
TCP the address names the connection (a client has one, to its trunk; a server one per peer). Messages that do
not parse are dropped: on UDP a stray datagram must not stop the others, and a peer retransmits what matters.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Callable
from typing import Protocol

from martinet.sip.messages import SipRequest, SipResponse, parse

log = logging.getLogger(__name__)

Address = tuple[str, int]
Receiver = Callable[[SipRequest | SipResponse, Address], None]

#: The largest SIP message accepted over TCP (headers and body): a peer cannot make us buffer without end.
MAX_MESSAGE = 65_536
_LENGTH = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)


class Transport(Protocol):
    name: str  # "UDP" or "TCP", as the Via header writes it

    @property
    def local(self) -> Address: ...

    def send(self, data: bytes, address: Address) -> None: ...

    async def close(self) -> None: ...


def _deliver(receiver: Receiver, data: bytes, address: Address) -> None:
    if not data.strip():
        return  # keep-alive
    try:
        message = parse(data)
    except (ValueError, IndexError) as exc:
        log.debug("dropped a message that is not SIP from %s: %s", address, exc)
        return
    try:
        receiver(message, address)
    except Exception:
        log.exception("handling a SIP message from %s failed", address)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, receiver: Receiver) -> None:
        self._receiver = receiver

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        _deliver(self._receiver, data, (str(addr[0]), int(str(addr[1]))))

    def error_received(self, exc: Exception) -> None:
        log.debug("SIP UDP error: %s", exc)  # an ICMP unreachable: the transaction's timer reports it


class UdpTransport:
    name = "UDP"

    def __init__(self, transport: asyncio.DatagramTransport) -> None:
        self._transport = transport

    @classmethod
    async def open(cls, host: str, port: int, receiver: Receiver) -> UdpTransport:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _Datagrams(receiver), local_addr=(host, port))
        return cls(transport)

    @property
    def local(self) -> Address:
        host, port = self._transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def send(self, data: bytes, address: Address) -> None:
        self._transport.sendto(data, address)

    async def close(self) -> None:
        self._transport.close()


async def _read_messages(reader: asyncio.StreamReader, receiver: Receiver, address: Address) -> None:
    """Split a TCP stream into messages by their Content-Length (RFC 3261 §18.3)."""
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            log.warning("a SIP message from %s is too large; closing", address)
            return
        except (asyncio.IncompleteReadError, ConnectionError):
            return  # closed (or reset) by the peer
        head = head.lstrip(b"\r\n")
        found = _LENGTH.search(head)
        length = int(found.group(1)) if found else 0
        if length + len(head) > MAX_MESSAGE:
            log.warning("a SIP message from %s is too large; closing", address)
            return
        try:
            body = await reader.readexactly(length) if length else b""
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        _deliver(receiver, head + body, address)


class TcpClientTransport:
    """One connection to the trunk, opened when first needed and again after it closed.

    A trunk that is down or restarting must not take the engine with it: `open` does not connect (the caller
    connects when it starts, and again in the background or before a call, see `SipCaller`), and when the peer
    closes the connection (its FIN ends the read loop) the writer is dropped at once, so the next message opens a
    new connection instead of being written into a dead one and lost (TCP does not retransmit SIP for us)."""

    name = "TCP"

    def __init__(self, host: str, port: int, receiver: Receiver, local_host: str) -> None:
        self._peer = (host, port)
        self._receiver = receiver
        self._local_host = local_host
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task[None] | None = None
        self._local: Address = (local_host, 0)
        self._connecting: asyncio.Lock = asyncio.Lock()
        self._closed = False
        #: Set while connected, cleared when the connection is lost: what a reconnecting loop waits on.
        self.lost = asyncio.Event()
        self.lost.set()

    @classmethod
    async def open(cls, host: str, port: int, receiver: Receiver, local_host: str) -> TcpClientTransport:
        """The transport, not yet connected: `connect` (or the first `send`) opens the connection."""
        return cls(host, port, receiver, local_host)

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def connect(self) -> None:
        """Connect unless connected; raises OSError when the trunk cannot be reached."""
        async with self._connecting:
            if self.connected:
                return
            if self._closed:
                raise ConnectionError("the SIP transport is closed")
            reader, writer = await asyncio.open_connection(
                *self._peer, local_addr=(self._local_host, 0), limit=MAX_MESSAGE
            )
            self._writer = writer
            host, port = writer.get_extra_info("sockname")[:2]
            self._local = (str(host), int(port))
            self.lost.clear()
            self._reading = asyncio.create_task(_read_messages(reader, self._receiver, self._peer))
            self._reading.add_done_callback(lambda _: self._dropped(writer))

    def _dropped(self, writer: asyncio.StreamWriter) -> None:
        """The read loop ended (the peer closed, or sent what we do not accept): this connection is dead."""
        writer.close()
        if self._writer is writer:
            self._writer = None
            self.lost.set()
            log.info("the SIP TCP connection to %s:%d closed", *self._peer)

    @property
    def local(self) -> Address:
        return self._local

    def send(self, data: bytes, address: Address) -> None:
        if self._writer is None or self._writer.is_closing():
            task = asyncio.ensure_future(self._send_after_connect(data))
            task.add_done_callback(_ignore_failure)
            return
        self._writer.write(data)

    async def _send_after_connect(self, data: bytes) -> None:
        await self.connect()
        if self._writer is not None:
            self._writer.write(data)

    async def close(self) -> None:
        self._closed = True
        writer = self._writer
        if self._reading is not None:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reading
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        self._writer = None


class TcpServerTransport:
    """Accepts connections; answers go back on the connection the request came from."""

    name = "TCP"

    def __init__(self, receiver: Receiver) -> None:
        self._receiver = receiver
        self._server: asyncio.Server | None = None
        self._writers: dict[Address, asyncio.StreamWriter] = {}

    @classmethod
    async def open(cls, host: str, port: int, receiver: Receiver) -> TcpServerTransport:
        transport = cls(receiver)
        transport._server = await asyncio.start_server(transport._accept, host, port, limit=MAX_MESSAGE)
        return transport

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = writer.get_extra_info("peername")[:2]
        address = (str(host), int(port))
        self._writers[address] = writer
        try:
            await _read_messages(reader, self._receiver, address)
        finally:
            self._writers.pop(address, None)
            writer.close()

    @property
    def local(self) -> Address:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    def send(self, data: bytes, address: Address) -> None:
        writer = self._writers.get(address)
        if writer is not None and not writer.is_closing():
            writer.write(data)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers.values()):
            writer.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)


def _ignore_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("sending over SIP TCP failed: %s", task.exception())
