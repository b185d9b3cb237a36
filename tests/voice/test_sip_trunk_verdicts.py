"""Who a failed call blames: a trunk that never answers is the operator's failure (3501, then 3521), not every
callee's absence, which a 408 the trunk sends still is (3522); a trunk answering with no law we speak (G.729
alone, sipp) is hung up and an operator error, not "partly listened"; and a voice espeak-ng does not have fails
the message (36) instead of reading it in another language."""

from __future__ import annotations

import asyncio
import random
import socket
from pathlib import Path

import pytest

from martinet.config import SipConnectorConfig
from martinet.connectors.base import Accepted, OutboundMessage
from martinet.connectors.sip.connector import SipConnector
from martinet.domain import voice
from martinet.domain.status import State
from martinet.domain.text import Encoding
from martinet.domain.voice import Spoken
from martinet.sip import uac
from martinet.siptrunk.simulator import Rule, TrunkSimulator
from martinet.voice.synthesis import EspeakSynthesizer, Speech
from tests.gateway import running_gateway, wait_for
from tests.voice.support import history, require_speech, sipp, start_connector
from tests.voice.test_sip_trunk_failures import ToneSynthesizer, _message


def _dead_udp_port() -> int:
    """A UDP port in this suite's range (22400-22599) where nothing listens: a trunk that is down."""
    for port in random.sample(range(22400, 22600), 200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free UDP port in 22400-22599")


async def test_a_dead_trunk_is_an_operator_error_and_a_408_from_the_trunk_the_callees_absence(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uac, "TIMER_B", 0.6)  # 32 s on a real trunk
    answering = TrunkSimulator((Rule("", "reject", 408),), port=0, recordings=tmp_path)
    await answering.start()
    host, port = answering.address
    common = {"type": "sip", "host": "127.0.0.1", "attempts": 2, "retry_delay": 0.2, "ring_timeout": 30}
    connectors = [
        {"name": "sandbox", "type": "sandbox"},
        {"name": "dead", **common, "port": _dead_udp_port()},
        {"name": "answering", **common, "host": host, "port": port},
    ]
    routes = [
        {"name": "dead", "prefixes": ["33145"], "connectors": [{"name": "dead"}]},
        {"name": "answering", "prefixes": ["33146"], "connectors": [{"name": "answering"}]},
    ]
    try:
        async with running_gateway(database_url, connectors=connectors, routes=routes, voice={"repeat": 1}) as gw:
            async with gw.client() as client:
                answer = await client.post(
                    "/sendVoiceMessage.do",
                    data={"accessToken": gw.token, "numero": "0145000001,0146000001", "message": "Code 1234"},
                )
            assert answer.text.startswith("0 | "), answer.text

            async def both_final() -> bool:
                last = [(await history(gw.db, n))[-1:] for n in ("33145000001", "33146000001")]
                return all(rows and rows[0].code not in (0, 1, 3501, 3502) for rows in last)

            await wait_for(both_final, timeout=15)
            dead = await history(gw.db, "33145000001")
            refused = await history(gw.db, "33146000001")
    finally:
        await answering.stop()
    # Nothing from the trunk: its failure, retried as such, then an operator error.
    assert [r.code for r in dead] == [1, 0, 1, voice.RETRY_OTHER, 1, voice.CALL_FAILED], dead
    assert dead[-1].detail.startswith("attempt 2/2: no SIP answer from the trunk within "), dead[-1].detail
    assert "SIP 408" not in dead[-1].detail
    # A 408 the trunk sent is about the callee: absent, as docs/voice.md says.
    assert [r.code for r in refused] == [1, 0, 1, voice.RETRY_BUSY, 1, voice.NO_ANSWER], refused
    assert refused[-1].detail == "attempt 2/2: SIP 408 Request Timeout"


async def test_an_answer_offering_only_g729_is_hung_up_and_an_operator_error(tmp_path: Path) -> None:
    async with sipp("g729", tmp_path) as peer:
        config = SipConnectorConfig(
            name="trunk", type="sip", host="127.0.0.1", port=peer.port, attempts=3, retry_delay=0.2
        )
        connector = SipConnector(config, Speech(ToneSynthesizer(4.0)), repeat=1)
        receipts = await start_connector(connector)
        try:
            [accepted] = await connector.submit([_message(1, "33612345678")])
            assert isinstance(accepted, Accepted)

            async def final() -> bool:
                return any(r.state is not State.SENT for r in receipts)

            await wait_for(final, timeout=10)
        finally:
            await connector.stop()
        # sipp's scenario ends only with a BYE after its ACK (exit 0), well before the four seconds of tone.
        assert await peer.finished(10) == 0
    assert peer.received() == ["INVITE", "ACK", "BYE"]
    assert [(r.state, r.code) for r in receipts] == [
        (State.SENT, voice.CALLING),
        (State.UNDELIVERED, voice.CALL_FAILED),  # once: the same trunk would answer the same again
    ]
    assert receipts[-1].detail == ("attempt 1/3: SIP 200 OK, no G.711 in the answer (offered: G729/8000), BYE sent"), (
        receipts[-1].detail
    )
    [result] = connector.results
    assert result.answered and not result.complete and result.played is None and not result.callee_hung_up


async def test_a_voice_espeak_does_not_have_fails_the_message_rather_than_reading_it_in_another() -> None:
    require_speech()
    # espeak-ng reads "no-such-voice" in Norwegian and "fr-zz" in French, exiting 0.
    synthesizer = EspeakSynthesizer(voices={"en-GB": "no-such-voice", "de-DE": "de+nosuch", "es-ES": "es"})
    assert synthesizer.unknown_voices() == ["de+nosuch", "no-such-voice"]
    assert EspeakSynthesizer(voices={"fr-FR": "fr-fr+f3", "en-GB": "en-gb-x-rp"}).unknown_voices() == []
    port = _dead_udp_port()  # never called: the message fails before its call
    config = SipConnectorConfig(name="trunk", type="sip", host="127.0.0.1", port=port, attempts=1)
    connector = SipConnector(config, Speech(synthesizer), repeat=1)
    receipts = await start_connector(connector)
    try:
        english = OutboundMessage(
            1, "33612345678", None, ("Code 4821",), Encoding.GSM7, "notification", voice=Spoken("", "en-GB")
        )
        await connector.submit([english])

        async def final() -> bool:
            return bool(receipts)

        await wait_for(final, timeout=10)
        await asyncio.sleep(0.1)
    finally:
        await connector.stop()
    assert [(r.state, r.code) for r in receipts] == [(State.UNDELIVERED, 36)]
    assert "espeak-ng has no voice 'no-such-voice' (for en-GB" in receipts[0].detail, receipts[0].detail
    assert connector.results == []
