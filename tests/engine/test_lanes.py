"""Lanes end to end: a one-time password overtakes a campaign that saturates the carrier; accounts share a lane."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from martinet.app import account_service
from martinet.domain.credits import to_milli
from martinet.smsc import Simulator
from tests.engine.carriers import bound, carrier_config, smpp_connector
from tests.gateway import Gateway, running_gateway, wait_for

THROUGHPUT = 100


@pytest.fixture
async def carrier() -> AsyncIterator[Simulator]:
    async with Simulator(carrier_config(seed=2)) as smsc:
        yield smsc


def _settings(port: int) -> dict[str, object]:
    return {
        "connectors": [smpp_connector("carrier", port, throughput=THROUGHPUT)],
        "marketing": {"quiet_hours": {}},  # whatever the time the tests run at
    }


async def _account(gw: Gateway, login: str, lane: str) -> str:
    created = await account_service(gw.settings, gw.db).create(login, credits=to_milli(10_000), lane=lane)
    return created.token


async def _send(gw: Gateway, token: str, numbers: list[str], text: str) -> None:
    async with gw.client() as http:
        reply = await http.post(
            "/sendSMS.do", data={"accessToken": token, "numero": ",".join(numbers), "message": text}
        )
    assert reply.content.decode("iso-8859-15").startswith("0 | ")


def _arrivals(simulator: Simulator) -> list[str]:
    ordered = sorted(simulator.messages.values(), key=lambda m: m.received_monotonic_ms)
    return [m.destination.addr for m in ordered]


async def test_an_otp_overtakes_a_campaign_that_saturates_the_carrier(database_url: str, carrier: Simulator) -> None:
    async with running_gateway(database_url, **_settings(carrier.port)) as gw:
        campaign = await _account(gw, "shop", "marketing")
        bank = await _account(gw, "bank", "otp")
        await wait_for(lambda: bound(carrier), timeout=10)
        await _send(gw, campaign, [f"336{i:08d}" for i in range(30_000_000, 30_000_400)], "Soldes -50%")
        await wait_for(lambda: _received(carrier, 20), timeout=10)
        before = len(carrier.messages)
        await _send(gw, bank, ["33699999999"], "Code 482913")
        await wait_for(lambda: _has(carrier, "33699999999"), timeout=10)
        arrivals = _arrivals(carrier)
    position = arrivals.index("33699999999")
    # Only what the connector already held may go before it: about a quarter of a second of throughput.
    assert position <= before + THROUGHPUT // 2, (position, before)
    assert position < 200  # far ahead of the 400-message campaign queued before it


async def test_a_small_account_is_not_stuck_behind_a_big_campaign_in_the_same_lane(
    database_url: str, carrier: Simulator
) -> None:
    async with running_gateway(database_url, **_settings(carrier.port)) as gw:
        big = await _account(gw, "big", "marketing")
        small = await _account(gw, "small", "marketing")
        await wait_for(lambda: bound(carrier), timeout=10)
        await _send(gw, big, [f"336{i:08d}" for i in range(40_000_000, 40_000_400)], "Grande campagne")
        await wait_for(lambda: _received(carrier, 20), timeout=10)
        smalls = [f"337{i:08d}" for i in range(50_000_000, 50_000_010)]
        await _send(gw, small, smalls, "Petite campagne")
        await wait_for(lambda: _has_all(carrier, smalls), timeout=15)
        arrivals = _arrivals(carrier)
    last_small = max(arrivals.index(n) for n in smalls)
    assert last_small < 200  # served side by side with the big one, not after its 400 messages


async def _received(simulator: Simulator, count: int) -> bool:
    return len(simulator.messages) >= count


async def _has(simulator: Simulator, number: str) -> bool:
    return any(m.destination.addr == number for m in simulator.messages.values())


async def _has_all(simulator: Simulator, numbers: list[str]) -> bool:
    seen = {m.destination.addr for m in simulator.messages.values()}
    return all(n in seen for n in numbers)
