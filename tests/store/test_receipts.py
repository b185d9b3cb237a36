"""Receipts in the store: applied to the part their carrier meant and to no other, kept until then, applied once.

Each test runs on SQLite and on PostgreSQL. Parts are recorded with the IDs and phones a carrier would give, and
receipts arrive before, after or while their part is recorded.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from sqlalchemy import Select, func, select
from sqlalchemy.engine import Connection

from martinet.domain.receipts import Receipt
from martinet.domain.status import State
from martinet.store.claims import ClaimCursor
from martinet.store.database import Database, open_database
from martinet.store.dispatch import DispatchOutcome, DispatchStore, Submitted
from martinet.store.migrate import upgrade
from martinet.store.receipts import KeptReceipts, ReceiptStore, _PartRow, _parts_of_connectors, apply_receipts
from martinet.store.schema import messages, parts, status_history, unmatched_receipts
from tests.store.support import queue_send

NOW = 1_700_000_000_000
ALICE, BOB, CAROL = "33611111111", "33622222222", "33633333333"


def _clock() -> int:
    return NOW


def test_the_part_rows_read_by_position_name_the_columns_of_their_query() -> None:
    for connectors in (1, 2):
        statement = _parts_of_connectors(connectors).statement
        assert isinstance(statement, Select)
        assert _PartRow._fields == tuple(statement.selected_columns.keys())


async def _messages(db: Database, phones: list[str]) -> dict[str, int]:
    """Queued messages to `phones` (one each), claimed; returns message id by phone."""
    await queue_send(db, _clock, phones)
    claimed, _ = await DispatchStore(db, _clock).claim(
        "node-a:1", lease_ms=60_000, budgets={"otp": 100}, shared_budget=100, cursor=ClaimCursor.new()
    )
    async with db.reader.connect() as conn:
        rows = (await conn.execute(select(messages.c.id, messages.c.msisdn))).all()
    assert len(claimed) == len(phones)
    return {row.msisdn: row.id for row in rows}


async def _record(db: Database, ids: dict[str, int], phone: str, carrier_id: str) -> None:
    await DispatchStore(db, _clock).record(DispatchOutcome(submitted=[Submitted(ids[phone], "carrier", (carrier_id,))]))


async def _states(db: Database) -> dict[str, tuple[str, int]]:
    async with db.reader.connect() as conn:
        rows = (await conn.execute(select(messages.c.msisdn, messages.c.state, messages.c.code))).all()
    return {row.msisdn: (row.state, row.code) for row in rows}


async def _kept_rows(db: Database) -> int:
    async with db.reader.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(unmatched_receipts)) or 0)


async def _history_of(db: Database, message_id: int) -> list[tuple[str, int]]:
    async with db.reader.connect() as conn:
        rows = await conn.execute(
            select(status_history.c.state, status_history.c.code)
            .where(status_history.c.message_id == message_id)
            .order_by(status_history.c.id)
        )
        return [(row.state, row.code) for row in rows]


def _delivered(carrier_id: str, handset: str | None = None, *alternatives: tuple[str, str]) -> Receipt:
    return Receipt(
        "carrier", carrier_id, State.DELIVERED, 11, NOW + 10, f"id:{carrier_id} stat:DELIVRD", alternatives, handset
    )


def _undelivered(carrier_id: str, handset: str | None = None, *alternatives: tuple[str, str]) -> Receipt:
    return Receipt(
        "carrier", carrier_id, State.UNDELIVERED, 21, NOW + 10, f"id:{carrier_id} stat:UNDELIV", alternatives, handset
    )


# The readings of the receipt ID "272" (connectors.smpp.message_ids): the part 272, 0x110 written in decimal,
# or 626 written in hex.
UNCERTAIN_272 = (("decimal", "110"), ("hex", "626"))


async def test_a_receipt_before_its_part_is_recorded_is_applied_when_it_is_once(db: Database) -> None:
    ids = await _messages(db, [ALICE])
    receipts = ReceiptStore(db, _clock)
    assert await receipts.apply([_delivered("abc123", ALICE)]) == 0
    assert await receipts.kept() == {"carrier": KeptReceipts(1, 0)}
    await _record(db, ids, ALICE, "abc123")
    assert (await _states(db))[ALICE] == ("delivered", 11)
    assert await _kept_rows(db) == 0
    assert await receipts.settle({}) == 0
    assert await _history_of(db, ids[ALICE]) == [("queued", 1), ("sent", 0), ("delivered", 11)]


async def test_a_receipt_kept_while_its_part_was_being_recorded_is_applied_once_by_concurrent_sweeps(
    db: Database,
) -> None:
    """The PostgreSQL race: the receipt's transaction could not see the part, committed meanwhile, so neither
    transaction matched them; the sweep does, once, however many engines sweep at the same time."""
    ids = await _messages(db, [ALICE])
    await _record(db, ids, ALICE, "f00d")
    async with db.write() as conn:  # kept aside as if the part had not been visible
        await conn.execute(
            unmatched_receipts.insert().values(
                connector="carrier", carrier_id="f00d", received_at=NOW, state="delivered", code=11, detail=""
            )
        )
    engines = [ReceiptStore(db, _clock) for _ in range(3)]
    applied = await asyncio.gather(*(engine.settle({}) for engine in engines))
    assert sum(applied) == 1
    assert await _history_of(db, ids[ALICE]) == [("queued", 1), ("sent", 0), ("delivered", 11)]


async def test_an_uncertain_receipt_is_never_applied_to_another_phones_part(db: Database) -> None:
    """Receipt "272" for Bob arrives before Bob's part 272 is recorded; Alice's part 110 (0x110 = 272) exists.
    Trying the other reading would deliver Alice's message with Bob's receipt."""
    ids = await _messages(db, [ALICE, BOB])
    await _record(db, ids, ALICE, "110")
    receipts = ReceiptStore(db, _clock)
    assert await receipts.apply([_undelivered("272", BOB, *UNCERTAIN_272)]) == 0
    assert await receipts.kept() == {"carrier": KeptReceipts(1, 1)}
    assert await receipts.settle({}) == 0
    assert (await _states(db))[ALICE] == ("sent", 0)
    await _record(db, ids, BOB, "272")
    assert await _states(db) == {ALICE: ("sent", 0), BOB: ("undelivered", 21)}
    assert await _kept_rows(db) == 0


async def test_an_uncertain_receipt_whose_handset_singles_out_its_literal_part_is_applied(db: Database) -> None:
    ids = await _messages(db, [ALICE, BOB])
    await _record(db, ids, ALICE, "110")
    await _record(db, ids, BOB, "272")
    assert await ReceiptStore(db, _clock).apply([_delivered("272", BOB, *UNCERTAIN_272)]) == 1
    assert await _states(db) == {ALICE: ("sent", 0), BOB: ("delivered", 11)}


async def test_an_uncertain_receipt_naming_another_reading_of_the_same_phone_waits(db: Database) -> None:
    """Only one part among the readings is Bob's, but it is not the literal one and the literal part is not
    recorded: it may simply not be recorded yet, so the receipt waits."""
    ids = await _messages(db, [BOB, CAROL])
    await _record(db, ids, BOB, "110")
    receipts = ReceiptStore(db, _clock)
    assert await receipts.apply([_delivered("272", BOB, *UNCERTAIN_272)]) == 0
    assert (await _states(db))[BOB] == ("sent", 0)
    # Once the literal part is known to be another phone's (Carol's), Bob's part is the only one it can mean:
    # recording Carol's part settles it.
    await _record(db, ids, CAROL, "272")
    assert await _states(db) == {BOB: ("delivered", 11), CAROL: ("sent", 0)}


async def test_hex_responses_and_decimal_receipts_match_by_handset(db: Database) -> None:
    """Kannel's msg-id-type case: the response said 00000010 (stored "10"), the receipt says 16, which is also
    the literal ID of another phone's part (0x16)."""
    ids = await _messages(db, [ALICE, CAROL])
    await _record(db, ids, ALICE, "10")
    await _record(db, ids, CAROL, "16")
    applied = await ReceiptStore(db, _clock).apply([_undelivered("16", ALICE, ("decimal", "10"), ("hex", "22"))])
    assert applied == 1
    assert await _states(db) == {ALICE: ("undelivered", 21), CAROL: ("sent", 0)}


async def test_uncertain_receipts_without_a_handset_wait_for_the_learned_reading(db: Database) -> None:
    ids = await _messages(db, [ALICE, BOB])
    await _record(db, ids, ALICE, "110")
    await _record(db, ids, BOB, "272")
    receipts = ReceiptStore(db, _clock)
    assert await receipts.apply([_delivered("272", None, *UNCERTAIN_272)]) == 0
    assert await receipts.settle({}) == 0  # nothing tells 272 from 0x110 yet
    assert await receipts.settle({"carrier": "decimal"}) == 1  # the connector learned: decimal receipts
    assert await _states(db) == {ALICE: ("delivered", 11), BOB: ("sent", 0)}
    assert await _kept_rows(db) == 0


async def test_a_certain_receipt_goes_to_the_newest_part_still_waiting_when_counters_wrapped(db: Database) -> None:
    ids = await _messages(db, [ALICE, BOB])
    receipts = ReceiptStore(db, _clock)
    await _record(db, ids, ALICE, "5")
    assert await receipts.apply([_delivered("5")]) == 1
    await _record(db, ids, BOB, "5")  # the SMSC restarted and counts from 1 again
    assert await receipts.apply([_undelivered("5")]) == 1
    assert await _states(db) == {ALICE: ("delivered", 11), BOB: ("undelivered", 21)}


async def test_receipts_that_never_find_their_part_are_kept_visible_then_forgotten(db: Database) -> None:
    ids = await _messages(db, [ALICE])
    await _record(db, ids, ALICE, "1")
    receipts = ReceiptStore(db, _clock)
    await receipts.apply([_delivered("999"), _delivered("272", BOB, *UNCERTAIN_272)])
    assert await receipts.kept() == {"carrier": KeptReceipts(2, 1)}
    assert await receipts.expire_kept(ttl_ms=60_000) == {}  # not old enough
    later = ReceiptStore(db, lambda: NOW + 61_000)
    assert await later.expire_kept(ttl_ms=60_000) == {"carrier": 2}
    assert await later.kept() == {}
    assert await _kept_rows(db) == 0
    async with db.reader.connect() as conn:
        assert await conn.scalar(select(parts.c.state)) == "sent"  # never applied elsewhere


async def test_a_kept_intermediate_receipt_is_not_overtaken_by_the_final_one(db: Database) -> None:
    """On PostgreSQL an intermediate receipt can be kept because its part's recording was not visible yet, and
    the final receipt then arrive once it is: the intermediate status still comes first in the history."""
    ids = await _messages(db, [ALICE])
    await _record(db, ids, ALICE, "abc")
    async with db.write() as conn:  # kept aside as if the part had not been visible
        await conn.execute(
            unmatched_receipts.insert().values(
                connector="carrier", carrier_id="abc", received_at=NOW + 5, state="sent", code=13, detail="ENROUTE"
            )
        )
    assert await ReceiptStore(db, _clock).apply([_delivered("abc")]) == 2
    assert await _history_of(db, ids[ALICE]) == [("queued", 1), ("sent", 0), ("sent", 13), ("delivered", 11)]
    assert await _kept_rows(db) == 0


async def test_a_kept_intermediate_receipt_is_not_overtaken_by_a_deadlines_conclusion(db: Database) -> None:
    """The same, when the final status is the receipt deadline's conclusion, which names its part by id."""
    ids = await _messages(db, [ALICE])
    await _record(db, ids, ALICE, "abc")
    async with db.write() as conn:
        await conn.execute(
            unmatched_receipts.insert().values(
                connector="carrier", carrier_id="abc", received_at=NOW + 5, state="sent", code=13, detail="ENROUTE"
            )
        )
        part_id = await conn.scalar(select(parts.c.id).where(parts.c.message_id == ids[ALICE]))
    concluded = Receipt("carrier", "abc", State.UNDELIVERED, 3599, NOW + 20, "no receipt", part_id=part_id)
    assert await ReceiptStore(db, _clock).apply([concluded]) == 2
    assert await _history_of(db, ids[ALICE]) == [("queued", 1), ("sent", 0), ("sent", 13), ("undelivered", 3599)]
    assert await _kept_rows(db) == 0


async def test_two_engines_applying_receipts_of_one_part_at_once_take_turns(postgres_url: str) -> None:
    """PostgreSQL: one engine applies the final receipt while another applies a late intermediate one for the same
    part (a carrier redelivering to both after a restart); the intermediate one must not undo the final one."""
    first, second = open_database(postgres_url), open_database(postgres_url)
    try:
        await upgrade(first)
        ids = await _messages(first, [ALICE])
        await _record(first, ids, ALICE, "c1")
        late = Receipt("carrier", "c1", State.SENT, 13, NOW + 20, "id:c1 stat:ENROUTE")
        async with first.writer.begin() as conn:
            await conn.run_sync(lambda sync: apply_receipts(sync, [_delivered("c1")], NOW))
            other = asyncio.create_task(second.run_write(lambda sync: apply_receipts(sync, [late], NOW)))
            await asyncio.sleep(0.5)  # the second engine is now waiting for this transaction
        await other
        assert (await _states(first))[ALICE] == ("delivered", 11)
        assert await _history_of(first, ids[ALICE]) == [("queued", 1), ("sent", 0), ("delivered", 11)]
    finally:
        await first.dispose()
        await second.dispose()


async def test_receipts_take_their_write_turn_before_writers_already_waiting(tmp_path: Path) -> None:
    """SQLite: a carrier waits for its receipts to be acknowledged, and they are only once committed, so an
    engine applies them before its other writes already waiting for their turn (claims, heartbeats)."""
    db = open_database(f"sqlite:///{tmp_path / 'turns.db'}")
    try:
        await upgrade(db)
        ids = await _messages(db, [ALICE])
        await _record(db, ids, ALICE, "c1")
        holder_may_finish = threading.Event()
        seen_by_the_waiting_writer: list[str] = []

        def waiting_writer(conn: Connection) -> None:
            seen_by_the_waiting_writer.append(conn.scalar(select(messages.c.state).where(messages.c.id == ids[ALICE])))

        holder = asyncio.create_task(db.run_write(lambda conn: holder_may_finish.wait(10)))
        await asyncio.sleep(0)  # the holder has the turn
        waiting = asyncio.create_task(db.run_write(waiting_writer))
        await asyncio.sleep(0)  # it waits for the turn
        receipts = asyncio.create_task(ReceiptStore(db, _clock).apply([_delivered("c1")]))
        await asyncio.sleep(0)
        holder_may_finish.set()
        await asyncio.gather(holder, waiting, receipts)

        assert seen_by_the_waiting_writer == ["delivered"]
    finally:
        await db.dispose()


async def test_a_receipt_settles_every_part_its_carrier_gave_the_same_id(db: Database) -> None:
    """Some SMSCs answer every part of a concatenated message with one message ID and send one receipt for it:
    that receipt is about every one of those parts, and only those."""
    ids = await _messages(db, [ALICE, BOB])
    store = DispatchStore(db, _clock)
    await store.record(DispatchOutcome(submitted=[Submitted(ids[ALICE], "carrier", ("77", "77", "77"))]))
    await store.record(DispatchOutcome(submitted=[Submitted(ids[BOB], "carrier", ("78", "79"))]))
    receipts = ReceiptStore(db, _clock)
    intermediate = Receipt("carrier", "77", State.SENT, 13, NOW + 5, "id:77 stat:ENROUTE")
    assert await receipts.apply([intermediate, _delivered("77"), _delivered("78")]) == 3 + 3 + 1
    # Bob's second part has its own ID and no receipt yet: his message is partly delivered (12).
    assert await _states(db) == {ALICE: ("delivered", 11), BOB: ("sent", 12)}
    assert await _history_of(db, ids[ALICE]) == [("queued", 1), ("sent", 0), ("sent", 13), ("delivered", 11)]
    async with db.reader.connect() as conn:
        rows = (await conn.execute(select(parts.c.state).where(parts.c.message_id == ids[ALICE]))).scalars().all()
    assert rows == ["delivered"] * 3
