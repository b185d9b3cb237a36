"""The dispatcher's side of the store: claims, leases, receipts that race their submission, nodes taking work back."""

from __future__ import annotations

from sqlalchemy import func, select

from martinet.domain.receipts import Receipt
from martinet.domain.status import State
from martinet.store.claims import ClaimCursor, ClaimedMessage
from martinet.store.database import Database
from martinet.store.dispatch import DispatchOutcome, DispatchStore, Submitted
from martinet.store.receipts import ReceiptStore
from martinet.store.scheduler import ScheduleStore
from martinet.store.schema import messages, status_history, unmatched_receipts
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
