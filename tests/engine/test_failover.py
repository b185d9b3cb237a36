"""Failover at dispatch, over SMPP to two simulators acting as carriers: a primary and a backup.

No routes are configured, so every message may take the carriers in configuration order: the primary, then the
backup. Killing the primary mid-campaign must lose nothing and send nothing twice to a carrier that took it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from martinet.domain.status import FINAL_STATES
from martinet.smsc import Simulator, SimulatorConfig
from martinet.store.schema import accounts, messages, parts, status_history
from tests.conftest import free_port
from tests.engine.carriers import carrier_config, smpp_connector
from tests.gateway import Gateway, running_gateway, wait_for

PRIMARY_TEST_PREFIX = "3375999"  # 07 59 99 00 06 is refused (ESME_RSUBMITFAIL, temporary) by the primary only


def _simulator_config(test_prefix: str) -> SimulatorConfig:
    return carrier_config(receipt_delay=0.02, retry_delay=0.2, test_prefix=test_prefix, seed=5)


@pytest.fixture
async def primary() -> AsyncIterator[Simulator]:
    async with Simulator(_simulator_config(PRIMARY_TEST_PREFIX)) as smsc:
        yield smsc


@pytest.fixture
async def backup() -> AsyncIterator[Simulator]:
    async with Simulator(_simulator_config("3375888")) as smsc:
        yield smsc


def _smpp(name: str, port: int, **extra: Any) -> dict[str, Any]:
    return smpp_connector(name, port, reconnect_min=0.2, response_timeout=2, **extra)


async def _send(gw: Gateway, numbers: list[str], text: str = "Votre commande est partie") -> str:
    async with gw.client() as http:
        reply = await http.post(
            "/sendSMS.do", data={"accessToken": gw.token, "numero": ",".join(numbers), "message": text}
        )
    answer = reply.content.decode("iso-8859-15")
    assert answer.startswith("0 | "), answer
    return answer.rsplit(" | ", 1)[1]


async def _states(gw: Gateway) -> Counter[str]:
    async with gw.db.reader.connect() as conn:
        rows = await conn.execute(select(messages.c.state, func.count()).group_by(messages.c.state))
        return Counter({row[0]: row[1] for row in rows})


async def test_killing_the_primary_mid_campaign_loses_nothing_and_sends_nothing_twice(
    database_url: str, primary: Simulator, backup: Simulator
) -> None:
    numbers = [f"336{i:08d}" for i in range(10_000_000, 10_000_600)]
    connectors = [_smpp("primary", primary.port, throughput=300), _smpp("backup", backup.port, throughput=300)]
    async with running_gateway(database_url, credits=10_000, connectors=connectors) as gw:
        await wait_for(lambda: _bound(primary, backup), timeout=10)
        await _send(gw, numbers)
        await wait_for(lambda: _at_least(primary, 150), timeout=15)
        await primary.stop()  # the carrier dies: binds cut, owed receipts gone
        taken_by_primary = {m.destination.addr for m in primary.messages.values()}

        async def settled() -> bool:
            states = await _states(gw)
            return sum(states[s] for s in FINAL_STATES) + states["sent"] == len(numbers) and not (
                states["queued"] or states["submitting"]
            )

        await wait_for(settled, timeout=30)
        await wait_for(lambda: _backup_done(gw, len(numbers) - len(taken_by_primary)), timeout=15)
        await wait_for(lambda: _no_backup_pending(gw), timeout=15)
        async with gw.db.reader.connect() as conn:
            recorded = (
                await conn.execute(
                    select(messages.c.msisdn, parts.c.connector, messages.c.state).join(
                        parts, parts.c.message_id == messages.c.id
                    )
                )
            ).all()
    by_backup = Counter(m.destination.addr for m in backup.messages.values())
    recorded_on_primary = {r.msisdn for r in recorded if r.connector == "primary"}
    assert len(recorded) == len(numbers)  # one part each, every message submitted once somewhere
    assert max(by_backup.values()) == 1  # the backup never got a message twice
    assert not recorded_on_primary & set(by_backup)  # nothing the primary acknowledged went to the backup
    assert {r.msisdn for r in recorded if r.connector == "backup"} == set(by_backup)
    assert recorded_on_primary <= taken_by_primary
    assert all(r.state == "delivered" for r in recorded if r.connector == "backup")
    # A message the primary acknowledged keeps status "sent" when its receipt died with the primary: the
    # gateway cannot know whether it was delivered, and does not pretend to.
    assert all(r.state in ("delivered", "sent") for r in recorded if r.connector == "primary")


async def test_a_temporary_refusal_moves_the_message_to_the_backup(
    database_url: str, primary: Simulator, backup: Simulator
) -> None:
    connectors = [_smpp("primary", primary.port), _smpp("backup", backup.port)]
    async with running_gateway(database_url, connectors=connectors) as gw:
        await wait_for(lambda: _bound(primary, backup), timeout=10)
        await _send(gw, [f"{PRIMARY_TEST_PREFIX}0006", "33612345678"])
        await wait_for(lambda: _count_state(gw, "delivered", 2), timeout=15)
        async with gw.db.reader.connect() as conn:
            where = dict((await conn.execute(select(messages.c.msisdn, messages.c.connector))).all())
    assert where == {f"{PRIMARY_TEST_PREFIX}0006": "backup", "33612345678": "primary"}
    assert primary.stats()["refused"] == 1


async def test_repeated_refusals_rest_the_primary_until_a_probe_finds_it_working(
    database_url: str, primary: Simulator, backup: Simulator
) -> None:
    connectors = [_smpp("primary", primary.port), _smpp("backup", backup.port)]
    refused_by_primary = f"{PRIMARY_TEST_PREFIX}0006"
    async with running_gateway(
        database_url, connectors=connectors, engine={"breaker_failures": 3, "breaker_rest": 2.0}
    ) as gw:
        await wait_for(lambda: _bound(primary, backup), timeout=10)
        for _ in range(3):  # three temporary refusals in a row: the primary's breaker opens
            await _send(gw, [refused_by_primary])
        await wait_for(lambda: _count_state(gw, "delivered", 3), timeout=15)
        resting = await _send(gw, ["33612345678"])  # the primary would take it, but it rests
        await wait_for(lambda: _count_state(gw, "delivered", 4), timeout=15)
        submitted_while_resting = primary.stats()["submitted"]
        await asyncio.sleep(2.2)  # the rest is over: the next message is the probe
        probe = await _send(gw, ["33612345679"])
        await wait_for(lambda: _count_state(gw, "delivered", 5), timeout=15)
        after = await _send(gw, ["33612345670"])  # the probe succeeded: the breaker is closed again
        await wait_for(lambda: _count_state(gw, "delivered", 6), timeout=15)
        async with gw.db.reader.connect() as conn:
            where = dict((await conn.execute(select(messages.c.send_id, messages.c.connector))).all())
    assert primary.stats()["refused"] == 3 and submitted_while_resting == 0
    assert (where[resting], where[probe], where[after]) == ("backup", "primary", "primary")


async def test_a_carrier_throttling_beyond_the_deadline_passes_its_messages_to_the_backup(
    database_url: str, backup: Simulator
) -> None:
    numbers = [f"336{i:08d}" for i in range(20_000_000, 20_000_008)]
    slow = carrier_config(max_per_second=1, burst=1, receipt_delay=0.02, seed=7)
    async with Simulator(slow) as primary:
        connectors = [
            _smpp("primary", primary.port, throttle_retry=0.1, throttle_deadline=0.3),
            _smpp("backup", backup.port),
        ]
        async with running_gateway(database_url, credits=100, connectors=connectors) as gw:
            await wait_for(lambda: _bound(primary, backup), timeout=10)
            await _send(gw, numbers)
            await wait_for(lambda: _count_state(gw, "delivered", len(numbers)), timeout=20)
            async with gw.db.reader.connect() as conn:
                where = dict((await conn.execute(select(messages.c.msisdn, messages.c.connector))).all())
        on_primary = {m.destination.addr for m in primary.messages.values()}
        throttled = primary.stats()["throttled"]
    on_backup = Counter(m.destination.addr for m in backup.messages.values())
    assert throttled >= 1  # the primary did answer ESME_RTHROTTLED
    assert on_backup and max(on_backup.values()) == 1
    assert not on_primary & set(on_backup)  # a message the primary took never went to the backup too
    assert on_primary | set(on_backup) == set(numbers)
    assert {n for n, c in where.items() if c == "backup"} == set(on_backup)


async def test_a_message_no_carrier_takes_expires_at_the_end_of_its_validity_and_is_refunded(
    database_url: str,
) -> None:
    closed_port = free_port()
    async with running_gateway(
        database_url,
        credits=100,
        connectors=[_smpp("down", closed_port)],
        lanes={"notification": {"validity": 1.5}},
    ) as gw:
        await _send(gw, ["33612345678"])
        await wait_for(lambda: _count_state(gw, "expired", 1), timeout=10)
        async with gw.db.reader.connect() as conn:
            code = await conn.scalar(select(messages.c.code))
            balance = await conn.scalar(select(accounts.c.balance).where(accounts.c.login == "acme"))
            history = (await conn.execute(select(status_history.c.state).order_by(status_history.c.id))).scalars()
            states = list(history)
    assert code == 37
    assert balance == 100_000  # millicredits: the debit was refunded
    assert states == ["queued", "expired"]


async def _bound(*simulators: Simulator) -> bool:
    return all(s.stats()["active_binds"] >= 1 for s in simulators)


async def _at_least(simulator: Simulator, count: int) -> bool:
    return len(simulator.messages) >= count


async def _backup_done(gw: Gateway, at_least: int) -> bool:
    return (await _states(gw))["delivered"] >= at_least


async def _no_backup_pending(gw: Gateway) -> bool:
    async with gw.db.reader.connect() as conn:
        waiting = await conn.scalar(
            select(func.count()).where(messages.c.connector == "backup", messages.c.state != "delivered")
        )
    return waiting == 0


async def _count_state(gw: Gateway, state: str, count: int) -> bool:
    return (await _states(gw))[state] >= count
