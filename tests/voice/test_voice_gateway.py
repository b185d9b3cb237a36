"""Voice messages end to end against the SIP trunk simulator, on both databases: sendVoiceMessage.do, the engine
synthesising and calling, the statuses of every attempt with their SIP codes, the final status and its callback,
the audio the trunk heard, the price per call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from martinet.client import AsyncClient
from martinet.siptrunk.simulator import Rule, TrunkSimulator
from martinet.store.schema import sends
from tests.gateway import Gateway, running_gateway, wait_for
from tests.voice.support import Callbacks, history, require_speech

RULES = (
    Rule("331999991", "reject", 486),
    Rule("331999994", "ring"),
    Rule("331999996", "answer", hangup_after=0.5),
    Rule("", "answer", ring_delay=0.1),
)

#: A SIP connector for the gateways without an engine: voice sends are open, and nothing is called.
UNCALLED = [{"name": "sandbox", "type": "sandbox"}, {"name": "trunk", "type": "sip", "host": "127.0.0.1", "port": 9}]


@pytest.fixture
async def trunk(tmp_path: object) -> AsyncIterator[TrunkSimulator]:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    simulator = TrunkSimulator(RULES, port=0, recordings=tmp_path / "calls", username="martinet", password="s3cret")
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


def _sip(trunk: TrunkSimulator, transport: str = "udp") -> dict[str, object]:
    return {
        "name": "trunk",
        "type": "sip",
        "host": trunk.address[0],
        "port": trunk.address[1],
        "transport": transport,
        "username": "martinet",
        "password": "s3cret",
        "ring_timeout": 1.0,
        "attempts": 2,
        "retry_delay": 0.2,
    }


async def _send(gw: Gateway, **params: str) -> str:
    async with gw.client() as client:
        answer = await client.post("/sendVoiceMessage.do", data={"accessToken": gw.token, **params})
    return answer.text


async def _report(gw: Gateway, sms_id: str) -> dict[str, str]:
    async with gw.client() as client:
        text = (await client.get("/compteRendu.do", params={"accessToken": gw.token, "smsID": sms_id})).text
    return dict(entry.strip().split(" ") for entry in text.split("|"))


async def test_a_voice_message_is_called_played_and_reported_listened_with_its_callback(
    database_url: str, trunk: TrunkSimulator
) -> None:
    require_speech()
    callbacks = Callbacks()
    await callbacks.start()
    try:
        async with running_gateway(
            database_url,
            connectors=[{"name": "sandbox", "type": "sandbox"}, _sip(trunk)],
            callbacks={"allow_private_networks": True, "retry_first": 0.2},
            voice={"repeat": 1},
        ) as gw:
            answer = await _send(
                gw,
                numero="0145678901,0199999100,0199999600,0199999400",
                message="Votre code est 4821",
                title="Test",
                language="fr-FR",
                notification_url=callbacks.url,
            )
            assert answer.startswith("0 | "), answer
            sms_id = answer.split(" | ")[-1]

            async def final() -> dict[str, str] | None:
                report = await _report(gw, sms_id)
                return report if all(code not in ("0", "1", "3502") for code in report.values()) else None

            report = await wait_for(final, timeout=60)
            assert report == {"33145678901": "16", "33199999100": "50", "33199999600": "17", "33199999400": "3522"}
            await wait_for(lambda: _async(callbacks.statuses("33145678901")[-1:] == ["16"]), timeout=30)

            # Every attempt is in the history with its SIP answer.
            busy = await history(gw.db, "33199999100")
            assert [(r.code, r.detail.split(":")[0] if r.detail else None) for r in busy[-4:]] == [
                (1, "attempt 1/2"),
                (3502, "attempt 1/2"),
                (1, "attempt 2/2"),
                (50, "attempt 2/2"),
            ]
            assert "SIP 486 Busy Here" in busy[-1].detail
            ringing = await history(gw.db, "33199999400")
            assert "SIP 487" in ringing[-1].detail
            listened = await history(gw.db, "33145678901")
            assert listened[-1].state == "delivered" and "SIP 200" in listened[-1].detail

            # The trunk heard the whole message once, and a part of it where the callee hung up.
            heard = {c.number: c for c in trunk.calls if c.status == 200}
            full, early = heard["33145678901"], heard["33199999600"]
            # The trunk counts what it heard a moment after the BYE (late packets): wait for that count.
            await asyncio.wait_for(asyncio.gather(full.done.wait(), early.done.wait()), timeout=10)
            played = float(listened[-1].detail.split(", ")[1].split(" s")[0])
            assert full.ended_by == "caller" and abs(full.audio_seconds - played) <= 0.1 * played
            assert full.recording is not None and full.recording.exists()
            assert early.ended_by == "trunk" and early.audio_seconds < played

            # Priced per call (1.5 credits to metropolitan France in the built-in table), whatever happened on the line.
            async with gw.client() as client:
                balance = (await client.get("/credit.do", params={"accessToken": gw.token})).text
            assert balance == "994"
    finally:
        await callbacks.stop()


async def _async(value: bool) -> bool:
    await asyncio.sleep(0)
    return value


async def test_voice_parameters_are_checked_and_answered_in_smsmode_terms(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False, connectors=UNCALLED) as gw:
        too_long = await _send(gw, numero="0612345678", message="x" * 161)
        bad_language = await _send(gw, numero="0612345678", message="Bonjour", language="it-IT")
        missing = await _send(gw, numero="0612345678")
        accepted = await _send(gw, numero="0612345678", message="Bonjour", date_envoi="01012099-10:00")
        # A language as clients write it (Java's Locale gives en_GB), kept as the listed one it names.
        written = [await _send(gw, numero="0612345678", message="Hi", language=tag) for tag in ("en_GB", "DE-de", "es")]
        assert all(answer.startswith("0 | ") for answer in written), written
        async with gw.db.reader.connect() as conn:
            stored = await conn.execute(select(sends.c.voice_language).order_by(sends.c.id))
            assert [row.voice_language for row in stored] == ["en-GB", "de-DE", "es-ES"]
    assert too_long == "35 | Paramètre invalide : message (plus de 160 caractères)"
    assert bad_language == (
        "35 | Paramètre invalide : language (doit être l'une des valeurs fr-FR, en-GB, de-DE, es-ES)"
    )
    assert missing.startswith("35 | ") and "message" in missing
    assert accepted.startswith("35 | ") and "date_envoi" in accepted  # beyond the scheduling horizon


async def test_voice_messages_are_taken_by_get_and_read_in_iso_8859_15(database_url: str) -> None:
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    async with running_gateway(database_url, with_engine=False, connectors=UNCALLED) as gw, gw.client() as client:
        # As every smsmode endpoint: a query string percent-encoded in ISO-8859-15 ("é" E9, "€" A4).
        query = f"accessToken={gw.token}&numero=0145678901&message=Caf%E9+%A4+5&date_envoi={tomorrow:%d%m%Y}-10:00"
        got = await client.get("/sendVoiceMessage.do?" + query)
        listed = await client.get("/smsList.do", params={"accessToken": gw.token})
    answer = got.content.decode("iso-8859-15")
    assert answer.startswith("0 | Accepté | "), answer
    sms_id = answer.split(" | ")[-1]
    row = listed.content.decode("iso-8859-15").splitlines()[0].split(" | ")
    assert row[:5] == [sms_id, f"{tomorrow:%d/%m/%Y} 10:00", "Café € 5", "33145678901", "1.5"]


async def test_the_rest_door_and_the_sdk_send_voice_messages(database_url: str, trunk: TrunkSimulator) -> None:
    require_speech()
    async with (
        running_gateway(
            database_url, connectors=[{"name": "sandbox", "type": "sandbox"}, _sip(trunk)], voice={"repeat": 1}
        ) as gw,
        AsyncClient(gw.base, gw.token, retries=0) as client,
    ):
        sent = await client.send("0145678901", "Code 4821", voice=True, voice_title="", voice_language="en-GB")
        assert sent.part_count == 1 and sent.price.amount == Decimal("1.5")
        sms_id = await client.legacy.send_voice_message("0145678902", "Code 4821", title="")

        async def listened() -> bool:
            message = await client.get(sent.message_id)
            report = await client.legacy.delivery_report(sms_id)
            return message.status.code == 16 and [r.code for r in report] == [16]

        await wait_for(listened, timeout=60)
        async with httpx.AsyncClient(base_url=gw.base) as raw:
            resource = (await raw.get(f"/sms/v1/messages/{sent.message_id}", headers={"X-Api-Key": gw.token})).json()
            refused = await raw.post(
                "/sms/v1/messages",
                headers={"X-Api-Key": gw.token},
                json={"recipient": {"to": "0145678901"}, "body": {"text": "x" * 161}, "channel": "VOICE"},
            )
        assert resource["channel"]["type"] == "VOICE"
        assert refused.status_code == 422 and "body.text" in refused.text


async def test_a_scheduled_voice_message_is_cancelled_and_refunded(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False, connectors=UNCALLED) as gw:
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%d%m%Y-%H:%M")
        answer = await _send(gw, numero="0145678901", message="Rappel: rendez-vous demain", date_envoi=tomorrow)
        sms_id = answer.split(" | ")[-1]
        async with gw.client() as client:
            scheduled = (await client.get("/compteRendu.do", params={"accessToken": gw.token, "smsID": sms_id})).text
            charged = (await client.get("/credit.do", params={"accessToken": gw.token})).text
            deleted = (await client.get("/deleteSMS.do", params={"accessToken": gw.token, "smsID": sms_id})).text
            refunded = (await client.get("/credit.do", params={"accessToken": gw.token})).text
    assert answer.startswith("0 | ") and scheduled == "33145678901 10"
    assert (charged, refunded) == ("998.5", "1000") and deleted.startswith("0 | ")  # 1.5 credits a call to France


async def test_the_rest_door_describes_voice_sends_and_refuses_a_voice_part_on_an_sms(database_url: str) -> None:
    async with (
        running_gateway(database_url, with_engine=False, connectors=UNCALLED) as gw,
        httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}) as raw,
    ):
        schema = (await raw.get("/sms/v1/openapi.json")).json()["components"]["schemas"]
        send = {"recipient": {"to": "0145678901"}, "body": {"text": "Code 4821"}}
        sms_with_voice = await raw.post("/sms/v1/messages", json={**send, "voice": {"language": "en-GB"}})
        italian = await raw.post("/sms/v1/messages", json={**send, "channel": "VOICE", "voice": {"language": "it-IT"}})
        voice = {**send, "channel": "VOICE"}
        with_sender = await raw.post("/sms/v1/messages", json={**voice, "from": "ACME"})
        with_replies = await raw.post("/sms/v1/messages", json={**voice, "callbackUrlMo": "https://example.com/mo"})
        previewed = await raw.post("/sms/v1/messages:preview", json={**voice, "from": "ACME"})  # as the send would
        listed = (await raw.get("/sms/v1/messages")).json()
    assert schema["SendIn"]["properties"]["channel"]["enum"] == ["SMS", "VOICE"]
    assert schema["VoiceIn"]["properties"]["language"]["enum"] == ["fr-FR", "en-GB", "de-DE", "es-ES"]
    assert sms_with_voice.status_code == 422 and sms_with_voice.json()["field"] == "channel"
    assert italian.status_code == 422 and italian.json()["field"] == "voice.language"
    # A call shows the trunk's number and gets no replies: refused, not ignored.
    assert (with_sender.status_code, with_sender.json()["field"]) == (422, "from")
    assert (with_replies.status_code, with_replies.json()["field"]) == (422, "callbackUrlMo")
    assert (previewed.status_code, previewed.json()["field"]) == (422, "from")
    assert listed["items"] == []  # neither was sent, not even as an SMS


async def test_a_voice_message_beyond_the_credit_is_refused_with_33_and_costs_nothing(database_url: str) -> None:
    async with running_gateway(database_url, credits=1, with_engine=False, connectors=UNCALLED) as gw:
        refused = await _send(gw, numero="0145678901", message="Votre code est 4821")  # 1.5 credits a call
        async with gw.client() as client:
            balance = (await client.get("/credit.do", params={"accessToken": gw.token})).text
    assert (refused, balance) == ("33 | Crédits insuffisants", "1")


async def test_a_platform_without_a_sip_trunk_refuses_voice_messages_at_once(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw:  # the sandbox alone
        refused = await _send(gw, numero="0145678901", message="Votre code est 4821")
    assert refused == "35 | Paramètre invalide : message (messages vocaux non ouverts sur cette plateforme)"
