"""The SIP connector against the trunk simulator: its concurrent-call limit, the validity of a message between
two attempts, a text the synthesiser cannot read, SMS refused, and calls cut by a restart."""

from __future__ import annotations

import array
import asyncio
import math
import time
from pathlib import Path

from martinet.config import SipConnectorConfig
from martinet.connectors.base import Accepted, InFlight, OutboundMessage, Refused
from martinet.connectors.sip.connector import SipConnector
from martinet.domain import voice
from martinet.domain.receipts import UNKNOWN_OUTCOME
from martinet.domain.status import EXPIRED, State
from martinet.domain.text import Encoding
from martinet.domain.voice import Spoken
from martinet.siptrunk.simulator import Rule, TrunkSimulator
from martinet.voice.synthesis import Audio, Speech, SynthesisError
from tests.voice.support import start_connector

UNREADABLE = "unreadable"


class ToneSynthesizer:
    """A synthesiser plugged in through the interface: half a second of tone per text, or a failure."""

    def synthesize(self, text: str, language: str, voice: str | None = None) -> Audio:
        if UNREADABLE in text:
            raise SynthesisError("no voice for this text")
        return Audio(array.array("h", (int(6000 * math.sin(i / 3)) for i in range(4000))).tobytes())


def _message(message_id: int, number: str, *, expires_at: int | None = None, spoken: bool = True) -> OutboundMessage:
    text = UNREADABLE if message_id == 99 else "Votre code est 4821"
    return OutboundMessage(
        message_id,
        number,
        None,
        (text,),
        Encoding.GSM7,
        "notification",
        expires_at=expires_at,
        voice=Spoken("", "fr-FR") if spoken else None,
    )


async def test_calls_wait_for_a_place_expire_between_attempts_and_fail_without_speech(tmp_path: Path) -> None:
    trunk = TrunkSimulator((Rule("331", "reject", 486), Rule("", "answer")), port=0, recordings=tmp_path)
    await trunk.start()
    host, port = trunk.address
    config = SipConnectorConfig(
        name="trunk", type="sip", host=host, port=port, max_calls=2, attempts=2, retry_delay=2.0
    )
    connector = SipConnector(config, Speech(ToneSynthesizer()), repeat=1)
    receipts = await start_connector(connector)
    try:
        now = int(time.time() * 1000)
        batch = [
            # Busy at its first attempt; its validity ends during the two seconds before the second.
            _message(1, "33100000000", expires_at=now + 1_900),
            *(_message(i, f"3361234567{i}") for i in range(2, 7)),
            _message(99, "33612345699"),
            _message(7, "33612345677", spoken=False),
        ]
        results = await connector.submit(batch)
        carriers = {r.message_id: r.carrier_ids[0] for r in results if isinstance(r, Accepted)}

        async def all_final() -> None:
            while {r.carrier_id for r in receipts if r.state is not State.SENT} != set(carriers.values()):
                await asyncio.sleep(0.05)

        await asyncio.wait_for(all_final(), timeout=30)
        # A call in progress when the engine stopped is not placed again: it might ring the person twice.
        await connector.resume([InFlight("before-restart", "33612345600", voice.CALLING)])
    finally:
        await connector.stop()
        await trunk.stop()

    assert results[-1] == Refused(7, False, 36, "trunk: carries voice messages only")
    final = {cid: r for r in receipts if r.state is not State.SENT for cid in [r.carrier_id]}
    by_message = {mid: final[cid] for mid, cid in carriers.items()}
    assert [(m, r.code) for m, r in sorted(by_message.items())] == [
        (1, EXPIRED),
        *((i, voice.LISTENED) for i in range(2, 7)),
        (99, 36),
    ]
    assert by_message[1].detail == "validity ended before attempt 2"
    assert by_message[99].detail == "speech synthesis failed: no voice for this text"
    assert [(r.state, r.code, r.detail) for r in receipts if r.carrier_id == "before-restart"] == [
        (State.UNDELIVERED, UNKNOWN_OUTCOME, "the engine restarted during the call")
    ]
    # Never more than two calls at once on the trunk, and two at once while the five waited for a place.
    answered = [c for c in trunk.calls if c.status == 200]
    assert len(answered) == 5 and all(c.ended_at is not None for c in answered)
    overlaps = [sum(1 for o in answered if o.started_at <= c.started_at < (o.ended_at or 0)) for c in answered]
    assert max(overlaps) == 2
