"""Idempotency keys live 24 hours: stored with their send, replayed within the lifetime, forgotten after it."""

from __future__ import annotations

import dataclasses

from sqlalchemy import func, select

from martinet.store.acceptance import DUPLICATE, AcceptanceWriter, KeyedRequest, NewSend
from martinet.store.database import Database
from martinet.store.idempotency import KEY_LIFETIME_MS, IdempotencyStore
from martinet.store.schema import idempotency_keys, sends
from tests.store.test_acceptance import _account, _clock, _send


def _keyed(send: NewSend, key: str, fingerprint: str, at: int) -> NewSend:
    answer = KeyedRequest(key, fingerprint, lambda written: (201, f'{{"smsId":"{written.id}"}}'.encode()))
    return dataclasses.replace(send, keyed=answer, created_at=at)


async def _count(db: Database, table: object) -> int:
    async with db.reader.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)))  # type: ignore[arg-type]


async def test_a_key_is_replayed_for_a_day_then_forgotten(db: Database) -> None:
    account_id = await _account(db, 100_000)
    writer = AcceptanceWriter(db)
    await writer.start()
    start = _clock()
    try:
        assert await writer.accept(_keyed(_send("IDEMPOTENT01", account_id, 1, 1000), "k", "f1", start)) is True
        # A second send under the live key is not written, whatever its body.
        second = _keyed(_send("IDEMPOTENT02", account_id, 1, 1000), "k", "f2", start + 1000)
        assert await writer.accept(second) is DUPLICATE
        now = start + KEY_LIFETIME_MS - 1
        stored = await IdempotencyStore(db, lambda: now).lookup(account_id, "k")
        assert stored is not None and stored.fingerprint == "f1" and stored.status == 201
        assert stored.body == b'{"smsId":"IDEMPOTENT01"}'
        later = start + KEY_LIFETIME_MS + 1
        assert await IdempotencyStore(db, lambda: later).lookup(account_id, "k") is None
        # Past its lifetime the key is free again, even before the purge ran.
        third = _keyed(_send("IDEMPOTENT03", account_id, 1, 1000), "k", "f3", later)
        assert await writer.accept(third) is True
        assert await _count(db, sends) == 2
        much_later = later + KEY_LIFETIME_MS + 1
        assert await IdempotencyStore(db, lambda: much_later).purge() == 1
        assert await _count(db, idempotency_keys) == 0
    finally:
        await writer.stop()
