"""Long messages reach their final status whatever receipts the carrier sends for their parts.

Carriers differ: most answer each part of a concatenated message with its own ID and send a receipt per part;
some answer every part with one ID and send one receipt; some report only the first part, or only the last
(`long_message_receipts` on the connector says which). Each test sends three-part messages through a carrier of
one habit (the simulator, outcomes mixed) and checks that every part, and so every message, ends with the outcome
the carrier reported for it, and that no receipt is left unmatched.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from martinet.connectors.smpp.message_ids import IdFormat, normalise
from martinet.connectors.smpp.receipts import STATES
from martinet.domain.status import FINAL_STATES
from martinet.smsc import FinalStatus, Simulator
from martinet.store.schema import messages, parts, unmatched_receipts
from tests.engine.carriers import bound, carrier_config, smpp_connector
from tests.gateway import Gateway, running_gateway, wait_for

COUNT = 40
TEXT = "Votre rendez-vous est confirmé. " * 12  # 384 GSM characters: three parts
MIXED = {FinalStatus.DELIVRD: 0.5, FinalStatus.UNDELIV: 0.3, FinalStatus.REJECTD: 0.2}

# (the carrier's habit, the connector's setting, the connector's long-message mode)
HABITS = {
    "one ID for every part, by UDH": ("one_id", "each_part", "udh8"),
    "one ID for every part, by SAR": ("one_id", "each_part", "sar"),
    "a receipt for the first part only": ("first_part", "first_part", "udh8"),
    "a receipt for the last part only": ("last_part", "last_part", "udh16"),
    "a receipt for each part": ("each_part", "each_part", "udh8"),
}


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'martinet.db'}"


@contextlib.asynccontextmanager
async def _carrier(habit: str) -> AsyncIterator[Simulator]:
    config = carrier_config(
        outcomes=MIXED, seed=11, receipt_delay=0.02, message_id_format="decimal", long_message_receipts=habit
    )
    async with Simulator(config) as smsc:
        yield smsc


async def _all_final(gw: Gateway) -> bool:
    async with gw.db.reader.connect() as conn:
        states = (await conn.execute(select(messages.c.state))).scalars().all()
    return len(states) == COUNT and all(state in FINAL_STATES for state in states)


async def _check(gw: Gateway, smsc: Simulator) -> None:
    carried = {normalise(m.message_id, IdFormat.AUTO): m for m in smsc.messages.values()}
    query = (
        select(messages.c.id, messages.c.msisdn, messages.c.code, parts.c.carrier_id, parts.c.code)
        .join(parts, parts.c.message_id == messages.c.id)
        .order_by(parts.c.message_id, parts.c.seq)
    )
    async with gw.db.reader.connect() as conn:
        rows = (await conn.execute(query)).all()
        kept = await conn.scalar(select(func.count()).select_from(unmatched_receipts))
    assert len(rows) == 3 * COUNT
    part_codes: dict[int, list[int]] = {}
    message_codes: dict[int, int] = {}
    for message_id, msisdn, message_code, carrier_id, part_code in rows:  # parts in the order they were sent
        reported = carried[carrier_id]  # the submission whose receipt stands for this part
        assert isinstance(reported.fate, FinalStatus) and reported.destination.addr == msisdn
        assert part_code == STATES[reported.fate.stat][1], (msisdn, carrier_id)
        part_codes.setdefault(message_id, []).append(part_code)
        message_codes[message_id] = message_code
    for message_id, codes in part_codes.items():  # delivered when every part is, else its first failed part's code
        assert message_codes[message_id] == next((code for code in codes if code != 11), 11)
    assert kept == 0
    assert set(message_codes.values()) >= {11, 21, 22}


async def _run(database_url: str, habit: str, window: int = 16) -> None:
    carrier_habit, setting, mode = HABITS[habit]
    numbers = [f"336{n:08d}" for n in range(30_000_000, 30_000_000 + COUNT)]
    async with _carrier(carrier_habit) as smsc:
        connector: dict[str, Any] = smpp_connector(
            "carrier", smsc.port, window=window, long_messages=mode, long_message_receipts=setting
        )
        async with running_gateway(database_url, credits=COUNT * 10, connectors=[connector]) as gw:
            await wait_for(lambda: bound(smsc), timeout=10)
            async with gw.client() as http:
                reply = await http.post(
                    "/sendSMS.do", data={"accessToken": gw.token, "numero": ",".join(numbers), "message": TEXT}
                )
            assert reply.content.decode("iso-8859-15").startswith("0 | "), reply.text
            await wait_for(lambda: _all_final(gw), timeout=30, interval=0.1)
            await _check(gw, smsc)


@pytest.mark.parametrize("habit", list(HABITS))
async def test_every_long_message_ends_with_its_carriers_outcome(sqlite_url: str, habit: str) -> None:
    await _run(sqlite_url, habit)


@pytest.mark.parametrize("habit", ["one ID for every part, by UDH", "a receipt for the last part only"])
async def test_every_long_message_ends_with_its_carriers_outcome_on_postgresql(postgres_url: str, habit: str) -> None:
    await _run(postgres_url, habit)


@pytest.mark.parametrize("window", [1, 4])
async def test_long_messages_never_hold_every_window_slot_waiting_for_one_another(sqlite_url: str, window: int) -> None:
    """Forty three-part messages at once through windows of 1 and 4: each message keeps one slot from part to
    part until it is recorded, so none waits for a slot that only another waiting message could free."""
    await _run(sqlite_url, "a receipt for each part", window=window)
