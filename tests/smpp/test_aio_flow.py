"""Inbound flow control over loopback TCP: a peer that pipelines requests without waiting for answers.

The peer is a raw socket speaking SMPP through the codec only (no session, no window), so nothing on its
side holds it back: it writes deliver_sm receipts as fast as TCP takes them.  Our ESME (`connect`) answers
them through a handler that waits on a gate the test opens in batches, as a gateway that acknowledges
receipts once a batched commit has made them durable.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import uvloop

from martinet.smpp import (
    PDU,
    BindTransceiver,
    BindTransceiverResp,
    CommandStatus,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    PDUError,
    PDUReader,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    encode,
)
from martinet.smpp.aio import Handler, SMPPConnection, connect, serve
from martinet.smpp.session import PeerDead, SessionConfig, Unbound

LIMIT = 64
CONFIG = SessionConfig(
    window=16,
    response_timeout=5.0,
    enquire_link_interval=5.0,
    dead_peer_timeout=10.0,
    bind_timeout=5.0,
    unbind_timeout=5.0,
    max_inbound_pending=LIMIT,
)
#: asyncio's selector transport reads at most 256 KiB at a time (uvloop less): what may sit unparsed.
READ_SIZE = 256 * 1024


def receipt(seq: int) -> bytes:
    text = f"id:{seq:010d} sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 stat:DELIVRD err:000 text:"
    return encode(
        DeliverSm(
            sequence_number=seq,
            source_addr="33612345678",
            destination_addr="Martinet",
            esm_class=0x04,
            short_message=text.encode(),
        )
    )


@dataclass
class RawPeer:
    """An SMSC written with the codec alone: binds whoever asks, then floods `count` receipts."""

    count: int
    answered: int = 0
    misordered: list[int] = field(default_factory=list)  # answers out of sequence order, duplicates included
    statuses: set[int] = field(default_factory=set)
    other: list[PDU] = field(default_factory=list)
    all_answered: asyncio.Event = field(default_factory=asyncio.Event)
    written: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pdus = PDUReader()
        bind = await self._next(reader, pdus)
        assert isinstance(bind, BindTransceiver)
        writer.write(encode(BindTransceiverResp(sequence_number=bind.sequence_number, system_id="raw")))
        flood = asyncio.create_task(self._flood(writer))
        try:
            await self._read(reader, writer, pdus)
        finally:
            flood.cancel()
            writer.close()

    async def _next(self, reader: asyncio.StreamReader, pdus: PDUReader) -> PDU:
        while True:
            items = pdus.feed(await reader.read(4096))
            if items:
                (item,) = items
                assert not isinstance(item, PDUError)
                return item

    async def _flood(self, writer: asyncio.StreamWriter) -> None:
        batch = 256
        for first in range(1, self.count + 1, batch):
            last = min(first + batch, self.count + 1)
            writer.write(b"".join(receipt(seq) for seq in range(first, last)))
            self.written = last - 1
            await writer.drain()  # only TCP holds the peer back

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pdus: PDUReader) -> None:
        while data := await reader.read(65536):
            for item in pdus.feed(data):
                assert not isinstance(item, PDUError), item
                if isinstance(item, DeliverSmResp):
                    # Counted, not listed: the peer's own bookkeeping must not weigh in the memory measured.
                    self.answered += 1
                    if item.sequence_number != self.answered:
                        self.misordered.append(item.sequence_number)
                    self.statuses.add(item.command_status)
                    if self.answered == self.count:
                        self.all_answered.set()
                elif isinstance(item, Unbind):
                    writer.write(encode(UnbindResp(sequence_number=item.sequence_number)))
                elif isinstance(item, EnquireLink):
                    writer.write(encode(EnquireLinkResp(sequence_number=item.sequence_number)))
                else:
                    self.other.append(item)


@dataclass
class SlowHandler:
    """Answers a deliver_sm only when the gate opens, and checks the limit at every request."""

    connection: Callable[[], SMPPConnection]
    waiting: list[asyncio.Future[None]] = field(default_factory=list)
    handed: int = 0
    returned: int = 0
    most_unanswered: int = 0
    most_buffered: int = 0
    paused_seen: int = 0

    async def __call__(self, pdu: PDU) -> PDU:
        self.handed += 1
        session = self.connection().session
        self.most_unanswered = max(self.most_unanswered, self.handed - self.returned, session.pending_inbound)
        self.most_buffered = max(self.most_buffered, session.buffered)
        gate = asyncio.get_running_loop().create_future()
        self.waiting.append(gate)
        await gate
        self.returned += 1
        return DeliverSmResp()

    async def open_gate_in_batches(self, every: float) -> None:
        """Release every waiting request at once, `every` seconds apart: a group commit."""
        while True:
            await asyncio.sleep(every)
            if self.connection().reading_paused:
                self.paused_seen += 1
            waiting, self.waiting = self.waiting, []
            for gate in waiting:
                gate.set_result(None)


async def flood(count: int, *, measure_memory: bool) -> None:
    peer = RawPeer(count)
    server = await asyncio.start_server(peer.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    holder: list[SMPPConnection] = []
    handler = SlowHandler(lambda: holder[0])
    connection = await connect("127.0.0.1", port, system_id="acme", password="pw", config=CONFIG, handler=handler)
    holder.append(connection)
    if measure_memory:
        tracemalloc.start()
        baseline = tracemalloc.get_traced_memory()[0]
    gate = asyncio.create_task(handler.open_gate_in_batches(0.002))
    try:
        began = time.monotonic()
        await asyncio.wait_for(peer.all_answered.wait(), timeout=120)
        elapsed = time.monotonic() - began
        if measure_memory:
            peak_growth = tracemalloc.get_traced_memory()[1] - baseline
            tracemalloc.stop()
        gate.cancel()
        await connection.close()
        assert isinstance(await connection.wait_closed(), Unbound)
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        gate.cancel()
        connection.abort()
        server.close()
        await server.wait_closed()

    assert peer.answered == count and not peer.misordered, "every receipt answered once, in sequence order"
    assert peer.statuses == {CommandStatus.ESME_ROK} and not peer.other
    assert handler.handed == count
    assert handler.most_unanswered == LIMIT, "the limit is reached and never exceeded"
    assert handler.paused_seen > 0, "reading was paused while the handler held the limit"
    assert handler.most_buffered <= READ_SIZE, handler.most_buffered
    if measure_memory:
        # Reading everything the peer sends would hold tens of megabytes of tasks and PDUs.
        assert peak_growth < 4 * 1024 * 1024, f"peak grew by {peak_growth} bytes"
    print(f"{count} receipts in {elapsed:.2f} s, peak memory growth {peak_growth if measure_memory else '-'}")


def run(loop: str, count: int, *, measure_memory: bool) -> None:
    factory = uvloop.new_event_loop if loop == "uvloop" else asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(flood(count, measure_memory=measure_memory))


# tracemalloc slows allocation down several times: measured on one loop by default, on both in the long run.
@pytest.mark.parametrize(("loop", "measure_memory"), [("asyncio", True), ("uvloop", False)])
def test_a_pipelining_peer_is_held_to_the_limit_and_everything_is_answered_once(
    loop: str, measure_memory: bool
) -> None:
    run(loop, 20_000, measure_memory=measure_memory)


@pytest.mark.long
@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_hundred_thousand_pipelined_receipts(loop: str) -> None:
    run(loop, 100_000, measure_memory=True)


# --------------------------------------------------------------------------- timers while paused


@dataclass
class ScriptedPeer:
    """An SMSC written with the codec alone: sends `delivers` receipts after the bind, answers every
    submit_sm at once, and enquire_link while `alive`."""

    delivers: int
    alive: bool = True
    answered: list[int] = field(default_factory=list)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        pdus = PDUReader()
        try:
            while data := await reader.read(65536):
                for item in pdus.feed(data):
                    assert not isinstance(item, PDUError), item
                    self._answer(item, writer)
        finally:
            writer.close()

    def _answer(self, item: PDU, writer: asyncio.StreamWriter) -> None:
        seq = item.sequence_number
        if isinstance(item, BindTransceiver):
            writer.write(encode(BindTransceiverResp(sequence_number=seq, system_id="raw")))
            writer.write(b"".join(receipt(n) for n in range(1, self.delivers + 1)))
        elif isinstance(item, SubmitSm):
            writer.write(encode(SubmitSmResp(sequence_number=seq, message_id=f"m{seq}")))
        elif isinstance(item, EnquireLink) and self.alive:
            writer.write(encode(EnquireLinkResp(sequence_number=seq)))
        elif isinstance(item, DeliverSmResp):
            self.answered.append(seq)
        elif isinstance(item, Unbind):
            writer.write(encode(UnbindResp(sequence_number=seq)))


async def test_a_slow_handler_does_not_get_a_live_peer_declared_dead_or_late() -> None:
    quick = SessionConfig(response_timeout=0.3, enquire_link_interval=0.1, dead_peer_timeout=0.3, max_inbound_pending=4)
    peer = ScriptedPeer(delivers=4)
    server = await asyncio.start_server(peer.serve, "127.0.0.1", 0)
    gate = asyncio.get_running_loop().create_future()

    async def handler(pdu: PDU) -> PDU:
        await gate
        return DeliverSmResp()

    port = server.sockets[0].getsockname()[1]
    connection = await connect("127.0.0.1", port, system_id="acme", password="pw", config=quick, handler=handler)
    try:
        for _ in range(100):
            if connection.reading_paused:
                break
            await asyncio.sleep(0.01)
        assert connection.reading_paused
        answer = connection.send_request(SubmitSm(destination_addr="33612345678", short_message=b"hi"))
        await asyncio.sleep(1.0)  # three dead-peer timeouts without reading a byte
        assert not connection.closed and not answer.done()
        gate.set_result(None)
        response = await asyncio.wait_for(answer, 1.0)  # it was waiting in the socket all along
        assert isinstance(response, SubmitSmResp) and response.message_id == f"m{response.sequence_number}"
        assert not connection.reading_paused
        await asyncio.sleep(0.05)
        assert peer.answered == [1, 2, 3, 4]
        peer.alive = False  # now the peer really goes silent, and is found out
        began = time.monotonic()
        closed = await asyncio.wait_for(connection.wait_closed(), 2.0)
        assert isinstance(closed, PeerDead) and time.monotonic() - began < 1.5
    finally:
        connection.abort()
        server.close()
        await server.wait_closed()


# --------------------------------------------------------------------------- the SMSC side


async def test_an_smsc_with_a_limit_of_one_still_serves_a_pipelining_esme() -> None:
    """Each submit_sm waits for the previous answer; the bind itself counts, and the handler installed by
    the bind is in place before anything after it is parsed."""
    config = SessionConfig(max_inbound_pending=1, window=64)
    handled: list[int] = []

    def factory(connection: SMPPConnection) -> Handler:
        async def handler(pdu: PDU) -> PDU:
            assert connection.session.pending_inbound == 1
            handled.append(pdu.sequence_number)
            await asyncio.sleep(0)
            return SubmitSmResp(message_id=f"m{pdu.sequence_number}")

        return handler

    server = await serve("127.0.0.1", 0, lambda system_id, password: True, factory, config)
    try:
        client = await connect("127.0.0.1", server.port, system_id="acme", password="pw", config=config)
        answers = await asyncio.gather(*(client.request(SubmitSm(destination_addr="336")) for _ in range(300)))
        assert [a.command_status for a in answers] == [0] * 300
        assert handled == sorted(handled) and len(handled) == 300
        await client.close()
    finally:
        await server.close()
