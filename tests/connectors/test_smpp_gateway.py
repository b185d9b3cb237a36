"""The whole path over SMPP: sendSMS.do → engine → our connector → our SMSC simulator → receipts → status 11.

The simulator runs in the test's event loop on a loopback port; the gateway (HTTP app and engine) runs beside
it, its connector binding to the simulator like it would to a carrier.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from martinet.app import account_service
from martinet.smpp.session import SessionConfig
from martinet.smpp.times import parse_absolute_time
from martinet.smsc import Credential, FinalStatus, Simulator, SimulatorConfig
from martinet.store.inbound import InboundStore
from martinet.store.schema import messages, parts, sends, unmatched_receipts
from tests.gateway import Gateway, running_gateway, wait_for

TEST_PREFIX = "3375999"  # 07 59 99 0x xx: valid French mobiles, so the gateway accepts them


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    config = SimulatorConfig(
        port=0,
        control_port=None,
        credentials=(Credential("acme", "secret"),),
        intermediate_delay=0.02,
        receipt_delay=0.1,
        retry_delay=0.2,
        test_prefix=TEST_PREFIX,
        seed=3,
        outcomes={FinalStatus.DELIVRD: 1.0},
        session=SessionConfig(enquire_link_interval=5, dead_peer_timeout=15, response_timeout=5),
    )
    async with Simulator(config) as smsc:
        yield smsc


def _carrier(port: int, **extra: Any) -> list[dict[str, Any]]:
    return [
        {"name": "sandbox", "type": "sandbox", "operator_delay": 0.05, "handset_delay": 0.1},
        {
            "name": "carrier",
            "type": "smpp",
            "host": "127.0.0.1",
            "port": port,
            "system_id": "acme",
            "password": "secret",
            "reconnect_min": 0.1,
            "reconnect_max": 0.5,
            **extra,
        },
    ]


async def _send(gw: Gateway, **params: str) -> str:
    async with gw.client() as http:
        reply = await http.post("/sendSMS.do", data={"accessToken": gw.token, **params})
    text = reply.content.decode("iso-8859-15")
    assert text.startswith("0 | "), text
    return text.rsplit(" | ", 1)[1]


async def _report(gw: Gateway, sms_id: str) -> str:
    async with gw.client() as http:
        return (await http.get("/compteRendu.do", params={"accessToken": gw.token, "smsID": sms_id})).text


async def _parts(gw: Gateway, sms_id: str) -> list[tuple[str, str]]:
    async with gw.db.reader.connect() as conn:
        rows = await conn.execute(
            select(parts.c.connector, parts.c.carrier_id).join(messages).where(messages.c.send_id == sms_id)
        )
        return [(r.connector, r.carrier_id) for r in rows]


async def test_short_long_and_unicode_messages_reach_status_11(database_url: str, simulator: Simulator) -> None:
    async with running_gateway(database_url, connectors=_carrier(simulator.port)) as gw:
        await wait_for(lambda: _bound(simulator), timeout=10)
        short = await _send(gw, numero="0612345678", message="Votre code : 482913")
        long = await _send(gw, numero="0612345679", message="Bonjour, " * 40)  # 360 chars: 3 parts
        emoji = await _send(gw, numero="0612345670", message="Merci 😀 " * 10, classe_msg="9")  # 2 UCS-2 parts
        for sms_id in (short, long, emoji):
            await wait_for(lambda sms_id=sms_id: _ends(gw, sms_id, " 11"), timeout=15)
        assert [c for c, _ in await _parts(gw, long)] == ["carrier"] * 3
        assert len(await _parts(gw, emoji)) == 2
        assert simulator.counters.submitted == 6
        assert simulator.counters.throttled == 0


async def _ends(gw: Gateway, sms_id: str, suffix: str) -> bool:
    return (await _report(gw, sms_id)).endswith(suffix)


async def test_the_validity_of_a_send_or_of_its_lane_reaches_the_carrier(
    database_url: str, simulator: Simulator
) -> None:
    lanes = {"notification": {"validity": 7200}}
    async with running_gateway(database_url, connectors=_carrier(simulator.port), lanes=lanes) as gw:
        await wait_for(lambda: _bound(simulator), timeout=10)
        own = await _send(gw, numero="0612345678", message="Code 123456", validity="300")
        default = await _send(gw, numero="0612345679", message="Colis en route")
        for sms_id in (own, default):
            await wait_for(lambda sms_id=sms_id: _ends(gw, sms_id, " 11"), timeout=15)
        async with gw.db.reader.connect() as conn:
            rows = await conn.execute(select(messages.c.msisdn, sends.c.created_at, messages.c.expires_at).join(sends))
            stored = {r.msisdn: r.expires_at - r.created_at for r in rows}
        at_carrier = {
            m.destination.addr: parse_absolute_time(m.validity_period)
            - datetime.fromtimestamp(m.received_at / 1000, UTC)
            for m in simulator.messages.values()
        }
    assert stored == {"33612345678": 300_000, "33612345679": 7_200_000}
    # An absolute SMPP time has a tenth of a second's resolution; the carrier got it shortly after acceptance.
    assert timedelta(seconds=298) < at_carrier["33612345678"] <= timedelta(seconds=300.1)
    assert timedelta(seconds=7198) < at_carrier["33612345679"] <= timedelta(seconds=7200.1)


async def test_carrier_outcomes_map_to_smsmode_statuses(database_url: str, simulator: Simulator) -> None:
    async with running_gateway(database_url, connectors=_carrier(simulator.port)) as gw:
        await wait_for(lambda: _bound(simulator), timeout=10)
        undeliverable = await _send(gw, numero=f"{TEST_PREFIX}0002", message="x")
        expired = await _send(gw, numero=f"{TEST_PREFIX}0003", message="x")
        rejected = await _send(gw, numero=f"{TEST_PREFIX}0004", message="x")
        pending = await _send(gw, numero=f"{TEST_PREFIX}0005", message="x")  # intermediate receipt only
        await wait_for(lambda: _ends(gw, undeliverable, " 21"), timeout=15)
        await wait_for(lambda: _ends(gw, expired, " 37"), timeout=15)
        await wait_for(lambda: _ends(gw, rejected, " 22"), timeout=15)
        await wait_for(lambda: _ends(gw, pending, " 13"), timeout=15)


async def test_sandbox_accounts_never_reach_the_carrier(database_url: str, simulator: Simulator) -> None:
    async with running_gateway(database_url, connectors=_carrier(simulator.port)) as gw:
        created = await account_service(gw.settings, gw.db).create("tester", credits=10_000, sandbox=True)
        async with gw.client() as http:
            reply = await http.post(
                "/sendSMS.do", data={"accessToken": created.token, "numero": "0612345678", "message": "test"}
            )
        sms_id = reply.content.decode("iso-8859-15").rsplit(" | ", 1)[1]
        async with gw.client() as http:
            await wait_for(lambda: _report_with(http, created.token, sms_id, " 11"), timeout=15)
        assert [c for c, _ in await _parts(gw, sms_id)] == ["sandbox"]
        assert simulator.counters.submitted == 0


async def _report_with(http: Any, token: str, sms_id: str, suffix: str) -> bool:
    text = (await http.get("/compteRendu.do", params={"accessToken": token, "smsID": sms_id})).text
    return bool(text.endswith(suffix))


async def test_concatenated_mo_is_stored_as_one_reply(database_url: str, simulator: Simulator) -> None:
    async with running_gateway(database_url, connectors=_carrier(simulator.port)) as gw:
        await wait_for(lambda: _bound(simulator), timeout=10)
        text = "Oui, je confirme le rendez-vous de demain à 10 h. " * 5  # > 160: several deliver_sm
        assert simulator.inject_mo("33612345678", "36180", text) > 1
        store = InboundStore(gw.db)

        async def stored() -> list[Any]:
            return await store.received()

        (reply,) = await wait_for(stored, timeout=10)
        assert (reply.connector, reply.source, reply.destination, reply.text) == (
            "carrier",
            "33612345678",
            "36180",
            text,
        )
        assert reply.parts > 1


async def _bound(simulator: Simulator) -> bool:
    return bool(simulator.stats()["active_binds"])


async def test_a_connector_at_the_carriers_rate_is_never_throttled(database_url: str) -> None:
    config = SimulatorConfig(
        port=0,
        control_port=None,
        credentials=(Credential("acme", "secret"),),
        max_per_second=40,
        receipt_delay=0.05,
        intermediate_delay=0.01,
        test_prefix=TEST_PREFIX,
        seed=1,
    )
    async with (
        Simulator(config) as smsc,
        running_gateway(database_url, connectors=_carrier(smsc.port, throughput=40), credits=10_000) as gw,
    ):
        await wait_for(lambda: _bound(smsc), timeout=10)
        await _send(gw, numero=",".join(f"06{12000000 + i:08d}" for i in range(80)), message="rate")
        await wait_for(lambda: _submitted(smsc, 80), timeout=20)
        assert smsc.counters.throttled == 0


async def _submitted(smsc: Simulator, count: int) -> bool:
    return smsc.counters.submitted >= count


async def test_receipts_are_matched_and_counted_once(database_url: str, simulator: Simulator) -> None:
    async with running_gateway(database_url, connectors=_carrier(simulator.port), credits=10_000) as gw:
        await wait_for(lambda: _bound(simulator), timeout=10)
        sms_id = await _send(gw, numero=",".join(f"06{13000000 + i:08d}" for i in range(50)), message="lot")
        await wait_for(lambda: _all_received(gw, sms_id, 50), timeout=20)

        async def nothing_kept_aside() -> bool:
            # A receipt that raced its submission is kept aside, then applied within a second or so.
            async with gw.db.reader.connect() as conn:
                return await conn.scalar(select(func.count()).select_from(unmatched_receipts)) == 0

        await wait_for(nothing_kept_aside, timeout=10)
        assert simulator.counters.receipts_acked == 100  # one intermediate and one final each


async def _all_received(gw: Gateway, sms_id: str, count: int) -> bool:
    return (await _report(gw, sms_id)).count(" 11") == count
