"""Small writes of one process that wait for its write turn ride in the holder's transaction (SQLite): one commit
for all, each work in a savepoint of its own, each caller given its own result or error."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from martinet.store.database import YOUR_TURN, Database, Turn, WriteTurns
from martinet.store.schema import store_probes

#: Riders exist only where writers queue: on SQLite (PostgreSQL's writers do not wait for one another).
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _insert(name: str, order: list[str] | None = None) -> Callable[[Connection], str]:
    def work(conn: Connection) -> str:
        conn.execute(insert(store_probes).values(owner=name, written_at=1))
        if order is not None:
            order.append(name)
        return f"{name} written"

    return work


def _count_commits(db: Database) -> list[int]:
    commits: list[int] = []
    assert db.sync_writer is not None
    event.listen(db.sync_writer, "commit", lambda _conn: commits.append(1))
    return commits


async def _owners(db: Database) -> set[str]:
    async with db.reader.connect() as conn:
        return set((await conn.execute(select(store_probes.c.owner))).scalars())


async def _queued(*writes: asyncio.Task[object]) -> None:
    await asyncio.sleep(0.02)  # each task now waits for the turn
    assert not any(write.done() for write in writes)


async def test_a_waiting_work_is_handed_to_the_holder_and_its_waiter_gets_the_holders_answer() -> None:
    turns = WriteTurns()
    assert await turns.acquire(Turn.NORMAL) is YOUR_TURN
    plain = asyncio.create_task(turns.acquire(Turn.NORMAL))
    rider_work = _insert("rider")
    rider = asyncio.create_task(turns.acquire(Turn.PROMPT, rider_work))
    await _queued(plain, rider)
    [(future, work)] = turns.take_riders()
    assert work is rider_work
    assert turns.take_riders() == []  # taken once
    future.set_result("its result")
    assert await rider == "its result"
    turns.release()
    assert await plain is YOUR_TURN  # the plain waiter keeps its place and gets the turn


@SQLITE_ONLY
async def test_small_writes_waiting_for_the_turn_are_committed_with_the_holders_most_pressing_first(
    db: Database,
) -> None:
    commits = _count_commits(db)
    order: list[str] = []
    async with db.write_turn():
        waiting = [
            asyncio.create_task(db.run_write(_insert(name, order), turn=turn, small=True))
            for name, turn in (("claim", Turn.NORMAL), ("receipts", Turn.PROMPT), ("submissions", Turn.URGENT))
        ]
        await _queued(*waiting)
        assert await db.run_write(_insert("holder", order), small=True) == "holder written"
    assert [await write for write in waiting] == ["claim written", "receipts written", "submissions written"]
    assert order == ["holder", "submissions", "receipts", "claim"]
    assert len(commits) == 1
    assert await _owners(db) == {"holder", "claim", "receipts", "submissions"}


@SQLITE_ONLY
async def test_a_work_that_fails_is_undone_alone_and_its_caller_gets_its_error(db: Database) -> None:
    def fails(name: str) -> Callable[[Connection], str]:
        def work(conn: Connection) -> str:
            _insert(name)(conn)
            raise ValueError(f"{name} refused")

        return work

    async with db.write_turn():
        kept = asyncio.create_task(db.run_write(_insert("kept"), small=True))
        refused = asyncio.create_task(db.run_write(fails("refused"), small=True))
        await _queued(kept, refused)
        with pytest.raises(ValueError, match="holder refused"):
            await db.run_write(fails("holder"), small=True)
    assert await kept == "kept written"
    with pytest.raises(ValueError, match="refused"):
        await refused
    assert await _owners(db) == {"kept"}


@SQLITE_ONLY
async def test_when_sqlite_ends_the_transaction_itself_every_work_of_it_fails_and_none_is_kept(db: Database) -> None:
    """As SQLite does on a full disk or an I/O error: the works after it would otherwise run outside any
    transaction, each committed on its own."""

    def transaction_ended(conn: Connection) -> None:
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute("ROLLBACK")
        raise OSError("disk I/O error")

    async with db.write_turn():
        ended = asyncio.create_task(db.run_write(transaction_ended, turn=Turn.URGENT, small=True))
        after = asyncio.create_task(db.run_write(_insert("after"), small=True))
        await _queued(ended, after)
        with pytest.raises(OperationalError, match="no such savepoint"):  # SQLite's answer once it ended it
            await db.run_write(_insert("holder"), small=True)
    for write in (ended, after):
        with pytest.raises(OperationalError, match="no such savepoint"):
            await write
    assert await _owners(db) == set()
    assert await db.run_write(_insert("next"), small=True) == "next written"  # the turn and the lock are free


@SQLITE_ONLY
async def test_a_large_write_and_a_cancelled_one_do_not_ride(db: Database) -> None:
    commits = _count_commits(db)
    ran: list[str] = []
    async with db.write_turn():
        large = asyncio.create_task(db.run_write(_insert("large", ran)))
        cancelled = asyncio.create_task(db.run_write(_insert("cancelled", ran), small=True))
        await _queued(large, cancelled)
        cancelled.cancel()
        await asyncio.sleep(0)  # the cancellation reaches it
        await db.run_write(_insert("holder", ran), small=True)
    await large
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert ran == ["holder", "large"]
    assert len(commits) == 2  # the large write took its own turn
