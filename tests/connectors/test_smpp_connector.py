"""The SMPP carrier connector on its own, against our simulator and against an independent SMSC (smpp34).

The connector's sinks here are plain lists: they stand for the engine's recorders, which other tests exercise
with a real database.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

import pytest

from martinet.config import SmppConnectorConfig
from martinet.connectors.base import Accepted, OutboundMessage, Refused
from martinet.connectors.smpp.connector import SmppConnector
from martinet.domain.inbound import InboundMessage
from martinet.domain.receipts import Receipt
from martinet.domain.status import State
from martinet.domain.text import NonGsmPolicy, analyze
from martinet.smpp import SubmitSm, decode
from martinet.smsc import Credential, FinalStatus, Simulator, SimulatorConfig
from tests.conftest import free_port
from tests.gateway import wait_for


class Sinks:
    def __init__(self) -> None:
        self.receipts: list[Receipt] = []
        self.inbound: list[InboundMessage] = []

    async def on_receipts(self, receipts: Sequence[Receipt]) -> None:
        self.receipts.extend(receipts)

    async def on_inbound(self, messages: Sequence[InboundMessage]) -> None:
        self.inbound.extend(messages)


def _config(port: int, **extra: Any) -> SmppConnectorConfig:
    values: dict[str, Any] = {
        "name": "carrier",
        "type": "smpp",
        "host": "127.0.0.1",
        "port": port,
        "system_id": "acme",
        "password": "secret",
        "reconnect_min": 0.05,
        "reconnect_max": 0.2,
        "throttle_retry": 0.05,
    }
    return SmppConnectorConfig(**{**values, **extra})


def _message(
    message_id: int,
    text: str,
    *,
    unicode: bool = False,
    msisdn: str = "33612345678",
    lane: str = "notification",
    expires_at: int | None = None,
) -> OutboundMessage:
    analysis = analyze(text, classe=9 if unicode else 2, non_gsm=NonGsmPolicy.REPLACE, max_parts=10)
    return OutboundMessage(
        message_id, msisdn, "Martinet", analysis.parts, analysis.encoding, lane, expires_at=expires_at
    )


@pytest.fixture
async def connected() -> AsyncIterator[tuple[Simulator, Sinks, list[SmppConnector]]]:
    """A simulator and a way to start connectors against it; everything stopped afterwards."""
    config = SimulatorConfig(
        port=0,
        control_port=None,
        credentials=(Credential("acme", "secret"),),
        outcomes={FinalStatus.DELIVRD: 1.0},
        intermediate_delay=0.01,
        receipt_delay=0.05,
        retry_delay=0.1,
        seed=5,
    )
    started: list[SmppConnector] = []
    async with Simulator(config) as smsc:
        yield smsc, Sinks(), started
        for connector in started:
            await connector.stop()


async def _start(
    smsc: Simulator, sinks: Sinks, started: list[SmppConnector], *, otp_reserved_share: float = 0.0, **extra: Any
) -> SmppConnector:
    connector = SmppConnector(_config(smsc.port, **extra), otp_reserved_share=otp_reserved_share)
    started.append(connector)
    await connector.start(sinks.on_receipts, sinks.on_inbound)
    await asyncio.wait_for(connector.bound.wait(), 5)
    if extra.get("binds", 1) > 1:
        await wait_for(lambda: _transmitting(connector, extra["binds"]))
    return connector


async def _transmitting(connector: SmppConnector, count: int) -> bool:
    return connector.transmitters == count


@pytest.mark.parametrize("mode", ["udh8", "udh16", "sar", "payload"])
@pytest.mark.parametrize("packed", [False, True])
async def test_long_messages_in_every_mode_are_submitted_and_receipted(
    connected: tuple[Simulator, Sinks, list[SmppConnector]], mode: str, packed: bool
) -> None:
    smsc, sinks, started = connected
    connector = await _start(smsc, sinks, started, long_messages=mode, gsm_packed=packed)
    long_gsm = _message(1, "Votre rendez-vous est confirmé {demain} à 10h € " * 8)
    emoji = _message(2, "Merci 😀 à bientôt " * 6, unicode=True)
    results = await connector.submit([long_gsm, emoji])
    assert all(isinstance(r, Accepted) for r in results), results
    ids = [cid for r in results if isinstance(r, Accepted) for cid in r.carrier_ids]
    expected = 2 if mode == "payload" else len(long_gsm.parts) + len(emoji.parts)
    assert len(ids) == len(set(ids)) == expected
    await wait_for(lambda: _finals(sinks, len(ids)))
    assert {r.carrier_id for r in sinks.receipts if r.state is State.DELIVERED} == set(ids)


async def _finals(sinks: Sinks, count: int) -> bool:
    return sum(r.state is State.DELIVERED for r in sinks.receipts) >= count


async def test_transmitter_and_receiver_binds(connected: tuple[Simulator, Sinks, list[SmppConnector]]) -> None:
    smsc, sinks, started = connected
    connector = await _start(smsc, sinks, started, bind_mode="tx+rx", binds=2)
    await wait_for(lambda: _binds(smsc, 4))
    assert connector.transmitters == 2
    (result,) = await connector.submit([_message(1, "hello")])
    assert isinstance(result, Accepted)
    await wait_for(lambda: _finals(sinks, 1))  # the receipt came back on a receiver bind


async def _binds(smsc: Simulator, count: int) -> bool:
    return bool(smsc.stats()["active_binds"] == count)


async def test_throttling_slows_down_and_every_part_still_goes(
    connected: tuple[Simulator, Sinks, list[SmppConnector]],
) -> None:
    smsc, sinks, started = connected
    slow = Simulator(replace(smsc.config, max_per_second=20.0, burst=5.0))  # 20/s, bursts of 5; we send unlimited
    await slow.start()
    try:
        connector = await _start(slow, sinks, started)
        results = await connector.submit([_message(i, f"msg {i}") for i in range(30)])
        assert all(isinstance(r, Accepted) for r in results), results
        assert slow.counters.throttled > 0
        assert slow.counters.submitted == 30
    finally:
        await slow.stop()


async def test_reconnects_after_the_carrier_goes_away(
    connected: tuple[Simulator, Sinks, list[SmppConnector]],
) -> None:
    smsc, sinks, started = connected
    port = smsc.port
    connector = await _start(smsc, sinks, started)
    await smsc.stop()
    (refused,) = await connector.submit([_message(1, "while down")])
    assert isinstance(refused, Refused) and refused.temporary
    back = Simulator(replace(smsc.config, port=port))
    await back.start()
    try:
        await asyncio.wait_for(connector.bound.wait(), 10)
        (result,) = await connector.submit([_message(2, "after")])
        assert isinstance(result, Accepted)
    finally:
        await back.stop()


async def test_a_carrier_that_drops_every_bind_at_once_is_retried_ever_more_slowly() -> None:
    """It answers the bind, then closes the connection: without backoff the connector would bind every
    `reconnect_min` for ever (some 25 times in these 2 s); with it, the waits double up to `reconnect_max`."""
    binds = 0

    async def drop_after_bind(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal binds
        head = await reader.readexactly(16)
        length, _command, _status, sequence = struct.unpack(">IIII", head)
        await reader.readexactly(length - 16)
        binds += 1
        writer.write(struct.pack(">IIII", 16 + 5, 0x80000009, 0, sequence) + b"SMSC\0")  # bind_transceiver_resp
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(drop_after_bind, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    connector = SmppConnector(_config(port, reconnect_min=0.05, reconnect_max=1.0))
    sinks = Sinks()
    try:
        await connector.start(sinks.on_receipts, sinks.on_inbound)
        await asyncio.sleep(2.0)
        assert 3 <= binds <= 12, binds
    finally:
        await connector.stop()
        server.close()


async def test_a_carrier_refusing_validity_periods_gets_parts_without_one() -> None:
    """ESME_RINVEXPIRY (a validity longer than the carrier's own maximum, or one it cannot read): the part goes
    again without a validity_period, and so do the next ones, instead of every message failing for good."""
    seen: list[str] = []

    async def carrier(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readexactly(16)
            length, command, _status, sequence = struct.unpack(">IIII", head)
            body = await reader.readexactly(length - 16)
            if command == 0x00000009:  # bind_transceiver
                writer.write(struct.pack(">IIII", 21, 0x80000009, 0, sequence) + b"SMSC\0")
            elif command == 0x00000004:  # submit_sm: answered by its validity_period alone
                request = decode(head + body)
                assert isinstance(request, SubmitSm)
                seen.append(request.validity_period)
                if request.validity_period:
                    writer.write(struct.pack(">IIII", 16, 0x80000004, 0x62, sequence))
                else:
                    writer.write(struct.pack(">IIII", 16 + 3, 0x80000004, 0, sequence) + b"%02d\0" % len(seen))
            elif command == 0x00000015:  # enquire_link
                writer.write(struct.pack(">IIII", 16, 0x80000015, 0, sequence))
            await writer.drain()

    server = await asyncio.start_server(carrier, "127.0.0.1", 0)
    connector = SmppConnector(_config(server.sockets[0].getsockname()[1]))
    sinks = Sinks()
    try:
        await connector.start(sinks.on_receipts, sinks.on_inbound)
        await asyncio.wait_for(connector.bound.wait(), 5)
        expires_at = 1_773_480_605_250
        first = await connector.submit([_message(1, "x", expires_at=expires_at)])
        second = await connector.submit([_message(2, "y", expires_at=expires_at)])
        assert [type(r) for r in first + second] == [Accepted, Accepted], first + second
        assert [bool(v) for v in seen] == [True, False, False]
    finally:
        await connector.stop()
        server.close()


async def test_refusals_are_classified(connected: tuple[Simulator, Sinks, list[SmppConnector]]) -> None:
    smsc, sinks, started = connected
    connector = await _start(smsc, sinks, started)
    (refused,) = await connector.submit([_message(1, "x", msisdn=f"{smsc.config.test_prefix}0006")])
    assert isinstance(refused, Refused) and refused.temporary  # ESME_RSUBMITFAIL: try again later


async def test_decimal_receipts_find_hex_submissions(connected: tuple[Simulator, Sinks, list[SmppConnector]]) -> None:
    """An SMSC that answers submit_sm in one spelling and reports receipts in another still matches."""
    smsc, sinks, started = connected
    decimal = Simulator(replace(smsc.config, message_id_format="decimal"))
    await decimal.start()
    try:
        connector = await _start(decimal, sinks, started, message_id_format="auto")
        (result,) = await connector.submit([_message(1, "hello")])
        assert isinstance(result, Accepted)
        await wait_for(lambda: _finals(sinks, 1))
        final = next(r for r in sinks.receipts if r.state is State.DELIVERED)
        assert result.carrier_ids[0] in [form for _, form in final.readings()]
    finally:
        await decimal.stop()


smpp34 = pytest.importorskip("smpp34")


async def test_connector_against_smpp34_as_smsc() -> None:
    """smpp34's server plays the carrier: long GSM, UCS-2 and emoji go out, receipts and a reply come back."""
    port = free_port()
    server = smpp34.Server(host="127.0.0.1", port=port, system_id="Rust34")
    await server.start()
    submitted: list[Any] = []
    sessions: dict[Any, Any] = {}
    counter = iter(range(1, 10_000))

    async def play_carrier() -> None:
        while True:
            event = await server.next()
            if isinstance(event, smpp34.Esme):
                sessions[event.session_id] = event
            elif isinstance(event, smpp34.SubmitSmEvent):
                message_id = f"R{next(counter):06d}"
                submitted.append(event)
                event.accept(message_id=message_id)
                text = f"id:{message_id} sub:001 dlvrd:001 submit date:2601011200 done date:2601011201 stat:DELIVRD err:000 text:"
                await sessions[event.session_id].deliver_sm(
                    event.source_addr, text.encode(), source_addr=event.destination_addr, esm_class=0x04
                )

    task = asyncio.create_task(play_carrier())
    sinks = Sinks()
    connector = SmppConnector(_config(port))
    try:
        await connector.start(sinks.on_receipts, sinks.on_inbound)
        await asyncio.wait_for(connector.bound.wait(), 5)
        batch = [
            _message(1, "Le colis n°12345 arrive demain entre 9h et 12h. " * 5),
            _message(2, "Ça marche 👍 à demain " * 5, unicode=True),
        ]
        results = await connector.submit(batch)
        assert all(isinstance(r, Accepted) for r in results), results
        parts = sum(len(m.parts) for m in batch)
        assert len(submitted) == parts
        assert {e.data_coding for e in submitted} == {0, 8}
        assert all(e.esm_class & 0x40 for e in submitted)  # a UDH on every part of a long message
        await wait_for(lambda: _finals(sinks, parts))
        assert {r.carrier_id for r in sinks.receipts} == {f"R{i:06d}" for i in range(1, parts + 1)}

        (session,) = sessions.values()
        reply = await session.deliver_sm("36180", "Oui ✔".encode("utf-16-be"), source_addr="33612345678", data_coding=8)
        assert reply.command_status == 0  # acknowledged once stored
        assert [(m.source, m.destination, m.text) for m in sinks.inbound] == [("33612345678", "36180", "Oui ✔")]

        # Receipts some SMSCs flag otherwise (esm_class 0, an SME acknowledgement's 0x08), end with the C string's
        # NUL, or word as Kannel does: receipts all the same, never replies.
        before = len(sinks.receipts)
        unflagged = (
            (0x00, b"id:X1 sub:001 dlvrd:001 submit date:2601011200 done date:2601011201 stat:DELIVRD err:000 text:"),
            (0x08, b"id:X2 sub:001 dlvrd:000 err:000 stat:BUFFRED\0"),
            (0x00, b"id:X3 sub:001 dlvrd:001 err:000 stat:DELIVRD\0"),
        )
        for esm_class, text in unflagged:
            answer = await session.deliver_sm("36180", text, source_addr="33612345678", esm_class=esm_class)
            assert answer.command_status == 0

        async def arrived() -> bool:
            return len(sinks.receipts) == before + 3

        await wait_for(arrived)
        assert [(r.carrier_id, r.code) for r in sinks.receipts[before:]] == [("X1", 11), ("X2", 13), ("X3", 11)]
        assert len(sinks.inbound) == 1
    finally:
        await connector.stop()
        task.cancel()
        await server.stop()


# --------------------------------------------------------------------------- lanes, capacity, validity, rate


async def test_ready_capacity_and_share(connected: tuple[Simulator, Sinks, list[SmppConnector]]) -> None:
    smsc, sinks, started = connected
    idle = SmppConnector(_config(smsc.port, throughput=100, window=8, binds=2), otp_reserved_share=0.2)
    assert not idle.ready and idle.capacity("marketing") == 0  # not started: nothing can go
    unlimited = await _start(smsc, sinks, started, window=8, binds=2)
    assert unlimited.ready
    assert unlimited.capacity("marketing") == unlimited.capacity("otp") == 128  # UNLIMITED_WINDOWS × window 8 × 2 binds
    limited = await _start(smsc, sinks, started, throughput=100, otp_reserved_share=0.2)
    assert (limited.capacity("otp"), limited.capacity("marketing")) == (25, 20)  # a quarter second of the rate
    limited.set_share(0.5)
    assert (limited.capacity("otp"), limited.capacity("marketing")) == (13, 10)
    with pytest.raises(ValueError):
        limited.set_share(0)
    await smsc.stop()
    await wait_for(lambda: _not_ready(limited))
    assert limited.capacity("otp") == 0


async def _not_ready(connector: SmppConnector) -> bool:
    return not connector.ready


async def test_expiry_goes_out_as_an_absolute_validity_period_in_utc(
    connected: tuple[Simulator, Sinks, list[SmppConnector]],
) -> None:
    smsc, sinks, started = connected
    connector = await _start(smsc, sinks, started)
    expires_at = 1_773_480_605_250  # 2026-03-14 09:30:05.250 UTC
    results = await connector.submit(
        [_message(1, "code 123456", lane="otp", expires_at=expires_at), _message(2, "no expiry")]
    )
    assert all(isinstance(r, Accepted) for r in results), results
    assert [m.validity_period for m in smsc.messages.values()] == ["260314093005000+", ""]


@pytest.mark.slow
async def test_an_otp_overtakes_the_campaign_parts_waiting_before_it(
    connected: tuple[Simulator, Sinks, list[SmppConnector]],
) -> None:
    """A campaign saturates a connector at 50/s; a one-time password handed over afterwards leaves at once."""
    smsc, sinks, started = connected
    connector = await _start(smsc, sinks, started, throughput=50, otp_reserved_share=0.2)
    campaign = [_message(i, f"promo {i}", msisdn=f"336{10_000_000 + i:08d}", lane="marketing") for i in range(60)]
    bulk = asyncio.create_task(connector.submit(campaign))
    await wait_for(lambda: _received(smsc, 10))
    assert connector.capacity("marketing") == 0  # a backlog: the dispatcher would claim no more campaign parts
    before = len(smsc.messages)
    (otp,) = await connector.submit([_message(1000, "code 123456", msisdn="33699990000", lane="otp")])
    assert isinstance(otp, Accepted)
    results = await bulk
    assert all(isinstance(r, Accepted) for r in results), results
    arrivals = [m.destination.addr for m in smsc.messages.values()]
    assert len(arrivals) == 61
    position = arrivals.index("33699990000")
    assert position <= before + 2  # at most a part already granted its slot went first
    assert len(arrivals) - position - 1 >= 40  # the campaign parts still waiting went after it


async def _received(smsc: Simulator, count: int) -> bool:
    return len(smsc.messages) >= count


@pytest.mark.slow
async def test_lanes_below_otp_keep_to_their_share_of_the_rate(
    connected: tuple[Simulator, Sinks, list[SmppConnector]],
) -> None:
    smsc, sinks, started = connected
    connector = await _start(smsc, sinks, started, throughput=100, otp_reserved_share=0.2, binds=2)
    lanes = ("marketing", "notification")
    batch = [_message(i, f"m{i}", msisdn=f"336{20_000_000 + i:08d}", lane=lanes[i % 2]) for i in range(240)]
    results = await connector.submit(batch)
    assert all(isinstance(r, Accepted) for r in results), results
    stamps = [m.received_monotonic_ms / 1000 for m in smsc.messages.values()]
    burst = 8  # the shared bucket's depth: a tenth of a second of 80/s
    rate = (len(stamps) - burst) / (stamps[-1] - stamps[0])
    assert rate <= 80 * 1.1  # 80/s, not the connector's 100/s (timing noise only makes it slower)
    assert smsc.counters.throttled == 0


@pytest.mark.slow
@pytest.mark.parametrize("otp_reserved_share", [0.0, 0.2])
async def test_a_carrier_limited_to_the_configured_rate_never_throttles(
    connected: tuple[Simulator, Sinks, list[SmppConnector]], otp_reserved_share: float
) -> None:
    """The issue's proof: a simulator limited to N parts/s (its default burst, one second's worth) never answers
    ESME_RTHROTTLED to a connector configured at N, with two binds and every part submitted at once."""
    smsc, sinks, started = connected
    rate = 200
    carrier = Simulator(replace(smsc.config, max_per_second=float(rate), burst=None))
    await carrier.start()
    try:
        connector = await _start(
            carrier, sinks, started, throughput=rate, binds=2, otp_reserved_share=otp_reserved_share
        )
        lanes = ("otp", "marketing", "marketing", "notification", "marketing")
        batch = [_message(i, f"p{i}", msisdn=f"336{30_000_000 + i:08d}", lane=lanes[i % 5]) for i in range(3 * rate)]
        began = asyncio.get_running_loop().time()
        results = await connector.submit(batch)
        elapsed = asyncio.get_running_loop().time() - began
        assert all(isinstance(r, Accepted) for r in results), results
        assert carrier.counters.throttled == 0
        assert carrier.counters.submitted == 3 * rate
        expected = (3 * rate - rate / 10) / rate  # after the first tenth of a second's burst, N per second
        assert elapsed >= 0.8 * expected
    finally:
        await carrier.stop()


async def test_the_carrier_waits_once_inbound_window_receipts_await_the_store(
    connected: tuple[Simulator, Sinks, list[SmppConnector]],
) -> None:
    """`inbound_window` reaches the binds: with the store stalled, the connector takes no more receipts than that
    into memory, and takes the rest once the store answers."""
    smsc, _sinks, started = connected
    stalled = asyncio.Event()
    waiting = 0
    most = 0
    received: list[Receipt] = []

    async def slow_store(receipts: Sequence[Receipt]) -> None:
        nonlocal waiting, most
        waiting += 1
        most = max(most, waiting)
        await stalled.wait()
        received.extend(receipts)
        waiting -= 1

    async def no_replies(messages: Sequence[InboundMessage]) -> None:
        raise AssertionError("no reply expected")

    connector = SmppConnector(_config(smsc.port, inbound_window=3))
    started.append(connector)
    await connector.start(slow_store, no_replies)
    await asyncio.wait_for(connector.bound.wait(), 5)
    results = await connector.submit([_message(i, f"m{i}", msisdn=f"3361234{i:04d}") for i in range(20)])
    assert all(isinstance(r, Accepted) for r in results)
    await wait_for(lambda: _at_least(lambda: waiting, 3))
    await asyncio.sleep(0.3)  # the simulator has 40 receipts to give; the bind reads no more than 3
    assert most == 3
    stalled.set()
    await wait_for(lambda: _at_least(lambda: sum(r.state is State.DELIVERED for r in received), 20), timeout=10)
    assert most == 3


async def _at_least(count: Any, target: int) -> bool:
    return bool(count() >= target)


async def test_a_receipt_the_store_fails_to_keep_is_refused_and_sent_again(
    connected: tuple[Simulator, Sinks, list[SmppConnector]],
) -> None:
    """The carrier hears an error for a receipt its store could not write, so it sends it again; the store's
    futures are waited on as they are (a recorder returns a future, not a coroutine), failures included."""
    smsc, sinks, started = connected
    failures = 0

    def flaky_store(receipts: Sequence[Receipt]) -> asyncio.Future[None]:
        nonlocal failures
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if failures < 2:
            failures += 1
            future.set_exception(OSError("disk full"))
        else:
            sinks.receipts.extend(receipts)
            asyncio.get_running_loop().call_soon(future.set_result, None)
        return future

    connector = SmppConnector(_config(smsc.port))
    started.append(connector)
    await connector.start(flaky_store, sinks.on_inbound)
    await asyncio.wait_for(connector.bound.wait(), 5)
    results = await connector.submit([_message(1, "m1")])
    assert isinstance(results[0], Accepted)
    await wait_for(lambda: _finals(sinks, 1))

    async def answered() -> bool:  # the final receipt's answer is written once its store's future resolves
        return smsc.counters.receipts_acked >= 2

    await wait_for(answered)
    assert smsc.counters.receipts_retried == 2
    assert smsc.counters.receipts_acked == smsc.counters.receipts_sent - 2 == 2
