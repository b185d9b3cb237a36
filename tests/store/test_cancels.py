"""Cancelling scheduled messages: refunded once however many cancels race (on one node or on several sharing
PostgreSQL), final for the send, free in the usage, and whole for a campaign of any size."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from martinet.domain.status import State, send_status
from martinet.store.acceptance import AcceptanceWriter, NewMessage, NewSend
from martinet.store.accounts import AccountStore
from martinet.store.database import Database, open_database
from martinet.store.reports import ReportStore
from martinet.store.schema import ledger, messages

NOW = 1_800_000_000_000
DUE = NOW + 86_400_000
SEND = "SEND0000CANC"


def _clock() -> int:
    return NOW


async def _schedule(db: Database, recipients: int, balance: int = 1_000_000_000) -> int:
    """An account with `balance` millicredits and one send scheduled for tomorrow to `recipients` phones at one
    credit each; returns the account's id."""
    accounts = AccountStore(db, _clock)
    account = await accounts.create(
        "acme", password_hash=None, language="fr", timezone="UTC", lane="marketing", non_gsm="replace"
    )
    await accounts.post(account.id, balance, "topup")
    phones = [f"336{n:08d}" for n in range(10_000_000, 10_000_000 + recipients)]
    send = NewSend(
        SEND, account.id, NOW, DUE, "demain", "GSM-7", 1, 2, None, None, None, None, "marketing", 1000 * recipients,
        [NewMessage(phone, "FR", State.SCHEDULED, 10, 1000, DUE) for phone in phones],
    )  # fmt: skip
    writer = AcceptanceWriter(db)
    await writer.start()
    try:
        await writer.accept(send)
    finally:
        await writer.stop()
    return account.id


async def _balance(db: Database, account_id: int) -> int:
    return await AccountStore(db, _clock).balance(account_id)


async def _refund_rows(db: Database) -> int:
    async with db.reader.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(ledger).where(ledger.c.reason == "refund")) or 0)


@pytest.mark.parametrize(("seq", "refund"), [(None, 10_000), (1, 1000)], ids=["the send", "one recipient"])
async def test_cancels_racing_refund_once(database_url: str, seq: int | None, refund: int) -> None:
    """Eight cancels of one send (or of one of its ten recipients) at once, half of them through a second
    connection pool (another node): one cancels and refunds, the others find nothing left to cancel."""
    first = open_database(database_url, sqlite_synchronous="normal")
    second = open_database(database_url, sqlite_synchronous="normal")
    try:
        account_id = await _schedule(first, 10)
        before = await _balance(first, account_id)
        stores = [ReportStore(db, _clock) for db in (first, second) * 4]
        results = await asyncio.gather(*(store.cancel_scheduled(account_id, SEND, seq=seq) for store in stores))
        assert sum(result is not None for result in results) == 1
        assert await _balance(first, account_id) == before + refund
        assert await _refund_rows(first) == 1
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_recipient_cancelled_alone_is_final_and_costs_nothing(db: Database) -> None:
    account_id = await _schedule(db, 2)
    assert await ReportStore(db, _clock).cancel_scheduled(account_id, SEND, seq=1) is not None
    async with db.reader.connect() as conn:
        rows = (await conn.execute(select(messages.c.seq, messages.c.code, messages.c.cost).order_by("seq"))).all()
    assert [tuple(row) for row in rows] == [(0, 10, 1000), (1, 50, 0)]
    # The other recipient delivered: the send is finished, with the cancelled one's "not delivered".
    assert send_status([11, rows[1].code]) == 50


async def test_a_campaign_beyond_the_drivers_parameter_limit_is_cancelled_whole(db: Database) -> None:
    """32,800 recipients: more than the 32,767 parameters one PostgreSQL statement may carry."""
    account_id = await _schedule(db, 32_800)
    before = await _balance(db, account_id)
    cancelled = await ReportStore(db, _clock).cancel_scheduled(account_id, SEND)
    assert cancelled is not None and cancelled.refunded == 32_800_000
    assert await _balance(db, account_id) == before + 32_800_000
    async with db.reader.connect() as conn:
        states = dict((await conn.execute(select(messages.c.state, func.count()).group_by(messages.c.state))).all())
    assert states == {"cancelled": 32_800}
