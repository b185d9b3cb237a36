"""The caller and the connector when the trunk misbehaves or the engine stops, against sipp as the trunk: a TCP
trunk down at start or restarting, calls ended on the trunk when the engine stops (CANCEL, BYE), a dialog the
trunk refreshes (re-INVITE, UPDATE, INFO), a route set recorded by the trunk's proxies, a CANCEL lost on the way
and a 200 crossing it; and a voice message whose validity ends while it is called."""

from __future__ import annotations

import array
import asyncio
import math
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from martinet.config import SipConnectorConfig
from martinet.connectors.base import Accepted, OutboundMessage
from martinet.connectors.sip.connector import SipConnector
from martinet.domain import voice
from martinet.domain.text import Encoding
from martinet.domain.voice import Spoken
from martinet.engine import dispatcher
from martinet.sip import uac
from martinet.sip.uac import SipCaller, TrunkSettings
from martinet.siptrunk.simulator import Rule, TrunkSimulator
from martinet.store.schema import accounts
from martinet.voice.g711 import Law, encode
from martinet.voice.synthesis import Audio, Speech
from tests.conftest import free_port
from tests.gateway import running_gateway, wait_for
from tests.voice.support import history, sipp, start_connector


def _tone(seconds: float) -> bytes:
    return array.array("h", (int(6000 * math.sin(i / 3)) for i in range(int(8000 * seconds)))).tobytes()


def _g711(seconds: float) -> Callable[[Law], bytes]:
    pcm = _tone(seconds)

    def audio(law: Law) -> bytes:
        return encode(pcm, law)

    return audio


class ToneSynthesizer:
    """A synthesiser plugged in through the interface: `seconds` of tone whatever the text."""

    def __init__(self, seconds: float) -> None:
        self._pcm = _tone(seconds)

    def synthesize(self, text: str, language: str, voice: str | None = None) -> Audio:
        return Audio(self._pcm)


def _connector(port: int, ring_timeout: float = 30.0) -> SipConnector:
    config = SipConnectorConfig(name="trunk", type="sip", host="127.0.0.1", port=port, ring_timeout=ring_timeout)
    return SipConnector(config, Speech(ToneSynthesizer(4.0)), repeat=1)


def _message(message_id: int, number: str) -> OutboundMessage:
    return OutboundMessage(
        message_id, number, None, ("Code 4821",), Encoding.GSM7, "notification", voice=Spoken("", "fr-FR")
    )


# ---------------------------------------------------------------------------------------------------- TCP trunks


async def test_a_tcp_trunk_down_at_start_leaves_the_engine_running_and_is_called_once_it_is_up(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uac, "RECONNECT_MIN", 0.2)
    port = free_port()  # nothing listens there yet
    trunk = {"name": "trunk", "type": "sip", "host": "127.0.0.1", "port": port, "transport": "tcp", "attempts": 1}
    async with running_gateway(
        database_url, connectors=[{"name": "sandbox", "type": "sandbox"}, trunk], voice={"repeat": 1}
    ) as gw:
        async with gw.client() as client:
            answer = await client.post(
                "/sendSMS.do", data={"accessToken": gw.token, "numero": "0612345678", "message": "bonjour"}
            )
        assert answer.text.startswith("0 | "), answer.text

        async def sms_delivered() -> bool:  # the engine runs: the SMS goes through the sandbox
            return [r.code for r in await history(gw.db, "33612345678")][-1:] == [11]

        await wait_for(sms_delivered, timeout=10)
        # The trunk comes up: the connector connects in the background and the voice message is called.
        async with sipp("answer", tmp_path, port=port, tcp=True) as peer:
            async with gw.client() as client:
                answer = await client.post(
                    "/sendVoiceMessage.do",
                    data={"accessToken": gw.token, "numero": "0145678901", "message": "Code 1234", "title": ""},
                )
            assert answer.text.startswith("0 | "), answer.text

            async def listened() -> bool:
                return [r.code for r in await history(gw.db, "33145678901")][-1:] == [voice.LISTENED]

            await wait_for(listened, timeout=20)
            assert await peer.finished() == 0


async def test_a_tcp_trunk_that_restarts_is_connected_again_for_the_next_call(tmp_path: Path) -> None:
    port = free_port()
    caller = SipCaller(TrunkSettings("127.0.0.1", port, transport="tcp", ring_timeout=3.0))
    audio = _g711(0.3)
    try:
        async with sipp("answer", tmp_path, port=port, tcp=True) as first:
            await caller.start()
            before = await caller.call("33612345678", audio)
            assert await first.finished() == 0  # sipp exits: its end of the connection closes
        async with sipp("answer", tmp_path, port=port, tcp=True) as second:
            after = await caller.call("33612345678", audio)
            assert await second.finished() == 0
    finally:
        await caller.stop()
    assert before.complete
    assert after.complete, after
    assert second.received() == ["INVITE", "ACK", "BYE"]


# ---------------------------------------------------------------------------------------------------- stopping


async def test_stopping_the_connector_cancels_a_ringing_call_and_hangs_up_an_answered_one(tmp_path: Path) -> None:
    async with sipp("ring", tmp_path) as ringing, sipp("answer", tmp_path) as answering:
        connectors = [_connector(ringing.port, ring_timeout=30), _connector(answering.port)]
        for connector in connectors:
            await start_connector(connector)
        try:
            for connector in connectors:
                assert isinstance((await connector.submit([_message(1, "33612345678")]))[0], Accepted)
            await asyncio.sleep(1.0)  # one rings, the other plays its four seconds
        finally:
            started = time.monotonic()
            for connector in connectors:
                await connector.stop()
            stopping = time.monotonic() - started
        assert await ringing.finished(10) == 0 and await answering.finished(10) == 0
    assert ringing.received() == ["INVITE", "CANCEL", "ACK"]
    assert answering.received() == ["INVITE", "ACK", "BYE"]
    assert stopping < 2 * uac.ABANDON_WAIT + 1


# ---------------------------------------------------------------------------------------------------- dialogs


async def test_a_refreshed_dialog_is_accepted_and_the_route_set_is_followed(tmp_path: Path) -> None:
    async with sipp("in_dialog", tmp_path) as refreshing, sipp("answer_rr", tmp_path) as routed:
        callers = [SipCaller(TrunkSettings("127.0.0.1", peer.port)) for peer in (refreshing, routed)]
        for caller in callers:
            await caller.start()
        try:
            results = await asyncio.gather(
                callers[0].call("33612345678", _g711(2.0)),
                callers[1].call("33612345678", _g711(0.3)),
            )
        finally:
            for caller in callers:
                await caller.stop()
        # sipp fails its call (exit 1) on a refusal of its re-INVITE, UPDATE or INFO, or an ACK or BYE
        # without the route set in order.
        assert await refreshing.finished(10) == 0 and await routed.finished(10) == 0
    assert all(r.complete for r in results), results
    assert routed.received() == ["INVITE", "ACK", "BYE"]


async def test_a_lost_cancel_is_sent_again_and_a_200_crossing_it_is_hung_up(tmp_path: Path) -> None:
    async with sipp("cancel_lost", tmp_path) as peer:
        caller = SipCaller(TrunkSettings("127.0.0.1", peer.port, ring_timeout=0.5))
        await caller.start()
        try:
            result = await caller.call("33612345678", _g711(0.3))
        finally:
            await caller.stop()
        assert await peer.finished(10) == 0
    assert (result.status, result.answered) == (487, False)
    received = peer.received()
    assert received[:2] == ["INVITE", "CANCEL"] and received[-2:] == ["ACK", "BYE"], received
    assert received.count("CANCEL") >= 2, received  # sent again while unanswered


# ---------------------------------------------------------------------------------------------------- validity


async def test_a_voice_message_whose_validity_ends_during_its_calls_gets_one_final_status(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The engine concludes an overdue receipt at most a minute after submission; half a second here, so that the
    # validity (1.5 s) and the calls (two attempts of 1.5 s ringing) are in its reach.
    monkeypatch.setattr(dispatcher, "MIN_RECEIPT_WAIT_MS", 500)
    trunk = TrunkSimulator((Rule("", "ring"),), port=0, recordings=tmp_path)
    await trunk.start()
    host, port = trunk.address
    sip = {"name": "trunk", "type": "sip", "host": host, "port": port, "attempts": 2, "ring_timeout": 1.5,
           "retry_delay": 0.5, "receipt_deadline": 30}  # fmt: skip
    try:
        async with running_gateway(
            database_url,
            connectors=[{"name": "sandbox", "type": "sandbox"}, sip],
            engine={"poll_interval": 0.01, "retry_delay": 0.2, "receipt_deadline": 1},  # checked every 0.25 s
            lanes={"notification": {"validity": 1.5}},
            voice={"repeat": 1},
        ) as gw:
            async with gw.db.reader.connect() as conn:
                balance = await conn.scalar(select(accounts.c.balance))
            async with gw.client() as client:
                answer = await client.post(
                    "/sendVoiceMessage.do",
                    data={"accessToken": gw.token, "numero": "0145678901", "message": "Code 1234", "title": ""},
                )
            assert answer.text.startswith("0 | "), answer.text

            async def expired() -> bool:
                return voice.RETRY_BUSY in [r.code for r in await history(gw.db, "33145678901")] and (
                    [r.code for r in await history(gw.db, "33145678901")][-1] == 37
                )

            await wait_for(expired, timeout=15)
            await asyncio.sleep(1.0)  # nothing may follow
            rows = await history(gw.db, "33145678901")
            codes = [r.code for r in rows]
            assert 3599 not in codes, rows
            assert codes[-1] == 37 and rows[-1].detail == "validity ended before attempt 2", rows
            async with gw.db.reader.connect() as conn:
                # Called once: the trunk charged the call, the price is not refunded (docs/voice.md).
                after = await conn.scalar(select(accounts.c.balance))
                assert after is not None and balance is not None and after < balance
    finally:
        await trunk.stop()
