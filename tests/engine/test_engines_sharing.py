"""Several engines on one PostgreSQL split the work without losing or doubling any and share each carrier's
throughput; an engine is woken by new work rather than by polling."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from martinet.app import engine
from martinet.smsc import Credential, Simulator
from martinet.store.schema import messages
from tests.engine.carriers import bound, carrier_config
from tests.gateway import Gateway, running_gateway, wait_for

THROUGHPUT = 400  # parts/s the carrier allows, and the connector is configured with


@pytest.fixture
async def carrier() -> AsyncIterator[Simulator]:
    config = carrier_config(
        credentials=(Credential("node-a", "secret"), Credential("node-b", "secret")), max_per_second=THROUGHPUT, seed=11
    )
    async with Simulator(config) as smsc:
        yield smsc


def _connector(port: int, system_id: str) -> list[dict[str, object]]:
    return [
        {
            "name": "carrier",
            "type": "smpp",
            "host": "127.0.0.1",
            "port": port,
            "system_id": system_id,
            "password": "secret",
            "throughput": THROUGHPUT,
            "reconnect_min": 0.1,
            "reconnect_max": 0.5,
        }
    ]


async def _send(gw: Gateway, numbers: list[str]) -> None:
    async with gw.client() as http:
        reply = await http.post(
            "/sendSMS.do", data={"accessToken": gw.token, "numero": ",".join(numbers), "message": "Promo -20%"}
        )
    assert reply.content.decode("iso-8859-15").startswith("0 | ")


async def test_two_engines_split_a_campaign_with_nothing_lost_or_doubled(postgres_url: str, carrier: Simulator) -> None:
    numbers = [f"336{i:08d}" for i in range(20_000_000, 20_001_200)]
    async with running_gateway(
        postgres_url,
        credits=10_000,
        engine={"node": "node-a", "heartbeat": 0.2},
        connectors=_connector(carrier.port, "node-a"),
    ) as gw:
        second = gw.settings.model_copy(
            update={
                "engine": gw.settings.engine.model_copy(update={"node": "node-b"}),
                "connectors": type(gw.settings)(connectors=_connector(carrier.port, "node-b")).connectors,
            }
        )
        stop = asyncio.Event()
        engine_b = engine(second, gw.db)
        task = asyncio.create_task(engine_b.run(stop))
        try:
            await wait_for(lambda: bound(carrier, 2), timeout=10)
            await asyncio.sleep(0.5)  # both heartbeats seen: each engine takes half the throughput
            began = time.monotonic()
            await _send(gw, numbers)
            await wait_for(lambda: _delivered(gw, len(numbers)), timeout=30)
            elapsed = time.monotonic() - began
        finally:
            stop.set()
            await task
    received = Counter(m.destination.addr for m in carrier.messages.values())
    per_engine = Counter(m.system_id for m in carrier.messages.values())
    assert set(received) == set(numbers) and max(received.values()) == 1  # each exactly once
    assert per_engine["node-a"] > 100 and per_engine["node-b"] > 100  # both took a share
    assert carrier.stats()["throttled"] == 0  # together they stayed within the carrier's limit
    assert elapsed > 0.8 * len(numbers) / THROUGHPUT  # and did not exceed it (loose: timing is noisy)


async def test_an_engine_is_woken_by_new_work_not_by_its_poll(database_url: str) -> None:
    """LISTEN/NOTIFY on PostgreSQL; on SQLite the doorbell, a datagram socket beside the database file."""
    async with running_gateway(database_url, engine={"poll_interval": 10}) as gw:
        await asyncio.sleep(0.5)  # the engine is listening and asleep for 10 s
        began = time.monotonic()
        await _send(gw, ["33612345678"])
        await wait_for(lambda: _left_queue(gw), timeout=5, interval=0.01)
        assert time.monotonic() - began < 5  # a poll would have taken up to 10 s


async def _delivered(gw: Gateway, count: int) -> bool:
    async with gw.db.reader.connect() as conn:
        done = await conn.scalar(select(func.count()).where(messages.c.state == "delivered"))
    return done == count


async def _left_queue(gw: Gateway) -> bool:
    async with gw.db.reader.connect() as conn:
        state = await conn.scalar(select(messages.c.state))
    return state not in (None, "queued")
