"""Idempotency keys: the first answer to a keyed request, written in the transaction of the send it accepted.

This module holds the key table only and knows nothing of sends: the acceptance writer
(`martinet.store.acceptance`), which owns the accepted-send record, calls `claim` and `release` inside its
transaction, so a key and its send are durable together or not at all: a client that lost the answer and retries
gets the stored one and never a second send. Two requests with the same key at the same time are settled by the
primary key: the second insert finds the first (on PostgreSQL it waits for the first transaction to end) and its
send is not written. The protocol a door follows with a key is `martinet.services.idempotency`.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import and_, delete, select
from sqlalchemy.engine import Connection

from martinet.domain.valueclass import valueclass
from martinet.store.database import Database, dialect_insert
from martinet.store.schema import idempotency_keys

#: How long a key is remembered (the answer replayed), in ms.
KEY_LIFETIME_MS = 24 * 3600 * 1000


@valueclass
class StoredAnswer:
    fingerprint: str
    status: int
    body: bytes
    created_at: int


def claim(
    conn: Connection, account_id: int, key: str, fingerprint: str, answer: Callable[[], tuple[int, bytes]], now: int
) -> bool:
    """Store the request's `answer` (rendered here, inside the acceptance transaction) under its key; False when
    the key is taken (by a live earlier request)."""
    conn.execute(
        delete(idempotency_keys).where(
            and_(
                idempotency_keys.c.account_id == account_id,
                idempotency_keys.c.key == key,
                idempotency_keys.c.created_at < now - KEY_LIFETIME_MS,
            )
        )
    )
    status, body = answer()
    inserted = conn.execute(
        dialect_insert(conn, idempotency_keys)
        .values(
            account_id=account_id,
            key=key,
            fingerprint=fingerprint,
            status=status,
            body=body.decode("utf-8"),
            created_at=now,
        )
        .on_conflict_do_nothing()
        .returning(idempotency_keys.c.key)
    ).first()
    return inserted is not None


def release(conn: Connection, account_id: int, key: str) -> None:
    """Forget a key whose send was refused after all (insufficient credit): a retry may succeed."""
    conn.execute(
        delete(idempotency_keys).where(and_(idempotency_keys.c.account_id == account_id, idempotency_keys.c.key == key))
    )


class IdempotencyStore:
    def __init__(self, db: Database, now_ms: Callable[[], int]) -> None:
        self._db = db
        self._now_ms = now_ms

    async def lookup(self, account_id: int, key: str) -> StoredAnswer | None:
        """The live answer stored under the key, if any."""
        query = select(
            idempotency_keys.c.fingerprint,
            idempotency_keys.c.status,
            idempotency_keys.c.body,
            idempotency_keys.c.created_at,
        ).where(
            idempotency_keys.c.account_id == account_id,
            idempotency_keys.c.key == key,
            idempotency_keys.c.created_at >= self._now_ms() - KEY_LIFETIME_MS,
        )
        async with self._db.reader.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return StoredAnswer(row.fingerprint, int(row.status), str(row.body).encode("utf-8"), int(row.created_at))

    async def purge(self, limit: int = 5000) -> int:
        """Delete up to `limit` keys past their lifetime (the engine's housekeeping)."""
        cutoff = self._now_ms() - KEY_LIFETIME_MS

        def work(conn: Connection) -> int:
            old = (
                select(idempotency_keys.c.account_id, idempotency_keys.c.key)
                .where(idempotency_keys.c.created_at < cutoff)
                .limit(limit)
            )
            rows = conn.execute(old).all()
            for row in rows:
                release(conn, row.account_id, row.key)
            return len(rows)

        return await self._db.run_write(work)
