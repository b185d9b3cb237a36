"""What readiness reads and writes beyond the engines' heartbeats: a write that proves the store can commit, and
which lanes have messages waiting to leave.

The write is real on purpose. A database that answers queries may still refuse every commit (a full disk, a
PostgreSQL server turned read-only by a failover or by a managed service whose storage is full), and then every
send is answered 31 while a read-only check stays green. So the probe commits one row through the same write
path as the sends (on SQLite: the process's write turn, the advisory file lock, `BEGIN IMMEDIATE`, a page
written to the WAL and committed), and fails exactly when a small send would.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete, exists, insert, literal_column, select, update
from sqlalchemy.engine import Connection

from martinet.domain.lanes import Lane
from martinet.domain.status import State
from martinet.store.database import Database
from martinet.store.schema import in_state, messages, store_probes

#: Rows of processes that stopped probing this long ago are removed (a restarted worker has a new pid).
FORGET_AFTER_MS = 24 * 3600 * 1000


class ProbeStore:
    def __init__(self, db: Database, owner: str, now_ms: Callable[[], int]) -> None:
        self._db = db
        self._owner = owner  # node:pid of the checking process
        self._now_ms = now_ms

    async def write(self) -> None:
        """Commit one row (this process's); raises what the database raised when it cannot."""
        now = self._now_ms()
        await self._db.run_write(lambda conn: _write(conn, self._owner, now))

    async def lanes_waiting(self) -> set[str]:
        """The lanes that have queued messages (ready to leave, or waiting for a retry).

        One EXISTS per lane, each a probe of the (lane, state, ...) index naming the state as a constant: the
        cost stays the same however deep the backlog, unlike a count.
        """
        columns = [
            exists().where(messages.c.lane == literal_column(f"'{lane}'"), in_state(State.QUEUED)).label(str(lane))
            for lane in Lane
        ]
        async with self._db.reader.connect() as conn:
            row = (await conn.execute(select(*columns))).one()
        return {str(lane) for lane, waiting in zip(Lane, row, strict=True) if waiting}


def _write(conn: Connection, owner: str, now: int) -> None:
    updated = conn.execute(update(store_probes).where(store_probes.c.owner == owner).values(written_at=now)).rowcount
    if not updated:
        conn.execute(insert(store_probes).values(owner=owner, written_at=now))
        # Only when a process writes its first row: the table then holds one row per process of the last day.
        conn.execute(delete(store_probes).where(store_probes.c.written_at < now - FORGET_AFTER_MS))
