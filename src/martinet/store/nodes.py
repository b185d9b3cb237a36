"""The engines sharing a database: each writes a sign of life, and counts the others that do.

No consensus is needed: the count only decides what share of each carrier's throughput an engine uses, and a
wrong count for a few seconds after an engine appears or dies means briefly using a little more or less.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from martinet.store.database import Database
from martinet.store.schema import engine_nodes

#: Rows of engines silent for this long are removed (they have long stopped counting as live).
FORGET_AFTER_MS = 24 * 3600 * 1000


class NodeStore:
    def __init__(self, db: Database, now_ms: Callable[[], int]) -> None:
        self._db = db
        self._now_ms = now_ms

    async def heartbeat(self, owner: str, node: str, live_within_ms: int) -> int:
        """Record that `owner` is alive; return how many engines (itself included) were alive lately."""
        now = self._now_ms()
        return await self._db.run_write(lambda conn: _heartbeat(conn, owner, node, now, live_within_ms))

    async def leave(self, owner: str) -> None:
        await self._db.run_write(lambda conn: conn.execute(delete(engine_nodes).where(engine_nodes.c.owner == owner)))


def _heartbeat(conn: Connection, owner: str, node: str, now: int, live_within_ms: int) -> int:
    updated = conn.execute(update(engine_nodes).where(engine_nodes.c.owner == owner).values(heartbeat_at=now)).rowcount
    if not updated:
        conn.execute(insert(engine_nodes).values(owner=owner, node=node, started_at=now, heartbeat_at=now))
    conn.execute(delete(engine_nodes).where(engine_nodes.c.heartbeat_at < now - FORGET_AFTER_MS))
    live = conn.scalar(
        select(func.count()).select_from(engine_nodes).where(engine_nodes.c.heartbeat_at >= now - live_within_ms)
    )
    return max(1, int(live or 0))
