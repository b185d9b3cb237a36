"""The asyncio adapter over real loopback TCP: our ESME (`connect`) against our SMSC endpoint (`serve`).

The SMSC side here is a bare `serve()` with handlers written per test, so each test controls exactly
when and how requests are answered; the full simulator is exercised in tests/smsc/.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from martinet.smpp import (
    PDU,
    AlertNotification,
    CommandStatus,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    PDUReader,
    SubmitSm,
    SubmitSmResp,
    encode,
)
from martinet.smpp.aio import (
    AnswerAfter,
    BindFailed,
    ConnectionClosedError,
    Handler,
    ResponseTimeout,
    SMPPConnection,
    SMPPServer,
    connect,
    serve,
)
from martinet.smpp.pdu import BindTransceiver, BindTransceiverResp
from martinet.smpp.session import PeerDead, SessionConfig, SessionState, SessionStateError, Unbound

FAST = SessionConfig(
    window=64,
    response_timeout=2.0,
    enquire_link_interval=5.0,
    dead_peer_timeout=10.0,
    bind_timeout=2.0,
    unbind_timeout=2.0,
)


def submit(dest: str = "33612345678") -> SubmitSm:
    return SubmitSm(source_addr="Martinet", destination_addr=dest, short_message=b"hello")


@dataclass
class Smsc:
    """A serve() endpoint whose handler is whatever the test puts in `handler`."""

    server: SMPPServer
    handler: Callable[[PDU], Awaitable[PDU]]
    bound: list[SMPPConnection] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.port

    async def wait_bound(self) -> SMPPConnection:
        for _ in range(200):
            if self.bound:
                return self.bound[-1]
            await asyncio.sleep(0.01)
        raise AssertionError("no ESME bound")


async def answer_ok(pdu: PDU) -> PDU:
    return SubmitSmResp(message_id=f"m{pdu.sequence_number}")


def check_password(system_id: str, password: str) -> int:
    if system_id != "acme":
        return CommandStatus.ESME_RINVSYSID
    return CommandStatus.ESME_ROK if password == "secret" else CommandStatus.ESME_RINVPASWD


async def start_smsc(config: SessionConfig = FAST) -> Smsc:
    holder: list[Smsc] = []

    def factory(connection: SMPPConnection) -> Handler:
        smsc = holder[0]
        smsc.bound.append(connection)
        return lambda pdu: smsc.handler(pdu)

    server = await serve("127.0.0.1", 0, check_password, factory, config, system_id="TestSMSC")
    holder.append(Smsc(server, answer_ok))
    return holder[0]


@pytest.fixture
async def smsc() -> AsyncIterator[Smsc]:
    endpoint = await start_smsc()
    try:
        yield endpoint
    finally:
        await endpoint.server.close()


async def bind(smsc: Smsc, handler: Handler | None = None, config: SessionConfig = FAST) -> SMPPConnection:
    return await connect("127.0.0.1", smsc.port, system_id="acme", password="secret", config=config, handler=handler)


# --------------------------------------------------------------------------- bind and unbind


async def test_bind_submit_and_orderly_unbind(smsc: Smsc) -> None:
    client = await bind(smsc)
    assert client.state is SessionState.BOUND_TRX and client.system_id == "TestSMSC"
    server_side = await smsc.wait_bound()
    assert server_side.system_id == "acme" and server_side.can_receive
    response = await client.request(submit())
    assert isinstance(response, SubmitSmResp) and response.message_id == "m2"
    await client.close()
    assert client.state is SessionState.CLOSED
    ended = await asyncio.wait_for(server_side.wait_closed(), 2)
    assert isinstance(ended, Unbound) and ended.by_peer
    client_end = await client.wait_closed()
    assert isinstance(client_end, Unbound) and not client_end.by_peer


@pytest.mark.parametrize(
    ("system_id", "password", "status"),
    [("acme", "wrong", CommandStatus.ESME_RINVPASWD), ("nobody", "secret", CommandStatus.ESME_RINVSYSID)],
)
async def test_bind_refused(smsc: Smsc, system_id: str, password: str, status: int) -> None:
    with pytest.raises(BindFailed) as info:
        await connect("127.0.0.1", smsc.port, system_id=system_id, password=password, config=FAST)
    assert info.value.status == status
    assert CommandStatus(status).name in str(info.value)
    assert smsc.bound == []


async def test_receiver_and_transmitter_binds(smsc: Smsc) -> None:
    receiver = await connect("127.0.0.1", smsc.port, system_id="acme", password="secret", bind="receiver")
    transmitter = await connect("127.0.0.1", smsc.port, system_id="acme", password="secret", bind="transmitter")
    assert receiver.state is SessionState.BOUND_RX and transmitter.state is SessionState.BOUND_TX
    server_receiver, server_transmitter = smsc.bound
    assert server_receiver.can_receive and not server_transmitter.can_receive
    await asyncio.gather(receiver.close(), transmitter.close())


async def test_async_authenticator_and_bool_verdicts() -> None:
    async def authenticate(system_id: str, password: str) -> bool:
        await asyncio.sleep(0)
        return password == "pw"

    server = await serve("127.0.0.1", 0, authenticate, lambda c: answer_ok, FAST)
    try:
        client = await connect("127.0.0.1", server.port, system_id="x", password="pw")
        await client.close()
        with pytest.raises(BindFailed) as info:
            await connect("127.0.0.1", server.port, system_id="x", password="no")
        assert info.value.status == CommandStatus.ESME_RINVPASWD
    finally:
        await server.close()


async def test_server_close_unbinds_every_esme(smsc: Smsc) -> None:
    client = await bind(smsc)
    await smsc.server.close()
    ended = await asyncio.wait_for(client.wait_closed(), 3)
    assert isinstance(ended, Unbound) and ended.by_peer


async def test_a_connection_that_never_binds_is_closed() -> None:
    endpoint = await start_smsc(SessionConfig(bind_timeout=0.2, enquire_link_interval=5, dead_peer_timeout=10))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", endpoint.port)
        assert await asyncio.wait_for(reader.read(), 2) == b""  # EOF: the SMSC gave up on us
        writer.close()
    finally:
        await endpoint.server.close()


# --------------------------------------------------------------------------- requests


async def test_window_limits_requests_in_flight(smsc: Smsc) -> None:
    release = asyncio.Event()

    async def slow(pdu: PDU) -> PDU:
        await release.wait()
        return SubmitSmResp(message_id="ok")

    smsc.handler = slow
    client = await bind(smsc, config=SessionConfig(window=4))
    server_side = await smsc.wait_bound()
    futures = [client.send_request(submit()) for _ in range(6)]
    await asyncio.sleep(0.1)
    assert client.session.outstanding == 4 and client.session.queued == 2
    assert server_side.session.pending_inbound == 4
    release.set()
    responses = await asyncio.wait_for(asyncio.gather(*futures), 2)
    assert [r.command_status for r in responses] == [0] * 6
    await client.close()


async def test_many_requests_through_a_window_of_64(smsc: Smsc) -> None:
    client = await bind(smsc)
    responses = await asyncio.gather(*(client.request(submit()) for _ in range(2000)))
    assert len({r.sequence_number for r in responses}) == 2000
    assert all(isinstance(r, SubmitSmResp) and r.message_id == f"m{r.sequence_number}" for r in responses)
    await client.close()


async def test_response_timeout_raises_and_frees_the_slot(smsc: Smsc) -> None:
    never: asyncio.Future[PDU] = asyncio.get_running_loop().create_future()
    calls = 0

    def first_one_hangs(pdu: PDU) -> Awaitable[PDU]:
        nonlocal calls
        calls += 1
        return never if calls == 1 else answer_ok(pdu)

    smsc.handler = first_one_hangs
    config = SessionConfig(window=1, response_timeout=0.2, enquire_link_interval=5, dead_peer_timeout=10)
    client = await bind(smsc, config=config)
    with pytest.raises(ResponseTimeout) as info:
        await client.request(submit())
    assert isinstance(info.value, TimeoutError) and info.value.request.command_name == "submit_sm"
    response = await asyncio.wait_for(client.request(submit()), 2)
    assert response.command_status == CommandStatus.ESME_ROK
    never.cancel()
    await client.close()


async def test_server_handler_failure_answers_system_error(smsc: Smsc) -> None:
    async def broken(pdu: PDU) -> PDU:
        raise RuntimeError("database down")

    smsc.handler = broken
    client = await bind(smsc)
    response = await client.request(submit())
    assert response.command_status == CommandStatus.ESME_RSYSERR
    await client.close()


async def test_handler_returning_the_wrong_response_is_answered_system_error(smsc: Smsc) -> None:
    async def confused(pdu: PDU) -> PDU:
        return DeliverSmResp()

    smsc.handler = confused
    client = await bind(smsc)
    response = await client.request(submit())
    assert isinstance(response, SubmitSmResp) and response.command_status == CommandStatus.ESME_RSYSERR
    await client.close()


async def test_plain_function_handler_and_alert_notification(smsc: Smsc) -> None:
    smsc.handler = lambda pdu: SubmitSmResp(message_id="sync")  # type: ignore[assignment,return-value]
    client = await bind(smsc)  # no handler: the alert is simply not answered, as the spec says
    response = await client.request(submit())
    assert isinstance(response, SubmitSmResp) and response.message_id == "sync"
    server_side = await smsc.wait_bound()
    with pytest.raises(SessionStateError, match="notify"):
        server_side.send_request(AlertNotification(source_addr="1", esme_addr="2"))
    server_side.notify(AlertNotification(source_addr="33612345678", esme_addr="Martinet"))
    response = await client.request(submit())  # the connection carried on
    assert response.command_status == CommandStatus.ESME_ROK
    await client.close()


# --------------------------------------------------------------------------- inbound deliver_sm (ESME side)


async def test_deliver_sm_is_acknowledged_only_after_the_handler_returns(smsc: Smsc) -> None:
    durable = asyncio.Event()
    stored: list[PDU] = []

    async def store(pdu: PDU) -> PDU:
        await durable.wait()  # e.g. a database commit
        stored.append(pdu)
        return DeliverSmResp()

    client = await bind(smsc, handler=store)
    server_side = await smsc.wait_bound()
    acknowledgement = server_side.send_request(DeliverSm(source_addr="336", destination_addr="36180"))
    await asyncio.sleep(0.1)
    assert not acknowledgement.done()
    durable.set()
    response = await asyncio.wait_for(acknowledgement, 2)
    assert isinstance(response, DeliverSmResp) and response.command_status == CommandStatus.ESME_ROK
    assert len(stored) == 1
    await client.close()


async def test_an_answer_after_a_future_leaves_once_the_future_succeeds(smsc: Smsc) -> None:
    """A plain function's `AnswerAfter`: what it answers is known at once, sent once the future resolves."""
    loop = asyncio.get_running_loop()
    durable: list[asyncio.Future[None]] = []

    def record(pdu: PDU) -> AnswerAfter:
        durable.append(loop.create_future())  # e.g. a group commit's future
        return AnswerAfter(durable[-1], DeliverSmResp(sequence_number=pdu.sequence_number, message_id="kept"))

    client = await bind(smsc, handler=record)
    server_side = await smsc.wait_bound()
    acknowledgements = [server_side.send_request(DeliverSm(source_addr=f"3361234567{n}")) for n in range(3)]
    await asyncio.sleep(0.1)
    assert len(durable) == 3 and not any(a.done() for a in acknowledgements)
    durable[1].set_result(None)
    response = await asyncio.wait_for(acknowledgements[1], 2)
    assert isinstance(response, DeliverSmResp) and response.message_id == "kept"
    assert response.command_status == CommandStatus.ESME_ROK
    assert not acknowledgements[0].done() and not acknowledgements[2].done()
    durable[0].set_exception(OSError("disk full"))  # answered as a failed handler is
    durable[2].cancel()
    for acknowledgement in (acknowledgements[0], acknowledgements[2]):
        response = await asyncio.wait_for(acknowledgement, 2)
        assert response.command_status == CommandStatus.ESME_RX_T_APPN
    await client.close()


async def test_failing_handler_answers_temporary_application_error(smsc: Smsc) -> None:
    async def failing(pdu: PDU) -> PDU:
        raise OSError("disk full")

    client = await bind(smsc, handler=failing)
    server_side = await smsc.wait_bound()
    response = await asyncio.wait_for(server_side.send_request(DeliverSm()), 2)
    assert response.command_status == CommandStatus.ESME_RX_T_APPN
    await client.close()


async def test_a_handler_failing_again_and_again_is_logged_once_and_every_request_answered(
    smsc: Smsc, caplog: pytest.LogCaptureFixture
) -> None:
    """As during a store outage: every receipt fails alike; each gets its answer, the log one entry."""

    async def failing(pdu: PDU) -> PDU:
        raise OSError("disk full")

    client = await bind(smsc, handler=failing)
    server_side = await smsc.wait_bound()
    with caplog.at_level(logging.ERROR, logger="martinet.smpp"):
        responses = await asyncio.wait_for(
            asyncio.gather(*(server_side.send_request(DeliverSm()) for _ in range(50))), 5
        )
    assert [r.command_status for r in responses] == [CommandStatus.ESME_RX_T_APPN] * 50
    failed = [r for r in caplog.records if r.getMessage().startswith("smpp handler failed on deliver_sm")]
    assert len(failed) == 1 and failed[0].exc_info is not None
    await client.close()


async def test_without_a_handler_deliveries_are_deferred(smsc: Smsc) -> None:
    client = await bind(smsc)
    server_side = await smsc.wait_bound()
    response = await asyncio.wait_for(server_side.send_request(DeliverSm()), 2)
    assert response.command_status == CommandStatus.ESME_RX_T_APPN
    await client.close()


# --------------------------------------------------------------------------- keep-alive and failures


async def test_enquire_link_keeps_an_idle_bind_alive() -> None:
    config = SessionConfig(enquire_link_interval=0.1, dead_peer_timeout=0.5, response_timeout=1.0)
    endpoint = await start_smsc(config)
    try:
        client = await bind(endpoint, config=config)
        await asyncio.sleep(1.2)  # more than twice the dead-peer timeout, silent but for enquire_link
        assert client.state is SessionState.BOUND_TRX
        response = await client.request(submit())
        assert response.command_status == CommandStatus.ESME_ROK
        await client.close()
    finally:
        await endpoint.server.close()


async def silent_smsc() -> tuple[asyncio.Server, list[bytes]]:
    """A broken SMSC: answers the bind, then reads everything and answers nothing."""
    received: list[bytes] = []

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readexactly(16)
        length, _, _, seq = struct.unpack(">IIII", head)
        await reader.readexactly(length - 16)
        writer.write(encode(BindTransceiverResp(sequence_number=seq, system_id="mute")))
        while data := await reader.read(4096):
            received.append(data)
        writer.close()

    return await asyncio.start_server(client, "127.0.0.1", 0), received


async def test_a_silent_peer_is_declared_dead_and_pending_requests_fail() -> None:
    server, received = await silent_smsc()
    port = server.sockets[0].getsockname()[1]
    config = SessionConfig(enquire_link_interval=0.1, dead_peer_timeout=0.3, response_timeout=5.0)
    try:
        client = await connect("127.0.0.1", port, system_id="a", password="b", config=config)
        pending = client.send_request(submit())
        with pytest.raises(ConnectionClosedError, match="silent"):
            await asyncio.wait_for(pending, 2)
        ended = await client.wait_closed()
        assert isinstance(ended, PeerDead)
        probes = [p for p in PDUReader().feed(b"".join(received)) if isinstance(p, EnquireLink)]
        assert probes, "the client probed the peer before giving up"
        with pytest.raises(ConnectionClosedError):
            client.send_request(submit())
    finally:
        server.close()


async def test_connection_loss_fails_pending_requests(smsc: Smsc) -> None:
    hang: asyncio.Future[PDU] = asyncio.get_running_loop().create_future()
    smsc.handler = lambda pdu: hang
    client = await bind(smsc)
    server_side = await smsc.wait_bound()
    pending = client.send_request(submit())
    await asyncio.sleep(0.05)
    server_side.abort()
    with pytest.raises(ConnectionClosedError):
        await asyncio.wait_for(pending, 2)
    assert client.state is SessionState.CLOSED
    hang.cancel()


async def test_garbage_gets_generic_nack_and_the_connection_survives(smsc: Smsc) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", smsc.port)
    writer.write(encode(BindTransceiver(sequence_number=1, system_id="acme", password="secret")))
    writer.write(struct.pack(">IIII", 16, 0x0000_0066, 0, 2))  # unknown command_id
    writer.write(encode(EnquireLink(sequence_number=3)))
    await writer.drain()
    reader_pdus = PDUReader()
    answers: list[PDU] = []
    while len(answers) < 3:
        data = await asyncio.wait_for(reader.read(4096), 2)
        answers += [p for p in reader_pdus.feed(data) if isinstance(p, PDU)]
    # SMPP responses may come in any order: the bind is answered once authenticate() has spoken.
    bind_resp, nack, enquire_resp = sorted(answers, key=lambda p: p.sequence_number)
    assert isinstance(bind_resp, BindTransceiverResp) and bind_resp.command_status == 0
    assert isinstance(nack, GenericNack) and nack.command_status == CommandStatus.ESME_RINVCMDID
    assert isinstance(enquire_resp, EnquireLinkResp) and enquire_resp.sequence_number == 3
    writer.close()
