"""The SIP connector against an independent SIP implementation: sipp (Debian package `sip-tester`) as the trunk,
with UAS scenarios that answer and echo the RTP they receive, refuse with 486, or ring until cancelled."""

from __future__ import annotations

import asyncio
from pathlib import Path

from martinet.sip.uac import SipCaller, TrunkSettings
from martinet.voice.synthesis import EspeakSynthesizer
from tests.gateway import Gateway, running_gateway, wait_for
from tests.voice.support import Callbacks, history, require_speech, sipp


async def test_a_call_to_sipp_is_answered_played_for_its_length_and_hung_up(tmp_path: Path) -> None:
    require_speech()
    audio = EspeakSynthesizer().synthesize("Votre code est 1, 2, 3, 4. Je répète: 1, 2, 3, 4.", "fr-FR")
    async with sipp("answer", tmp_path) as peer:
        caller = SipCaller(TrunkSettings("127.0.0.1", peer.port, codec="PCMU"))
        await caller.start()
        try:
            result = await caller.call("33612345678", audio.g711)
        finally:
            await caller.stop()
        assert await peer.finished() == 0  # sipp's scenario ran to its end: INVITE, ACK, BYE, in that order
    assert peer.received() == ["INVITE", "ACK", "BYE"]
    assert result.answered and result.complete and result.codec == "PCMA"  # sipp's answer chose A-law
    assert result.played is not None
    # What sipp received (and echoed back) is the whole message, within 10 %.
    echoed = result.played.heard * 0.020
    assert abs(echoed - audio.seconds) <= 0.10 * audio.seconds, (echoed, audio.seconds)


async def test_refused_and_unanswered_calls_to_sipp_are_acknowledged_and_cancelled(tmp_path: Path) -> None:
    async with sipp("busy", tmp_path) as busy, sipp("ring", tmp_path) as ring:
        callers = [SipCaller(TrunkSettings("127.0.0.1", p.port, ring_timeout=1.0)) for p in (busy, ring)]
        for caller in callers:
            await caller.start()
        try:
            refused, unanswered = await asyncio.gather(
                *(caller.call("33612345678", lambda law: b"\xd5" * 800) for caller in callers)
            )
        finally:
            for caller in callers:
                await caller.stop()
        assert await busy.finished() == 0 and await ring.finished() == 0
    assert (refused.status, refused.answered) == (486, False)
    assert busy.received() == ["INVITE", "ACK"]
    assert (unanswered.status, unanswered.rang, unanswered.answered) == (487, True, False)
    assert ring.received() == ["INVITE", "CANCEL", "ACK"]


async def test_voice_sends_to_sipp_trunks_reach_their_statuses_and_callbacks(database_url: str, tmp_path: Path) -> None:
    require_speech()
    callbacks = Callbacks()
    await callbacks.start()
    try:
        async with (
            sipp("answer", tmp_path) as answer,
            sipp("busy", tmp_path) as busy,
            sipp("ring", tmp_path) as ring,
        ):
            trunks = {"answering": answer, "busy": busy, "ringing": ring}
            prefixes = {"answering": "33145", "busy": "33146", "ringing": "33147"}
            connectors = [{"name": "sandbox", "type": "sandbox"}] + [
                {"name": name, "type": "sip", "host": "127.0.0.1", "port": peer.port, "attempts": 1,
                 "ring_timeout": 1.0}
                for name, peer in trunks.items()
            ]  # fmt: skip
            routes = [{"name": name, "prefixes": [prefixes[name]], "connectors": [{"name": name}]} for name in trunks]
            async with running_gateway(
                database_url,
                connectors=connectors,
                routes=routes,
                callbacks={"allow_private_networks": True, "retry_first": 0.2},
                voice={"repeat": 1},
            ) as gw:
                sms_id = await _send(gw, "0145000001,0146000001,0147000001", callbacks.url)

                async def final() -> bool:
                    return {c.get("numero"): c["statut"] for c in callbacks.received} == {
                        "33145000001": "16",
                        "33146000001": "50",
                        "33147000001": "3522",
                    }

                await wait_for(final, timeout=60)
                assert sms_id
                listened = await history(gw.db, "33145000001")
                assert [r.code for r in listened] == [1, 0, 1, 16]
                assert "SIP 200 OK" in listened[-1].detail and "BYE sent" in listened[-1].detail
                assert "SIP 486" in (await history(gw.db, "33146000001"))[-1].detail
                assert "SIP 487" in (await history(gw.db, "33147000001"))[-1].detail
            for peer in trunks.values():
                assert await peer.finished() == 0
    finally:
        await callbacks.stop()


async def _send(gw: Gateway, numbers: str, callback: str) -> str:
    async with gw.client() as client:
        answer = await client.post(
            "/sendVoiceMessage.do",
            data={"accessToken": gw.token, "numero": numbers, "message": "Code 1234", "notification_url": callback},
        )
    assert answer.text.startswith("0 | "), answer.text
    return answer.text.split(" | ")[-1]
