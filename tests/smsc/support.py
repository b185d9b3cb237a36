"""Shared pieces of the simulator tests: a fast configuration, an ESME handler that records what it gets, and a
raw SMPP socket that shows PDUs in the order the simulator wrote them."""

from __future__ import annotations

import asyncio
import re
import select
import socket
import struct
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from martinet.smpp import PDU, BindReceiver, BindTransceiver, BindTransmitter, DeliverSm, DeliverSmResp, SubmitSm, Tag
from martinet.smpp.aio import Handler, SMPPConnection, connect
from martinet.smpp.pdu import decode, encode
from martinet.smpp.session import SessionConfig
from martinet.smsc import Credential, SimulatorConfig

SESSION = SessionConfig(
    window=64,
    response_timeout=2.0,
    enquire_link_interval=5.0,
    dead_peer_timeout=10.0,
    bind_timeout=2.0,
    unbind_timeout=2.0,
)
BASE = SimulatorConfig(
    port=0,
    control_port=None,
    credentials=(Credential("acme", "secret"), Credential("other", "pw2")),
    intermediate_delay=0.01,
    receipt_delay=0.05,
    retry_delay=0.1,
    seed=7,
    session=SESSION,
)

#: The receipt text of SMPP 3.4 appendix B, written out independently of martinet.smpp.receipt.
RECEIPT = re.compile(
    r"^id:(?P<id>\S+) sub:(?P<sub>\d{3}) dlvrd:(?P<dlvrd>\d{3}) submit date:(?P<submit>\d{10}) "
    r"done date:(?P<done>\d{10}) stat:(?P<stat>[A-Z]{7}) err:(?P<err>\d{3}) text:(?P<text>.*)$",
    re.DOTALL,
)


def config(**changes: Any) -> SimulatorConfig:
    return replace(BASE, **changes)


def submit(
    dest: str = "33612345678", text: bytes = b"Your code is 123456, valid 10 minutes", **fields: Any
) -> SubmitSm:
    return SubmitSm(
        source_addr_ton=5,
        source_addr="Martinet",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr=dest,
        registered_delivery=fields.pop("registered_delivery", 1),
        short_message=text,
        **fields,
    )


class Inbox:
    """An ESME handler that keeps every deliver_sm; `respond` decides the answer."""

    def __init__(self, respond: Callable[[DeliverSm], PDU] | None = None) -> None:
        self.items: list[DeliverSm] = []
        self._arrived = asyncio.Condition()
        self._respond = respond

    async def __call__(self, pdu: PDU) -> PDU:
        assert isinstance(pdu, DeliverSm)
        answer = self._respond(pdu) if self._respond else DeliverSmResp()
        if answer.command_status == 0:
            async with self._arrived:
                self.items.append(pdu)
                self._arrived.notify_all()
        return answer

    async def wait_for(self, count: int, timeout: float = 3.0) -> list[DeliverSm]:
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.items) >= count), timeout)
        return self.items[:count]

    def receipts_for(self, message_id: str) -> list[DeliverSm]:
        return [p for p in self.items if p.get_tlv(Tag.RECEIPTED_MESSAGE_ID) == message_id]


async def bind(
    port: int,
    handler: Handler | None = None,
    *,
    system_id: str = "acme",
    password: str = "secret",
    bind: str = "transceiver",
    session: SessionConfig = SESSION,
) -> SMPPConnection:
    return await connect(
        "127.0.0.1",
        port,
        system_id=system_id,
        password=password,
        bind=bind,  # type: ignore[arg-type]
        config=session,
        handler=handler,
    )


BINDS: dict[str, type[BindTransmitter | BindReceiver | BindTransceiver]] = {
    "transmitter": BindTransmitter,
    "receiver": BindReceiver,
    "transceiver": BindTransceiver,
}


class Wire:
    """An ESME written by hand on a raw socket: no session layer between the test and the bytes, so
    :meth:`read` returns PDUs exactly in the order the simulator wrote them."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._loop = asyncio.get_running_loop()
        self._sequence = 0

    @classmethod
    async def open(cls, port: int) -> Wire:
        sock = socket.socket()
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        return cls(sock)

    async def send(self, pdu: PDU) -> int:
        """Write ``pdu`` with the next sequence number (a response keeps the one it was given)."""
        if not pdu.command_id & 0x80000000:
            self._sequence += 1
            pdu.sequence_number = self._sequence
        await self._loop.sock_sendall(self.sock, encode(pdu))
        return pdu.sequence_number

    async def read(self, timeout: float = 2.0) -> PDU:
        header = await asyncio.wait_for(self._exactly(4), timeout)
        (length,) = struct.unpack(">I", header)
        return decode(header + await asyncio.wait_for(self._exactly(length - 4), timeout))

    async def _exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = await self._loop.sock_recv(self.sock, count - len(data))
            if not chunk:
                raise ConnectionError("the simulator closed the connection")
            data += chunk
        return data

    async def bind(self, system_id: str = "acme", password: str = "secret", kind: str = "transceiver") -> PDU:
        """Send a bind and return its response, whatever its status."""
        await self.send(BINDS[kind](system_id=system_id, password=password))
        return await self.read()

    async def ack(self, pdu: DeliverSm) -> None:
        await self.send(DeliverSmResp(sequence_number=pdu.sequence_number))

    def has_data(self) -> bool:
        """Bytes already arrived and not read yet (checked without waiting)."""
        readable, _, _ = select.select([self.sock], [], [], 0)
        return bool(readable)

    def close(self) -> None:
        self.sock.close()
