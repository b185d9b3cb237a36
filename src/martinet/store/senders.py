"""Sender IDs (`emetteur`) accounts asked for, and the decisions of their parents or the operator."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from martinet.domain.valueclass import valueclass
from martinet.store.database import Database
from martinet.store.schema import sender_ids

REQUESTED, APPROVED, REFUSED = "requested", "approved", "refused"


@valueclass
class SenderId:
    id: int
    account_id: int
    sender: str
    status: str
    requested_at: int
    decided_at: int | None
    decided_by: int | None


_COLUMNS = (
    sender_ids.c.id,
    sender_ids.c.account_id,
    sender_ids.c.sender,
    sender_ids.c.status,
    sender_ids.c.requested_at,
    sender_ids.c.decided_at,
    sender_ids.c.decided_by,
)


class SenderStore:
    def __init__(self, db: Database, now_ms: Callable[[], int]) -> None:
        self._db = db
        self._now_ms = now_ms

    async def request(self, account_id: int, sender: str) -> SenderId:
        """Ask for a sender; asking again for one already asked changes nothing (its status stays)."""
        try:
            async with self._db.write() as conn:
                await conn.execute(
                    insert(sender_ids).values(
                        account_id=account_id, sender=sender, status=REQUESTED, requested_at=self._now_ms()
                    )
                )
        except IntegrityError:
            pass
        found = await self.get(account_id, sender)
        assert found is not None
        return found

    async def decide(self, account_id: int, sender: str, status: str, decided_by: int) -> SenderId:
        """Approve or refuse a sender, requested before or not (a parent may approve one on its own)."""
        await self.request(account_id, sender)
        async with self._db.write() as conn:
            await conn.execute(
                update(sender_ids)
                .where(sender_ids.c.account_id == account_id, sender_ids.c.sender == sender)
                .values(status=status, decided_at=self._now_ms(), decided_by=decided_by)
            )
        found = await self.get(account_id, sender)
        assert found is not None
        return found

    async def get(self, account_id: int, sender: str) -> SenderId | None:
        query = select(*_COLUMNS).where(sender_ids.c.account_id == account_id, sender_ids.c.sender == sender)
        async with self._db.reader.connect() as conn:
            row = (await conn.execute(query)).first()
        return SenderId(*row) if row else None

    async def list(self, account_id: int) -> list[SenderId]:
        query = select(*_COLUMNS).where(sender_ids.c.account_id == account_id).order_by(sender_ids.c.sender)
        async with self._db.reader.connect() as conn:
            return [SenderId(*row) for row in await conn.execute(query)]

    async def approved(self, account_id: int) -> frozenset[str]:
        query = select(sender_ids.c.sender).where(
            sender_ids.c.account_id == account_id, sender_ids.c.status == APPROVED
        )
        async with self._db.reader.connect() as conn:
            return frozenset(row.sender for row in await conn.execute(query))
