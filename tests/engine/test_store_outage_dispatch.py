"""The database stops taking writes between a submission and its record: the carrier's answer is held, not lost.

A carrier's acceptance is a fact the engine must write (the part, its carrier ID for the receipts). Given up on,
the message stays claimed until its lease ends and then goes to the carrier a second time: a second SMS to the
handset. So the engine keeps trying while the lease keeps the message its own, and writes it once the database
takes writes again. The fault is a real one on each database (`tests.faults`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from martinet.smsc import Simulator
from martinet.store.schema import messages, parts
from tests.engine.carriers import bound, carrier_config, smpp_connector
from tests.faults import store_fault
from tests.gateway import Gateway, running_gateway, wait_for

pytestmark = pytest.mark.slow

PHONE = "33612345678"
#: Longer than the five tries over about 5 s after which the engine used to give an outcome up.
OUTAGE_S = 7.0


@pytest.fixture
async def slow_carrier() -> AsyncIterator[Simulator]:
    """A carrier that answers each submission 1 s after it reads it: time for the test to take the store away."""
    async with Simulator(carrier_config(latency=1.0, retry_delay=0.5)) as smsc:
        yield smsc


async def _send(gw: Gateway) -> None:
    async with gw.client() as http:
        reply = await http.post("/sendSMS.do", data={"accessToken": gw.token, "numero": PHONE, "message": "Code 4821"})
    assert reply.text.startswith("0 | "), reply.text


async def _final(gw: Gateway) -> tuple[str, int] | None:
    try:
        async with gw.db.reader.connect() as conn:
            row = (await conn.execute(select(messages.c.state, messages.c.id))).one_or_none()
    except DBAPIError as exc:
        if exc.connection_invalidated:  # a session the fault ended (PostgreSQL): the next try connects again
            return None
        raise
    return (row.state, row.id) if row is not None and row.state == "delivered" else None


async def test_an_answer_that_cannot_be_recorded_is_held_until_the_store_takes_it_and_sent_once(
    database_url: str, tmp_path: Path, slow_carrier: Simulator
) -> None:
    async with (
        store_fault(database_url, tmp_path) as fault,
        running_gateway(
            fault.url,
            engine={"lease_seconds": 20, "heartbeat": 0.2},
            connectors=[smpp_connector("carrier", slow_carrier.port)],
        ) as gw,
    ):
        await wait_for(lambda: bound(slow_carrier), timeout=10)
        await _send(gw)
        await wait_for(lambda: asyncio.sleep(0, result=len(slow_carrier.messages) == 1), timeout=10)
        await fault.cannot_write()  # before the carrier's answer, due 1 s after it read the submission
        await asyncio.sleep(OUTAGE_S)
        writable_from = int(time.time() * 1000)
        await fault.can_write()

        _state, message_id = await wait_for(lambda: _final(gw), timeout=40)
        async with gw.db.reader.connect() as conn:
            recorded = (
                await conn.execute(
                    select(parts.c.carrier_id, parts.c.submitted_at).where(parts.c.message_id == message_id)
                )
            ).all()

    submissions = [m for m in slow_carrier.messages.values() if m.destination.addr == PHONE]
    assert len(submissions) == 1, "the carrier received the message twice"
    ((carrier_id, submitted_at),) = recorded
    assert carrier_id == submissions[0].message_id
    # Recorded once the store took writes again, not before the outage: the answer was held through it.
    assert submitted_at >= writable_from


async def test_while_the_store_cannot_take_writes_the_claim_loops_slow_down_then_dispatch_again(
    database_url: str, tmp_path: Path, slow_carrier: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Every claim fails meanwhile (a full disk, a read-only database): each loop waits longer after each failure
    (0.25, 0.5, 1, then 2 s) instead of trying again at every wake-up and poll, and logs one traceback per run of
    failures. Messages wait to be claimed throughout: the connector may send two a second (`throughput`), so
    the lower lanes' loop has room to claim again every half second."""
    numbers = ",".join(f"336{10000000 + i}" for i in range(20))
    async with (
        store_fault(database_url, tmp_path) as fault,
        running_gateway(fault.url, connectors=[smpp_connector("carrier", slow_carrier.port, throughput=2)]) as gw,
    ):
        await wait_for(lambda: bound(slow_carrier), timeout=10)
        async with gw.client() as http:
            reply = await http.post("/sendSMS.do", data={"accessToken": gw.token, "numero": numbers, "message": "Hi"})
        assert reply.text.startswith("0 | "), reply.text
        await wait_for(lambda: asyncio.sleep(0, result=len(slow_carrier.messages) >= 1), timeout=10)
        with caplog.at_level(logging.INFO, logger="martinet.engine.dispatcher"):
            await fault.cannot_write()
            await asyncio.sleep(4.0)
            failed = [r for r in caplog.records if r.getMessage().startswith("dispatch cycle failed")]
            received = len(slow_carrier.messages)
            await fault.can_write()
            await wait_for(lambda: asyncio.sleep(0, result=len(slow_carrier.messages) >= received + 2), timeout=15)
        recovered = [r for r in caplog.records if r.getMessage().startswith("dispatch cycle succeeded again")]

    # Two loops (one-time passwords, the other lanes), each failing at most at 0, 0.25, 0.75, 1.75 and 3.75 s of
    # the 4: five each. Trying again at every wake-up and poll (50 ms), they failed 224 times under SQLite.
    assert 1 <= len(failed) <= 10, [r.getMessage() for r in failed]
    assert sum(1 for r in failed if r.exc_info is not None) <= 2  # a traceback for the first of each loop's run
    assert recovered
