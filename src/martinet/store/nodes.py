"""The engines sharing a database: each writes a sign of life, and counts the others that do.

No consensus is needed: the count only decides what share of each carrier's throughput an engine uses, and a
wrong count for a few seconds after an engine appears or dies means briefly using a little more or less.

The sign of life also carries the engine's status (connectors bound, live throughput): `/readyz` of an HTTP
worker and `martinet status` run in other processes, often on other machines, and the database is what they
share with the engines.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from martinet.domain.valueclass import valueclass
from martinet.store.database import Database
from martinet.store.schema import engine_nodes

#: Rows of engines silent for this long are removed (they have long stopped counting as live).
FORGET_AFTER_MS = 24 * 3600 * 1000


@valueclass
class EngineNode:
    owner: str  # node:pid
    node: str
    started_at: int
    heartbeat_at: int
    status: Mapping[str, Any]  # as the engine wrote it at its last heartbeat ({} before its first)


class NodeStore:
    def __init__(self, db: Database, now_ms: Callable[[], int]) -> None:
        self._db = db
        self._now_ms = now_ms

    async def heartbeat(
        self, owner: str, node: str, live_within_ms: int, status: Mapping[str, Any] | None = None
    ) -> int:
        """Record that `owner` is alive (and its `status`); return how many engines (itself included) were alive
        lately."""
        now = self._now_ms()
        text = None if status is None else json.dumps(status, separators=(",", ":"))
        return await self._db.run_write(lambda conn: _heartbeat(conn, owner, node, now, live_within_ms, text))

    async def leave(self, owner: str) -> None:
        await self._db.run_write(lambda conn: conn.execute(delete(engine_nodes).where(engine_nodes.c.owner == owner)))

    async def engines(self) -> list[EngineNode]:
        """Every engine seen in the last day, the freshest heartbeat first (a handful of rows)."""
        async with self._db.reader.connect() as conn:
            rows = await conn.execute(select(engine_nodes).order_by(engine_nodes.c.heartbeat_at.desc()))
            return [
                EngineNode(row.owner, row.node, row.started_at, row.heartbeat_at, _status(row.status)) for row in rows
            ]


def _status(text: str | None) -> Mapping[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _heartbeat(conn: Connection, owner: str, node: str, now: int, live_within_ms: int, status: str | None) -> int:
    values: dict[str, Any] = {"heartbeat_at": now}
    if status is not None:
        values["status"] = status
    updated = conn.execute(update(engine_nodes).where(engine_nodes.c.owner == owner).values(**values)).rowcount
    if not updated:
        conn.execute(insert(engine_nodes).values(owner=owner, node=node, started_at=now, **values))
    conn.execute(delete(engine_nodes).where(engine_nodes.c.heartbeat_at < now - FORGET_AFTER_MS))
    live = conn.scalar(
        select(func.count()).select_from(engine_nodes).where(engine_nodes.c.heartbeat_at >= now - live_within_ms)
    )
    return max(1, int(live or 0))
