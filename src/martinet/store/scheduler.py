"""The scheduler's side of the store: the clock's work on the queue.

Releasing scheduled messages whose time has come, expiring queued ones whose validity ended, taking back work
whose lease ran out (its engine died), and counting what waits, per lane, for /metrics.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, literal, literal_column, select, union_all, update
from sqlalchemy.engine import Connection

from martinet import metrics
from martinet.domain.lanes import Lane
from martinet.domain.status import DEFAULT_CODE, State
from martinet.store import claims
from martinet.store.database import Database
from martinet.store.dispatch import Expired, record_expired
from martinet.store.history import append_history
from martinet.store.schema import in_state, messages


class ScheduleStore:
    def __init__(self, db: Database, now_ms: Callable[[], int]) -> None:
        self._db = db
        self._now_ms = now_ms

    async def release_scheduled(self, limit: int = 5000) -> int:
        """Move scheduled messages whose time has come into the queue."""
        now = self._now_ms()
        return await self._db.run_write(lambda conn: _release_scheduled(conn, now, limit))

    async def expire_overdue(self, limit: int = 5000) -> int:
        """Expire queued messages whose validity ended (status 37, refunded), whether or not a connector is
        there to claim them; returns how many."""
        now = self._now_ms()
        expired, refunded = await self._db.run_write(lambda conn: _expire_overdue(conn, now, limit))
        metrics.credits_moved("refund", refunded)
        return expired

    async def take_back_abandoned(self) -> int:
        """Requeue messages whose lease expired (their engine died); run by the scheduler."""
        now = self._now_ms()
        return await self._db.run_write(lambda conn: claims.take_back_abandoned(conn, now))

    async def next_scheduled_at(self) -> int | None:
        async with self._db.reader.connect() as conn:
            return await conn.scalar(
                select(messages.c.due_at).where(in_state(State.SCHEDULED)).order_by(messages.c.due_at).limit(1)
            )


def _expire_overdue(conn: Connection, now: int, limit: int) -> tuple[int, int]:
    """Returns how many messages expired and the millicredits refunded."""
    overdue = (
        select(messages.c.id)
        .where(in_state(State.QUEUED), messages.c.expires_at <= now)
        .order_by(messages.c.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = conn.execute(overdue).scalars().all()
    if not ids:
        return 0, 0
    refunded = record_expired(conn, [Expired(i, "validity ended while waiting for a connector") for i in ids], now)
    return len(ids), refunded


def _release_scheduled(conn: Connection, now: int, limit: int) -> int:
    due = (
        select(messages.c.id)
        .where(in_state(State.SCHEDULED), messages.c.due_at <= now)
        .order_by(messages.c.due_at, messages.c.id)  # held marketing goes out in the order it was accepted
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = (
        conn.execute(
            update(messages)
            .where(messages.c.id.in_(due.scalar_subquery()))
            .values(state=State.QUEUED, code=DEFAULT_CODE[State.QUEUED], updated_at=now, due_at=now)
            .returning(messages.c.id)
        )
        .scalars()
        .all()
    )
    if ids:
        append_history(conn, [(i, now, State.QUEUED, DEFAULT_CODE[State.QUEUED], None, None) for i in ids])
    return len(ids)


async def queue_depth(db: Database) -> dict[tuple[str, str], int]:
    """Queued and scheduled messages per lane, for /metrics.

    One count per (lane, state), both written as constants, so each is an index-only range scan of
    ix_messages_lane (lane, state, ...): the cost follows the backlog, never the table's whole history.
    """
    counts = [
        select(literal(str(lane)).label("lane"), literal(str(state)).label("state"), func.count().label("n"))
        .select_from(messages)
        .where(messages.c.lane == literal_column(f"'{lane}'"), in_state(state))
        for lane in Lane
        for state in (State.QUEUED, State.SCHEDULED)
    ]
    async with db.reader.connect() as conn:
        rows = (await conn.execute(union_all(*counts))).all()
    return {(str(row.lane), str(row.state)): int(row.n) for row in rows}
