"""Every territory out of the box: priced, routed and delivered, with the country rules applied.

One send carries libphonenumber's example mobile number of every region it knows (and French overseas numbers
in national and international spelling) through the whole path: acceptance, pricing by zone, the engine, our
SMPP connector, the SMSC simulator the demo runs, its receipts. Both databases.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from sqlalchemy import select

from martinet.app import price_table
from martinet.domain.credits import to_milli
from martinet.domain.networks import load_network_dataset
from martinet.domain.recipients import Recipient, parse_recipient
from martinet.domain.status import NOT_ROUTABLE, RECEIVED
from martinet.smpp.session import SessionConfig
from martinet.smsc import Credential, FinalStatus, Simulator, SimulatorConfig
from martinet.store.schema import messages, parts
from tests.gateway import Gateway, running_gateway, wait_for

# French overseas mobiles as clients write them: national (French plan, trunk 0) and international.
OVERSEAS = {
    "0692 12 34 56": ("262692123456", "RE"),
    "+262 693 11 22 33": ("262693112233", "RE"),
    "0639 40 12 34": ("262639401234", "YT"),
    "00262639401299": ("262639401299", "YT"),
    "06 90 00 12 34": ("590690001234", "GP"),
    "+590 690 12 34 99": ("590690123499", "GP"),
    "0696 20 12 34": ("596696201234", "MQ"),
    "+596696201299": ("596696201299", "MQ"),
    "0694 20 12 34": ("594694201234", "GF"),
    "+594 694 20 12 99": ("594694201299", "GF"),
}


def _example_mobiles() -> dict[str, Recipient]:
    """E.164 spelling → parsed recipient, for every region with an example mobile (regions sharing a plan, such
    as Åland and Finland, share an example: it is sent once)."""
    found: dict[str, Recipient] = {}
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
        if example is None:
            continue
        e164 = phonenumbers.format_number(example, PhoneNumberFormat.E164)
        parsed = parse_recipient(e164)
        assert isinstance(parsed, Recipient), (region, e164, parsed)
        found[e164] = parsed
    return found


EXAMPLES = _example_mobiles()


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    config = SimulatorConfig(
        port=0,
        control_port=None,
        credentials=(Credential("acme", "secret"),),
        intermediate_delay=0.02,
        receipt_delay=0.05,
        retry_delay=0.2,
        seed=7,
        outcomes={FinalStatus.DELIVRD: 1.0},
        session=SessionConfig(enquire_link_interval=5, dead_peer_timeout=15, response_timeout=5),
    )
    async with Simulator(config) as smsc:
        yield smsc


def _carrier(port: int) -> list[dict[str, Any]]:
    return [
        {"name": "sandbox", "type": "sandbox"},
        {
            "name": "carrier",
            "type": "smpp",
            "host": "127.0.0.1",
            "port": port,
            "system_id": "acme",
            "password": "secret",
            "window": 256,
            "reconnect_min": 0.1,
            "reconnect_max": 0.5,
        },
    ]


async def _bound(simulator: Simulator) -> bool:
    return bool(simulator.stats()["active_binds"])


async def _send(gw: Gateway, **params: str) -> str:
    async with gw.client() as http:
        reply = await http.post("/sendSMS.do", data={"accessToken": gw.token, **params})
    return reply.content.decode("iso-8859-15")


async def _messages(gw: Gateway, sms_id: str) -> dict[str, Any]:
    async with gw.db.reader.connect() as conn:
        rows = await conn.execute(select(messages).where(messages.c.send_id == sms_id))
        return {r.msisdn: r for r in rows}


async def test_every_region_is_priced_routed_and_delivered(database_url: str, simulator: Simulator) -> None:
    closed = {e164: r for e164, r in EXAMPLES.items() if r.country == "KP"}
    assert len(EXAMPLES) > 200 and len(closed) == 1
    numero = ",".join([*EXAMPLES, *OVERSEAS])
    async with running_gateway(database_url, credits=100_000, connectors=_carrier(simulator.port)) as gw:
        table = price_table(gw.settings)
        await wait_for(lambda: _bound(simulator), timeout=10)
        answer = await _send(gw, numero=numero, message="Hello world")
        assert answer.startswith("0 | "), answer
        sms_id = answer.rsplit(" | ", 1)[1]

        expected = {r.msisdn: r.country for r in EXAMPLES.values()}
        expected.update(dict(OVERSEAS.values()))
        sent = {msisdn for msisdn, country in expected.items() if country != "KP"}

        async def all_final() -> bool:
            rows = await _messages(gw, sms_id)
            return sum(1 for r in rows.values() if r.code == RECEIVED) == len(sent)

        await wait_for(all_final, timeout=120, interval=0.2)
        rows = await _messages(gw, sms_id)
        assert {msisdn: row.country for msisdn, row in rows.items()} == expected
        for msisdn, row in rows.items():
            price = table.price(row.country)
            if row.country == "KP":  # closed in the built-in table: refused on its own, costs nothing
                assert (row.code, row.cost, price) == (NOT_ROUTABLE, 0, None)
            else:
                assert price is not None and row.cost == to_milli(price), (msisdn, row.country)
        async with gw.db.reader.connect() as conn:
            connectors = {r.connector for r in await conn.execute(select(parts.c.connector))}
        assert connectors == {"carrier"}
        assert {m.destination.addr for m in simulator.messages.values()} == sent

        # The preview names each number's price and operator (the range holder's network where known).
        async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}, timeout=60) as http:
            reply = await http.post(
                "/sms/v1/messages:preview",
                json={"recipients": [{"to": to} for to in [*OVERSEAS, "+33612345678", "+2348031234567"]],
                      "body": {"text": "Hello"}},
            )  # fmt: skip
        assert reply.status_code == 200, reply.text
        seen = {r["to"]: r for r in reply.json()["recipients"]}
        for msisdn, country in OVERSEAS.values():
            assert seen[msisdn]["country"] == country
            assert seen[msisdn]["price"]["amount"] == 3
        assert seen["33612345678"]["operator"] == {"name": "SFR", "mccmnc": "20810"}
        assert seen["33612345678"]["price"]["amount"] == 1
        if load_network_dataset() is not None:  # Nigeria's MTN comes from the MCC/MNC data set
            assert seen["2348031234567"]["operator"] == {"name": "MTN", "mccmnc": "62130"}


async def test_alphanumeric_senders_follow_the_country_rules(database_url: str, simulator: Simulator) -> None:
    rules = {"countries": {"CA": {"fallback_sender": "+1 204 555 0143"}, "XK": {"unicode": False}}}
    async with running_gateway(database_url, connectors=_carrier(simulator.port), rules=rules, credits=1000) as gw:
        await wait_for(lambda: _bound(simulator), timeout=10)
        # To the United States only: the whole send is refused, naming the sender and the country, in each door's
        # words (the smsmode door in the account's language, French here; the REST door names its field).
        refused = await _send(gw, numero="+1 201 555 0123", message="Your code 1234", emetteur="ACME")
        assert refused == (
            "35 | Paramètre invalide : emetteur "
            "(US : émetteurs alphanumériques non distribués, émetteurs numériques uniquement)"
        )
        unicode = await _send(gw, numero="+38343201234", message="Votre code ✓ 1234", classe_msg="9")
        assert unicode == "35 | Paramètre invalide : message (XK : messages Unicode non distribués)"
        async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}, timeout=10) as http:
            for body, field, detail in (
                ({"recipient": {"to": "+12015550123"}, "from": "ACME", "body": {"text": "Hi"}}, "from",
                 "US: alphanumeric senders are not delivered, numeric senders only"),
                ({"recipient": {"to": "+38343201234"}, "body": {"text": "Hi ✓"}}, "body.text",
                 "XK: Unicode messages are not delivered there"),
            ):  # fmt: skip
                reply = await http.post("/sms/v1/messages", json=body)
                assert (reply.status_code, reply.json()["field"], reply.json()["detail"]) == (422, field, detail)
        # A short code is numeric: accepted there.
        numeric = await _send(gw, numero="+1 201 555 0124", message="Your code 1234", emetteur="36180")
        assert numeric.startswith("0 | "), numeric
        # Mixed: France gets ACME, Canada the configured number, the US recipient alone is refused.
        mixed = await _send(
            gw, numero="0612345678,+1 201 555 0125,+1 204 555 0199", message="Your code 1234", emetteur="ACME"
        )
        assert mixed.startswith("0 | "), mixed
        sms_id = mixed.rsplit(" | ", 1)[1]

        async def delivered() -> bool:
            rows = await _messages(gw, sms_id)
            return sorted(r.code for r in rows.values()) == sorted([RECEIVED, RECEIVED, NOT_ROUTABLE])

        await wait_for(delivered, timeout=30)
        rows = await _messages(gw, sms_id)
        assert (rows["12015550125"].code, rows["12015550125"].cost) == (NOT_ROUTABLE, 0)
        sources = {m.destination.addr: m.source.addr for m in simulator.messages.values()}
        assert sources["33612345678"] == "ACME"
        assert sources["12045550199"] == "12045550143"
        assert sources["12015550124"] == "36180"
        assert "12015550123" not in sources and "12015550125" not in sources
