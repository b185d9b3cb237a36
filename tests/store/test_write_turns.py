"""The write turns of one process: urgent writers (one-time password claims) go before those already waiting, then
receipts, then the rest; and the time spent waiting for SQLite's write lock and holding it is counted."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Callable

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from martinet.store.database import Database, Turn, WriteTurns, open_database
from martinet.store.schema import store_probes

#: What only SQLite has: a write lock shared by the processes of a node.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def test_urgent_writers_then_receipts_overtake_the_queue_but_not_the_holder() -> None:
    turns = WriteTurns()
    order: list[str] = []
    holder_may_finish = asyncio.Event()

    async def write(name: str, kind: Turn = Turn.NORMAL, hold: asyncio.Event | None = None) -> None:
        async with turns.turn(kind):
            order.append(name)
            if hold is not None:
                await hold.wait()

    first = asyncio.create_task(write("holder", hold=holder_may_finish))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(write(f"record-{i}")) for i in range(3)]
    await asyncio.sleep(0)
    receipts = asyncio.create_task(write("receipts", Turn.PROMPT))
    await asyncio.sleep(0)
    urgent = asyncio.create_task(write("otp-claim", Turn.URGENT))
    await asyncio.sleep(0)
    holder_may_finish.set()
    await asyncio.gather(first, urgent, receipts, *waiting)
    assert order == ["holder", "otp-claim", "receipts", "record-0", "record-1", "record-2"]


async def test_a_cancelled_waiter_does_not_keep_the_turn() -> None:
    turns = WriteTurns()
    release = asyncio.Event()

    async def hold() -> None:
        async with turns.turn():
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    cancelled = asyncio.create_task(hold())
    await asyncio.sleep(0)
    cancelled.cancel()
    release.set()
    await holder
    async with asyncio.timeout(1):  # the turn is free again
        async with turns.turn():
            pass


def _lock_seconds(phase: str) -> float:
    return REGISTRY.get_sample_value("martinet_sqlite_write_lock_seconds_total", {"phase": phase}) or 0.0


async def test_the_time_holding_sqlite_write_lock_is_counted_and_postgresql_counts_none(db: Database) -> None:
    before = _lock_seconds("held"), _lock_seconds("wait")

    def slow_work(conn: Connection) -> None:
        conn.execute(insert(store_probes).values(owner="probe", written_at=1))
        time.sleep(0.05)  # inside the transaction: held, not waited

    await db.run_write(slow_work)
    async with db.write() as conn:  # the asyncio path counts too
        await conn.execute(insert(store_probes).values(owner="probe-2", written_at=1))
    held, waited = _lock_seconds("held") - before[0], _lock_seconds("wait") - before[1]

    if db.sync_writer is None:  # PostgreSQL: no process-wide write lock to count
        assert (held, waited) == (0.0, 0.0)
    else:
        assert held >= 0.05
        assert 0.0 <= waited < held


def _syncs_counted() -> tuple[float, float]:
    count = REGISTRY.get_sample_value("martinet_sqlite_log_sync_seconds_count") or 0.0
    return count, REGISTRY.get_sample_value("martinet_sqlite_log_sync_seconds_sum") or 0.0


async def test_each_sync_of_the_log_after_the_lock_is_timed_and_postgresql_times_none(database_url: str) -> None:
    db = open_database(database_url)  # sqlite_synchronous = "full", the default (the `db` fixture's is "normal")
    try:
        count, seconds = _syncs_counted()
        await db.run_write(lambda conn: conn.execute(insert(store_probes).values(owner="synced", written_at=1)))
        synced, spent = _syncs_counted()
        async with db.write() as conn:  # the asyncio writer's connection syncs its own commit: no second sync
            await conn.execute(insert(store_probes).values(owner="self-synced", written_at=1))
        assert _syncs_counted() == (synced, spent)
    finally:
        await db.dispose()
    if db.sync_writer is None:  # PostgreSQL: its commits are synced by the server
        assert (synced, spent) == (count, seconds)
    else:
        assert db.log_to_sync is not None and db.log_to_sync.name.endswith(".db-wal")
        assert synced == count + 1
        assert spent > seconds


async def test_a_small_write_runs_on_the_event_loops_thread_and_a_large_one_beside_it(db: Database) -> None:
    def thread_of(conn: Connection) -> int:
        conn.execute(insert(store_probes).values(owner=f"probe-{time.monotonic_ns()}", written_at=1))
        return threading.get_ident()

    loop_thread = threading.get_ident()
    assert await db.run_write(thread_of, small=True) == loop_thread
    large = await db.run_write(thread_of)
    if db.sync_writer is None:  # PostgreSQL: asyncpg's work is the loop's anyway
        assert large == loop_thread
    else:  # SQLite: a campaign's acceptance must not stop the loop for seconds
        assert large != loop_thread


@SQLITE_ONLY
async def test_a_writer_cancelled_while_another_process_holds_the_lock_leaves_it_free(db: Database) -> None:
    assert db.write_lock_path is not None
    other = os.open(db.write_lock_path, os.O_RDWR | os.O_CREAT)  # another open file: another process, to flock
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        ran: list[str] = []
        waiting = asyncio.create_task(db.run_write(lambda conn: ran.append("cancelled"), small=True))
        await asyncio.sleep(0.05)  # its thread now waits for the lock
        waiting.cancel()
        await asyncio.sleep(0.05)
        fcntl.flock(other, fcntl.LOCK_UN)  # the thread takes the lock, then gives it back at once
        with pytest.raises(asyncio.CancelledError):
            await waiting
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again: another process can write
        fcntl.flock(other, fcntl.LOCK_UN)
        async with asyncio.timeout(5):
            await db.run_write(lambda conn: ran.append("next"), small=True)
        assert ran == ["next"]
    finally:
        os.close(other)


@SQLITE_ONLY
async def test_a_small_write_waits_for_another_programs_lock_beside_the_loop(db: Database) -> None:
    """A program outside Martinet (no advisory lock) holds SQLite's: the small write waits in a worker thread,
    and the event loop keeps running meanwhile (on it, SQLite's busy handler would stop the loop)."""
    url = db.url.removeprefix("sqlite:///")
    holder = sqlite3.connect(url, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        writing = asyncio.create_task(db.run_write(lambda conn: threading.get_ident(), small=True))
        await asyncio.sleep(0.5)
        assert not writing.done()
        assert ticks >= 20  # the loop ran while the write waited
        holder.execute("ROLLBACK")
        async with asyncio.timeout(5):
            assert await writing != threading.get_ident()  # it ran in the thread that waited
        assert await db.run_write(lambda conn: threading.get_ident(), small=True) == threading.get_ident()
    finally:
        ticker.cancel()
        holder.close()


@SQLITE_ONLY
async def test_a_write_cancelled_while_its_thread_runs_keeps_its_turn_until_the_thread_ends(db: Database) -> None:
    """The thread commits all the same; the next writer of the process waits for it, not on the loop for the one
    connection the thread holds."""
    release = threading.Event()
    order: list[str] = []

    def large(conn: Connection) -> None:
        order.append("large starts")
        assert release.wait(5)
        conn.execute(insert(store_probes).values(owner="large", written_at=1))
        order.append("large ends")

    cancelled = asyncio.create_task(db.run_write(large))
    await asyncio.sleep(0.05)
    cancelled.cancel()
    following = asyncio.create_task(db.run_write(lambda conn: order.append("next"), small=True))
    await asyncio.sleep(0.05)  # the loop runs meanwhile
    assert order == ["large starts"]
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await following
    assert order == ["large starts", "large ends", "next"]
    async with db.reader.connect() as conn:
        assert (await conn.execute(select(store_probes.c.owner))).scalars().all() == ["large"]


async def test_a_task_holding_the_write_turn_writes_in_it_and_a_task_it_starts_waits_for_its_own(db: Database) -> None:
    order: list[str] = []

    def write(name: str) -> Callable[[Connection], None]:
        def work(conn: Connection) -> None:
            conn.execute(insert(store_probes).values(owner=name, written_at=1))
            order.append(name)

        return work

    async with asyncio.timeout(5):
        async with db.write_turn(Turn.PROMPT):
            await db.run_write(write("holder, small"), small=True)  # not taken again: no deadlock
            await db.run_write(write("holder, in a thread"))
            async with db.write() as conn:
                await conn.execute(insert(store_probes).values(owner="holder, asyncio", written_at=1))
            other = asyncio.create_task(db.run_write(write("another task"), small=True))
            await asyncio.sleep(0.05)
            order.append("turn ends")
        await other
    if db.sync_writer is None:  # PostgreSQL: nothing to hold, the other task wrote at once
        assert order == ["holder, small", "holder, in a thread", "another task", "turn ends"]
    else:
        assert order == ["holder, small", "holder, in a thread", "turn ends", "another task"]


@SQLITE_ONLY
async def test_the_write_turn_holds_the_lock_the_other_processes_wait_for(db: Database) -> None:
    assert db.write_lock_path is not None
    other = os.open(db.write_lock_path, os.O_RDWR | os.O_CREAT)  # another open file: another process, to flock
    try:
        async with db.write_turn():
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # given back with the turn
        fcntl.flock(other, fcntl.LOCK_UN)
    finally:
        os.close(other)
