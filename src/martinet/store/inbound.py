"""Storing inbound messages (MO) as connectors hand them over."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from martinet.domain.inbound import InboundMessage
from martinet.store.database import Database
from martinet.store.schema import inbound_messages


class InboundStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, batch: Sequence[InboundMessage]) -> None:
        if batch:
            await self._db.run_write(lambda conn: _record(conn, batch))

    async def received(self, limit: int = 100) -> list[InboundMessage]:
        """The latest inbound messages, newest first."""
        query = (
            select(
                inbound_messages.c.connector,
                inbound_messages.c.source,
                inbound_messages.c.destination,
                inbound_messages.c.text,
                inbound_messages.c.received_at,
                inbound_messages.c.parts,
            )
            .order_by(inbound_messages.c.id.desc())
            .limit(limit)
        )
        async with self._db.reader.connect() as conn:
            return [InboundMessage(*row) for row in (await conn.execute(query)).all()]


def _record(conn: Connection, batch: Sequence[InboundMessage]) -> None:
    conn.execute(
        insert(inbound_messages),
        [
            {
                "connector": m.connector,
                "source": m.source,
                "destination": m.destination,
                "text": m.text,
                "parts": m.parts,
                "received_at": m.received_at,
            }
            for m in batch
        ],
    )
