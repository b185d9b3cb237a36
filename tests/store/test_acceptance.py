"""Acceptance is one transaction: send + messages + history + debit, or nothing."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import random
import shutil
import sqlite3
import string
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from martinet.domain.ids import new_send_id
from martinet.domain.status import State
from martinet.store.acceptance import AcceptanceWriter, NewMessage, NewSend
from martinet.store.accounts import AccountStore
from martinet.store.database import Database, open_database, sqlite_path
from martinet.store.schema import ledger, messages, sends, status_history


def _clock() -> int:
    return 1_700_000_000_000


async def _account(db: Database, credits: int) -> int:
    store = AccountStore(db, _clock)
    account = await store.create(
        "acme", password_hash=None, language="fr", timezone="Europe/Paris", lane="notification", non_gsm="replace"
    )
    if credits:
        await store.post(account.id, credits, "topup")
    return account.id


def _send(send_id: str, account_id: int, recipients: int, unit_cost: int) -> NewSend:
    return NewSend(
        id=send_id,
        account_id=account_id,
        created_at=_clock(),
        scheduled_at=None,
        text="hello",
        encoding="GSM-7",
        segments=1,
        classe=2,
        sender=None,
        ref_client=None,
        notification_url=None,
        notification_url_reponse=None,
        lane="notification",
        cost=recipients * unit_cost,
        messages=[NewMessage(f"3361234{i:04d}", "FR", State.QUEUED, 1, unit_cost, _clock()) for i in range(recipients)],
    )


async def _count(db: Database, table: object) -> int:
    async with db.reader.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)))  # type: ignore[arg-type]


async def test_accepted_send_is_stored_whole_with_its_debit(db: Database) -> None:
    account_id = await _account(db, 10_000)
    writer = AcceptanceWriter(db)
    await writer.start()
    try:
        assert await writer.accept(_send("AAAAAAAAAAAA", account_id, 3, 1000)) is True
    finally:
        await writer.stop()
    accounts = AccountStore(db, _clock)
    assert await accounts.balance(account_id) == 7_000
    assert await accounts.ledger_sum(account_id) == 7_000
    assert await _count(db, sends) == 1
    assert await _count(db, messages) == 3
    assert await _count(db, status_history) == 3


async def test_send_costing_more_than_the_balance_stores_nothing(db: Database) -> None:
    account_id = await _account(db, 2_000)
    writer = AcceptanceWriter(db)
    await writer.start()
    try:
        assert await writer.accept(_send("BBBBBBBBBBBB", account_id, 3, 1000)) is False
    finally:
        await writer.stop()
    assert await AccountStore(db, _clock).balance(account_id) == 2_000
    assert await _count(db, sends) == 0
    assert await _count(db, messages) == 0
    assert await _count(db, ledger) == 1  # the top-up only


async def test_concurrent_sends_never_spend_the_same_credits(db: Database) -> None:
    """50 sends of 1 credit race for 20 credits: exactly 20 are accepted, whatever the batching."""
    account_id = await _account(db, 20_000)
    writer = AcceptanceWriter(db)
    await writer.start()
    try:
        verdicts = await asyncio.gather(*(writer.accept(_send(f"C{i:011d}", account_id, 1, 1000)) for i in range(50)))
    finally:
        await writer.stop()
    assert verdicts.count(True) == 20
    assert verdicts[:20] == [True] * 20  # arrival order decides who is served
    accounts = AccountStore(db, _clock)
    assert await accounts.balance(account_id) == 0
    assert await accounts.ledger_sum(account_id) == 0
    assert await _count(db, sends) == 20


async def test_a_failing_batch_answers_every_caller_with_the_error(db: Database) -> None:
    account_id = await _account(db, 10_000)
    writer = AcceptanceWriter(db)
    await writer.start()
    try:
        assert await writer.accept(_send("DUPLICATEID1", account_id, 1, 1000))
        results = await asyncio.gather(
            writer.accept(_send("DUPLICATEID1", account_id, 1, 1000)), return_exceptions=True
        )
    finally:
        await writer.stop()
    assert isinstance(results[0], Exception)
    assert await AccountStore(db, _clock).balance(account_id) == 9_000


async def test_personal_texts_are_stored_without_growing_the_ones_the_send_holds(db: Database) -> None:
    """The messages of a campaign live until its commit: binding their texts must not attach a UTF-8 copy to each
    (CPython keeps one inside a non-ASCII string once a driver asks for it)."""
    account_id = await _account(db, 10_000)
    send = _send("CCCCCCCCCCCC", account_id, 2, 1000)
    texts = ["".join(["Café n°", str(i), " à Noël"]) for i in range(2)]  # built at run time: no shared constant
    send.messages = [replace(m, text=t, segments=1) for m, t in zip(send.messages, texts, strict=True)]
    sizes = [sys.getsizeof(t) for t in texts]
    writer = AcceptanceWriter(db)
    await writer.start()
    try:
        assert await writer.accept(send) is True
    finally:
        await writer.stop()
    assert [sys.getsizeof(m.text) for m in send.messages] == sizes
    async with db.reader.connect() as conn:
        stored = (await conn.execute(select(messages.c.text).order_by(messages.c.seq))).scalars().all()
    assert stored == texts


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_sends_that_come_while_another_process_writes_are_committed_with_the_first(db: Database) -> None:
    """The writer takes its batch once it holds the write lock, not before waiting for it: the sends that came
    meanwhile share the first one's transaction instead of waiting for the next."""
    account_id = await _account(db, 100_000)
    assert db.write_lock_path is not None and db.sync_writer is not None
    commits: list[int] = []
    event.listen(db.sync_writer, "commit", lambda conn: commits.append(1))
    other = os.open(db.write_lock_path, os.O_RDWR | os.O_CREAT)  # another open file: another process, to flock
    writer = AcceptanceWriter(db)
    await writer.start()
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        first = asyncio.ensure_future(writer.accept(_send("FIRST0000000", account_id, 1, 1000)))
        await asyncio.sleep(0.05)  # the writer has the first send and waits for the lock
        later = [asyncio.ensure_future(writer.accept(_send(f"LATER{i:07d}", account_id, 1, 1000))) for i in range(4)]
        await asyncio.sleep(0.05)
        assert not first.done()  # nothing is answered before it is written
        fcntl.flock(other, fcntl.LOCK_UN)
        async with asyncio.timeout(5):
            assert await asyncio.gather(first, *later) == [True] * 5
    finally:
        await writer.stop()
        os.close(other)
    assert len(commits) == 1
    assert await _count(db, sends) == 5


SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def _pages_logged_for_a_batch(db: Database, path: Path, ids: Callable[[int], str]) -> Counter[str]:
    """The pages SQLite's write-ahead log takes for one batch of 60 one-recipient sends, by table or index, after
    10,000 sends made at 2,500 a second with IDs from `ids` (given each send's time)."""
    account_id = await _account(db, 10**9)
    writer = AcceptanceWriter(db)
    await writer.start()
    try:
        at = _clock()
        for _ in range(10):
            chunk = []
            for _ in range(1000):
                at += 0.4
                chunk.append(writer.accept(_send(ids(int(at)), account_id, 1, 1)))
            assert all(ok is True for ok in await asyncio.gather(*chunk))
        with contextlib.closing(sqlite3.connect(path)) as plain:  # the log emptied: it then holds the batch alone
            assert plain.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
            page_size = plain.execute("PRAGMA page_size").fetchone()[0]
        assert db.sync_writer is not None
        commits: list[int] = []
        event.listen(db.sync_writer, "commit", lambda conn: commits.append(1))
        batch = [writer.accept(_send(ids(int(at) + i), account_id, 1, 1)) for i in range(60)]
        assert all(ok is True for ok in await asyncio.gather(*batch))
        assert len(commits) == 1
    finally:
        await writer.stop()
    log = path.with_name(path.name + "-wal").read_bytes()
    frame = page_size + 24  # the log's header (32 bytes), then per frame a header naming its page, and the page
    pages = [int.from_bytes(log[offset : offset + 4], "big") for offset in range(32, len(log), frame)]
    with contextlib.closing(sqlite3.connect(path)) as plain:
        names = dict(plain.execute("SELECT pageno, name FROM dbstat").fetchall())
    return Counter(names[page] for page in pages)


@SQLITE_ONLY
async def test_send_ids_of_one_moment_share_the_indexes_last_pages(db: Database, tmp_path: Path) -> None:
    """A batch of sends writes a page or two of each index that holds send IDs (the sends' key, the messages'
    `send_id`), where IDs drawn wholly at random put nearly every send on a page of its own in both."""
    path = sqlite_path(db.url)
    assert path is not None
    other_path = tmp_path / "random-ids.db"
    shutil.copy(path, other_path)
    random_ids = open_database(f"sqlite:///{other_path}", sqlite_synchronous="normal")
    try:
        drawn = random.Random(7)
        alphabet = string.ascii_letters + string.digits
        scattered = await _pages_logged_for_a_batch(
            random_ids, other_path, lambda _at: "".join(drawn.choices(alphabet, k=12))
        )
    finally:
        await random_ids.dispose()
    ours = await _pages_logged_for_a_batch(db, path, new_send_id)
    for index in ("sqlite_autoindex_sends_1", "ix_messages_send"):
        assert scattered[index] > 30, scattered
        assert ours[index] <= 2, ours
    assert sum(ours.values()) < sum(scattered.values()) / 2
