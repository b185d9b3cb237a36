"""The caller against the trunk simulator over TCP with digest authentication, its refusals and silences as
statuses, and speech synthesis off the event loop and cached."""

from __future__ import annotations

import array
import asyncio
import math
from pathlib import Path

from martinet.connectors.sip.outcomes import describe, outcome
from martinet.domain import voice
from martinet.sip.uac import SipCaller, TrunkSettings
from martinet.siptrunk.simulator import Rule, TrunkSimulator
from martinet.voice.g711 import Law, encode
from martinet.voice.synthesis import Audio, EspeakSynthesizer, Speech
from tests.voice.support import require_speech

TONE = array.array("h", (int(6000 * math.sin(i / 3)) for i in range(8000))).tobytes()  # one second


def _tone(law: Law) -> bytes:
    return encode(TONE, law)


async def test_calls_over_tcp_with_digest_authentication(tmp_path: Path) -> None:
    rules = (Rule("331", "reject", 486), Rule("332", "answer", hangup_after=0.3), Rule("", "answer"))
    trunk = TrunkSimulator(rules, port=0, transport="tcp", recordings=tmp_path, username="u", password="p")
    await trunk.start()
    host, port = trunk.address
    caller = SipCaller(TrunkSettings(host, port, transport="tcp", username="u", password="p", codec="PCMU"))
    wrong = SipCaller(TrunkSettings(host, port, transport="tcp", username="u", password="not-p"))
    await caller.start()
    await wrong.start()
    try:
        answered, busy, early, refused = await asyncio.gather(
            caller.call("33612345678", _tone),
            caller.call("33100000000", _tone),
            caller.call("33200000000", _tone),
            wrong.call("33612345678", _tone),
        )
        await asyncio.gather(*(c.done.wait() for c in trunk.calls))
    finally:
        await caller.stop()
        await wrong.stop()
        await trunk.stop()
    assert answered.complete and answered.codec == "PCMU" and answered.played is not None
    assert answered.played.seconds == 1.0
    assert (busy.status, busy.answered) == (486, False)
    assert early.answered and early.callee_hung_up and not early.complete
    assert refused.status == 401  # a second challenge is not answered again
    heard = {c.number: c for c in trunk.calls}
    assert heard["33612345678"].ended_by == "caller" and heard["33612345678"].audio_seconds == 1.0
    assert heard["33612345678"].recording is not None and heard["33612345678"].recording.exists()
    assert heard["33200000000"].ended_by == "trunk"


async def test_digest_authentication_with_sha_256(tmp_path: Path) -> None:
    trunk = TrunkSimulator(
        (Rule("", "answer"),), port=0, recordings=tmp_path, username="u", password="p", algorithm="SHA-256"
    )
    await trunk.start()
    host, port = trunk.address
    caller = SipCaller(TrunkSettings(host, port, username="u", password="p"))
    wrong = SipCaller(TrunkSettings(host, port, username="u", password="not-p"))
    await caller.start()
    await wrong.start()
    try:
        answered, refused = await asyncio.gather(caller.call("33612345678", _tone), wrong.call("33612345678", _tone))
    finally:
        await caller.stop()
        await wrong.stop()
        await trunk.stop()
    assert answered.complete and refused.status == 401


class _Counting:
    """The real synthesiser, counting its runs and telling when one starts."""

    def __init__(self) -> None:
        self.inner = EspeakSynthesizer()
        self.runs = 0

    def synthesize(self, text: str, language: str, voice: str | None = None) -> Audio:
        self.runs += 1
        return self.inner.synthesize(text, language, voice)


async def test_speech_is_synthesised_off_the_event_loop_once_per_text() -> None:
    require_speech()
    synthesizer = _Counting()
    speech = Speech(synthesizer, cache_size=8)
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(ticking())
    try:
        first, second = await asyncio.gather(
            speech.audio("Votre code est 1, 2, 3, 4", "fr-FR"), speech.audio("Votre code est 1, 2, 3, 4", "fr-FR")
        )
        during = ticks
        english = await speech.audio("Votre code est 1, 2, 3, 4", "en-GB")
        again = await speech.audio("Votre code est 1, 2, 3, 4", "fr-FR")
    finally:
        ticker.cancel()
    assert first is second is again and english is not first
    assert synthesizer.runs == 2 and speech.syntheses == 2
    assert during > 10  # the loop kept running while espeak-ng and sox worked
    assert 1.0 < first.seconds < 10.0


async def test_refusals_and_silences_of_the_trunk_reach_the_statuses_of_docs_voice(tmp_path: Path) -> None:
    rules = (
        Rule("331", "reject", 480),
        Rule("332", "reject", 603),
        Rule("333", "reject", 404),
        Rule("334", "reject", 500),
        Rule("335", "silent"),
        Rule("336", "ring"),
    )
    trunk = TrunkSimulator(rules, port=0, recordings=tmp_path)
    await trunk.start()
    caller = SipCaller(TrunkSettings(*trunk.address, ring_timeout=0.6))
    await caller.start()
    try:
        results = await asyncio.gather(*(caller.call(f"33{n}00000000", _tone) for n in range(1, 7)))
    finally:
        await caller.stop()
        await trunk.stop()
    verdicts = [(r.status, outcome(r).code, outcome(r).retry) for r in results]
    assert verdicts == [
        (480, voice.NO_ANSWER, True),  # unavailable: called again later
        (603, voice.DECLINED, False),  # declined: never called again
        (404, voice.NOT_REACHABLE, False),
        (500, voice.CALL_FAILED, True),  # the trunk's trouble
        (408, voice.CALL_FAILED, True),  # not even a 100 Trying: the trunk's failure, not the callee's absence
        (487, voice.NO_ANSWER, True),  # rang until cancelled
    ]
    assert not any(r.answered for r in results) and results[5].rang and not results[4].rang
    assert describe(results[1], 2, 3) == "attempt 2/3: SIP 603 Decline"
    # The trunk saw the cancel of the ringing call; the silent one never got past the INVITE.
    heard = {c.number: c for c in trunk.calls}
    assert heard["33600000000"].ended_by == "cancel" and heard["33600000000"].status == 487
