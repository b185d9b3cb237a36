"""Every receipt reaches the part its carrier meant, whatever the carrier's message IDs look like.

Each test sends 2,000 messages through a gateway whose SMPP connector (message_id_format "auto", no throughput
limit) reaches a carrier with one habit: decimal counters starting at 1, hex answers and decimal receipts,
zero-padded upper-case hex, UUIDs, IDs only in the receipt text or only in the TLV, receipts before the
submit_sm_resp. The carrier's outcomes are mixed (delivered, undelivered, rejected), so a receipt applied to
another part shows as a wrong final status: every message must end with exactly the status its carrier gave
the submission recorded for it, to the phone it was sent to.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from martinet.connectors.smpp.message_ids import IdFormat, normalise
from martinet.connectors.smpp.receipts import STATES
from martinet.domain.status import FINAL_STATES
from martinet.smsc import FinalStatus, Simulator
from martinet.store.schema import messages, parts, unmatched_receipts
from tests.conftest import free_port
from tests.engine.carriers import carrier_config, smpp_connector
from tests.gateway import Gateway, running_gateway, wait_for

COUNT = int(os.environ.get("HABIT_COUNT", "2000"))  # fewer for a quick look: HABIT_COUNT=200 pytest …
MIXED = {FinalStatus.DELIVRD: 0.5, FinalStatus.UNDELIV: 0.3, FinalStatus.REJECTD: 0.2}
_CODES = {stat: code for stat, (_state, code) in STATES.items()}

HABITS: dict[str, dict[str, Any]] = {
    "decimal counter from 1, receipts 10 ms after the response": {
        "message_id_format": "decimal",
        "receipt_delay": 0.01,
    },
    "decimal counter from 1, receipts before the response": {
        "message_id_format": "decimal",
        "receipt_before_response": True,
    },
    "hex responses, the same number in decimal in the receipt text only (Kannel msg-id-type)": {
        "message_id_format": "HEX",
        "message_id_width": 8,
        "receipt_text_id": "decimal",
        "receipt_tlv_id": "none",
        "receipt_delay": 0,
    },
    "upper-case zero-padded hex repeated in lower case": {
        "message_id_format": "HEX",
        "message_id_width": 8,
        "receipt_text_id": "hex",
        "receipt_tlv_id": "hex",
        "receipt_delay": 0,
    },
    "lower-case zero-padded hex": {"message_id_format": "hex", "message_id_width": 10, "receipt_delay": 0},
    "UUIDs": {"message_id_format": "UUID", "receipt_delay": 0},
    "decimal IDs only in the receipted_message_id TLV": {
        "message_id_format": "decimal",
        "receipt_text_id": "none",
        "receipt_delay": 0,
    },
    "TLV and text disagreeing in form": {
        "message_id_format": "HEX",
        "message_id_width": 8,
        "receipt_tlv_id": "same",
        "receipt_text_id": "decimal",
        "receipt_delay": 0,
    },
}


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'martinet.db'}"


@contextlib.asynccontextmanager
async def _carrier(**habit: Any) -> AsyncIterator[Simulator]:
    counter = {"message_id_start": 1} if habit["message_id_format"] in ("hex", "HEX", "decimal") else {}
    config = carrier_config(
        outcomes=MIXED, intermediate_receipt=None, seed=7, **{"receipt_delay": 0, **counter, **habit}
    )
    async with Simulator(config) as smsc:
        yield smsc


async def _send_to_many(gw: Gateway, numbers: list[str]) -> None:
    async with gw.client() as http:
        reply = await http.post(
            "/sendSMS.do", data={"accessToken": gw.token, "numero": ",".join(numbers), "message": "Votre code"}
        )
    assert reply.content.decode("iso-8859-15").startswith("0 | "), reply.text


async def _all_final(gw: Gateway) -> bool:
    async with gw.db.reader.connect() as conn:
        states = (await conn.execute(select(messages.c.state))).scalars().all()
    return len(states) == COUNT and all(state in FINAL_STATES for state in states)


async def _recorded(gw: Gateway) -> list[Any]:
    """(msisdn, code, carrier_id) of every message's part."""
    query = select(messages.c.msisdn, messages.c.code, parts.c.carrier_id).join(
        parts, parts.c.message_id == messages.c.id
    )
    async with gw.db.reader.connect() as conn:
        return list((await conn.execute(query)).all())


async def _check_every_receipt_went_to_its_part(gw: Gateway, smsc: Simulator) -> None:
    carried = {normalise(m.message_id, IdFormat.AUTO): m for m in smsc.messages.values()}
    rows = await _recorded(gw)
    async with gw.db.reader.connect() as conn:
        kept = (await conn.execute(select(unmatched_receipts.c.carrier_id))).scalars().all()
    assert len(rows) == COUNT
    wrong = []
    for row in rows:
        submission = carried[row.carrier_id]
        assert isinstance(submission.fate, FinalStatus)
        expected = STATES[submission.fate.stat][1]
        if submission.destination.addr != row.msisdn or row.code != expected:
            wrong.append((row.msisdn, row.carrier_id, row.code, submission.destination.addr, expected))
    assert wrong == [], f"{len(wrong)} messages got another part's receipt, e.g. {wrong[:5]}"
    assert kept == []
    assert {row.code for row in rows} >= {11, 21, 22}  # the mix reached the messages


async def _run(database_url: str, **habit: Any) -> None:
    numbers = [f"336{n:08d}" for n in range(20_000_000, 20_000_000 + COUNT)]
    async with _carrier(**habit) as smsc:
        connectors = [smpp_connector("carrier", smsc.port, window=64)]
        async with running_gateway(database_url, credits=COUNT * 2, connectors=connectors) as gw:
            await wait_for(lambda: _bound(smsc), timeout=10)
            await _send_to_many(gw, numbers)
            await wait_for(lambda: _all_final(gw), timeout=90, interval=0.2)
            await asyncio.sleep(0.2)  # a receipt misapplied after the last final one would show now
            await _check_every_receipt_went_to_its_part(gw, smsc)


async def _bound(smsc: Simulator) -> bool:
    return int(smsc.stats()["active_binds"]) >= 1


@pytest.mark.slow
@pytest.mark.parametrize("habit", list(HABITS))
async def test_every_receipt_reaches_its_part(sqlite_url: str, habit: str) -> None:
    await _run(sqlite_url, **HABITS[habit])


@pytest.mark.slow
@pytest.mark.parametrize(
    "habit",
    [
        "decimal counter from 1, receipts before the response",
        "hex responses, the same number in decimal in the receipt text only (Kannel msg-id-type)",
    ],
)
async def test_every_receipt_reaches_its_part_on_postgresql(postgres_url: str, habit: str) -> None:
    await _run(postgres_url, **HABITS[habit])


class _Smpp34Carrier:
    """smpp34's SMSC (an independent SMPP implementation) as a carrier: a decimal counter from 1 in
    submit_sm_resp, each receipt sent the moment the response is, outcomes alternating by ID."""

    STATS = ("DELIVRD", "UNDELIV", "REJECTD")
    STATE_VALUES: ClassVar[dict[str, int]] = {"DELIVRD": 2, "UNDELIV": 5, "REJECTD": 8}

    def __init__(self, smpp34: Any, port: int) -> None:
        self._smpp34 = smpp34
        self.server = smpp34.Server(host="127.0.0.1", port=port, system_id="Carrier34")
        self.submitted: dict[str, tuple[str, str]] = {}  # ID -> (destination, stat)
        self.bound = asyncio.Event()
        self._receipts: set[asyncio.Future[Any]] = set()

    async def run(self) -> None:
        smpp34 = self._smpp34
        sessions: dict[Any, Any] = {}
        while True:
            event = await self.server.next()
            if isinstance(event, smpp34.Esme):
                sessions[event.session_id] = event
                self.bound.set()
            elif isinstance(event, smpp34.SubmitSmEvent):
                message_id = str(len(self.submitted) + 1)
                stat = self.STATS[len(self.submitted) % 3]
                self.submitted[message_id] = (event.destination_addr, stat)
                event.accept(message_id=message_id)
                text = f"id:{message_id} sub:001 dlvrd:001 submit date:2612031200 done date:2612031200 stat:{stat} err:000 text:"
                task = asyncio.ensure_future(  # smpp34 hands back a future, not a coroutine
                    sessions[event.session_id].deliver_sm(
                        event.source_addr,
                        text.encode(),
                        source_addr=event.destination_addr,
                        esm_class=0x04,
                        tlvs=[
                            smpp34.Tlv(smpp34.TLV_RECEIPTED_MESSAGE_ID, message_id.encode() + b"\0"),
                            smpp34.Tlv(smpp34.TLV_MESSAGE_STATE, bytes((self.STATE_VALUES[stat],))),
                        ],
                    )
                )
                self._receipts.add(task)
                task.add_done_callback(self._receipts.discard)


@pytest.mark.slow
async def test_every_receipt_reaches_its_part_with_smpp34_as_the_carrier(sqlite_url: str) -> None:
    smpp34 = pytest.importorskip("smpp34")
    port = free_port()
    carrier = _Smpp34Carrier(smpp34, port)
    await carrier.server.start()
    task = asyncio.create_task(carrier.run())
    numbers = [f"336{n:08d}" for n in range(30_000_000, 30_000_000 + COUNT)]
    try:
        connectors = [smpp_connector("carrier", port, window=64)]
        async with running_gateway(sqlite_url, credits=COUNT * 2, connectors=connectors) as gw:
            await asyncio.wait_for(carrier.bound.wait(), 10)
            await _send_to_many(gw, numbers)
            await wait_for(lambda: _all_final(gw), timeout=90, interval=0.2)
            rows = await _recorded(gw)
    finally:
        task.cancel()
        await carrier.server.stop()
    assert len(rows) == COUNT
    wrong = [
        row
        for row in rows
        if carrier.submitted[row.carrier_id] != (row.msisdn, next(s for s, c in _CODES.items() if c == row.code))
    ]
    assert wrong == [], f"{len(wrong)} messages got another part's receipt, e.g. {wrong[:5]}"
