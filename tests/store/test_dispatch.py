"""The dispatcher's side of the store: claims, leases, receipts that race their submission, nodes taking work back."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from martinet.domain.receipts import Receipt
from martinet.domain.status import State
from martinet.store.claims import ClaimCursor, ClaimedMessage
from martinet.store.database import Database, cannot_write_now
from martinet.store.dispatch import DispatchOutcome, DispatchStore, Retry, Submitted
from martinet.store.receipts import ReceiptStore
from martinet.store.scheduler import ScheduleStore
from martinet.store.schema import messages, parts, status_history, unmatched_receipts
from tests.store.support import queue_send

NOW = 1_700_000_000_000


def _clock() -> int:
    return NOW


async def _queued_message(db: Database) -> None:
    await queue_send(db, _clock, ["33612345678"])


async def _claim(queue: DispatchStore, owner: str, limit: int = 10) -> list[ClaimedMessage]:
    claimed, _contents = await queue.claim(
        owner,
        lease_ms=60_000,
        budgets={"otp": limit, "notification": limit, "marketing": limit},
        shared_budget=limit,
        cursor=ClaimCursor.new(),
    )
    return claimed


async def _message(db: Database) -> tuple[str, int]:
    async with db.reader.connect() as conn:
        row = (await conn.execute(select(messages.c.state, messages.c.code))).one()
    return row.state, row.code


async def test_a_receipt_that_arrives_before_its_submission_is_recorded_is_applied(db: Database) -> None:
    await _queued_message(db)
    queue = DispatchStore(db, _clock)
    (claimed,) = await _claim(queue, "node-a:1")
    # The carrier answers so fast that its final receipt is stored before the submission.
    receipts = ReceiptStore(db, _clock)
    assert await receipts.apply([Receipt("carrier", "abc123", State.DELIVERED, 11, NOW, "stat:DELIVRD")]) == 0
    await queue.record(DispatchOutcome(submitted=[Submitted(claimed.id, "carrier", ("abc123",))]))
    assert await _message(db) == ("delivered", 11)
    async with db.reader.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(unmatched_receipts)) == 0


async def test_a_restarted_node_takes_back_its_own_claims_but_not_others(db: Database) -> None:
    await _queued_message(db)
    queue = DispatchStore(db, _clock)
    assert len(await _claim(queue, "node-a:1")) == 1
    assert await _claim(queue, "node-b:7") == []  # leased: nobody else may take it
    assert await queue.release_leases("node-b") == 0
    assert await queue.release_leases("node-a") == 1
    (again,) = await _claim(queue, "node-a:2")
    assert again.attempts == 2


async def test_an_expired_lease_lets_another_node_take_the_message(db: Database) -> None:
    await _queued_message(db)
    assert len(await _claim(DispatchStore(db, _clock), "node-a:1")) == 1
    assert await ScheduleStore(db, lambda: NOW + 61_000).take_back_abandoned() == 1  # the scheduler's sweep
    (taken,) = await _claim(DispatchStore(db, lambda: NOW + 61_000), "node-b:7")
    assert taken.attempts == 2


async def test_a_receipt_kept_aside_is_applied_once_its_part_is_known(db: Database) -> None:
    """The PostgreSQL race: the receipt's transaction did not see the part, which was committed meanwhile."""
    await _queued_message(db)
    queue = DispatchStore(db, _clock)
    (claimed,) = await _claim(queue, "node-a:1")
    await queue.record(DispatchOutcome(submitted=[Submitted(claimed.id, "carrier", ("f00d",))]))
    async with db.write() as conn:  # kept aside as if the part had not been visible
        await conn.execute(
            unmatched_receipts.insert().values(
                connector="carrier", carrier_id="f00d", received_at=NOW, state="delivered", code=11, detail=""
            )
        )
    receipts = ReceiptStore(db, _clock)
    assert await receipts.settle({}) == 1
    assert await _message(db) == ("delivered", 11)
    assert await receipts.settle({}) == 0


async def test_an_intermediate_and_a_final_receipt_in_one_batch_are_both_recorded(db: Database) -> None:
    await _queued_message(db)
    queue = DispatchStore(db, _clock)
    (claimed,) = await _claim(queue, "node-a:1")
    await queue.record(DispatchOutcome(submitted=[Submitted(claimed.id, "carrier", ("abc123",))]))
    # A busy receipt writer hands both reports of the part over in one batch: each is a status change.
    together = [
        Receipt("carrier", "abc123", State.SENT, 13, NOW + 50, "stat:ENROUTE"),
        Receipt("carrier", "abc123", State.DELIVERED, 11, NOW + 100, "stat:DELIVRD"),
    ]
    await ReceiptStore(db, _clock).apply(together)
    assert await _message(db) == ("delivered", 11)
    async with db.reader.connect() as conn:
        history = (
            await conn.execute(
                select(status_history.c.state, status_history.c.code)
                .where(status_history.c.message_id == claimed.id)
                .order_by(status_history.c.id)
            )
        ).all()
    assert [tuple(row) for row in history] == [("queued", 1), ("sent", 0), ("sent", 13), ("delivered", 11)]


async def test_an_outcome_written_after_the_lease_leaves_out_what_another_engine_took_back(db: Database) -> None:
    """An engine that could not write what its carrier answered before its lease ran out must not undo the work
    of the engine that took the messages back: only what it still holds is written."""
    await queue_send(db, _clock, ["33612345678", "33612345679"])
    first, second = sorted(await _claim(DispatchStore(db, _clock), "node-a:1"), key=lambda m: m.id)
    later = NOW + 61_000
    assert await ScheduleStore(db, lambda: later).take_back_abandoned() == 2
    taken = await _claim(DispatchStore(db, lambda: later), "node-b:7")
    assert sorted(m.id for m in taken) == [first.id, second.id]
    await DispatchStore(db, lambda: later).record(
        DispatchOutcome(submitted=[Submitted(first.id, "backup", ("b-1",))]), owner="node-b:7"
    )

    late = DispatchOutcome(submitted=[Submitted(m.id, "carrier", (f"a-{m.id}",)) for m in (first, second)])
    left_out = await DispatchStore(db, lambda: later + 1_000).record(late, owner="node-a:1")

    assert left_out == [first.id, second.id]
    async with db.reader.connect() as conn:
        rows = (
            await conn.execute(
                select(messages.c.id, messages.c.state, messages.c.connector, messages.c.lease_owner).order_by(
                    messages.c.id
                )
            )
        ).all()
        carrier_ids = (await conn.execute(select(parts.c.carrier_id).order_by(parts.c.carrier_id))).scalars().all()
    assert [tuple(r) for r in rows] == [
        (first.id, "sent", "backup", None),
        (second.id, "submitting", None, "node-b:7"),
    ]
    assert carrier_ids == ["b-1"]


async def test_an_outcome_written_with_its_owner_while_the_lease_holds_is_written_whole(db: Database) -> None:
    await queue_send(db, _clock, ["33612345678", "33612345679"])
    first, second = sorted(await _claim(DispatchStore(db, _clock), "node-a:1"), key=lambda m: m.id)
    outcome = DispatchOutcome(
        submitted=[Submitted(first.id, "carrier", ("a-1",))],
        retry=[Retry(second.id, NOW + 5_000, "carrier: throttled")],
    )
    assert await DispatchStore(db, _clock).record(outcome, owner="node-a:1") == []
    async with db.reader.connect() as conn:
        rows = (await conn.execute(select(messages.c.state, messages.c.lease_owner).order_by(messages.c.id))).all()
    assert [tuple(r) for r in rows] == [("sent", None), ("queued", None)]


async def test_an_outcome_refused_for_what_it_holds_is_not_taken_for_a_passing_fault(db: Database) -> None:
    """The dispatcher keeps trying outcomes the database refused for its own condition (`cannot_write_now`),
    for as long as their lease lasts; one refused for its content would only be refused again."""
    await _queued_message(db)
    queue = DispatchStore(db, _clock)
    (claimed,) = await _claim(queue, "node-a:1")
    twice = DispatchOutcome(submitted=[Submitted(claimed.id, "carrier", ("abc123",))])
    await queue.record(twice)
    with pytest.raises(IntegrityError) as refused:  # the part is there already
        await queue.record(twice)
    assert not cannot_write_now(refused.value)


async def test_a_statement_that_can_never_run_is_not_taken_for_a_passing_fault(db: Database) -> None:
    """SQLite reports a missing table as an `OperationalError`, as it does a full disk: its result code tells."""
    with pytest.raises(DBAPIError) as refused:
        await db.run_write(lambda conn: conn.exec_driver_sql("UPDATE no_such_table SET x = 1"))
    assert not cannot_write_now(refused.value)
