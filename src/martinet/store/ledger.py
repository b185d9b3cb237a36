"""Reading an account's ledger (with the balance after each movement) and its usage, for statements and
invoices.

The balance after a movement is not stored: it is the sum of the account's ledger rows up to that row (in
ledger order), computed for a page from one sum of the rows before it. Writers (acceptance, refunds,
transfers) stay as they are, and the figure always agrees with the ledger it is read from.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from martinet.domain.valueclass import valueclass
from martinet.store.database import Database
from martinet.store.schema import accounts, ledger, messages, sends

#: Usage is counted in buckets of this many milliseconds, then folded into days of the account's time zone
#: (every time zone in use is a whole number of quarter hours away from UTC).
BUCKET_MS = 900_000


@valueclass
class LedgerEntry:
    id: int
    at: int
    amount: int  # millicredits, positive = credit
    reason: str  # send, refund, topup, withdrawal, transfer_in, transfer_out
    send_id: str | None
    reference: str | None
    counterparty: str | None  # login of the other account of a transfer
    note: str | None
    balance_after: int


@valueclass
class UsageRow:
    bucket: int  # start of the bucket, Unix ms
    state: str
    messages: int
    parts: int
    cost: int  # millicredits, as charged now (refunded messages cost nothing)


@valueclass
class MovementRow:
    bucket: int
    reason: str
    amount: int


class LedgerStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def entries(
        self, account_id: int, *, since: int | None, until: int | None, offset: int, limit: int
    ) -> list[LedgerEntry]:
        """Movements oldest first (a statement reads forward), `since` <= at < `until`."""
        other = aliased(accounts)
        query = (
            select(
                ledger.c.id,
                ledger.c.at,
                ledger.c.amount,
                ledger.c.reason,
                ledger.c.send_id,
                ledger.c.reference,
                other.c.login,
                ledger.c.note,
            )
            .outerjoin(other, other.c.id == ledger.c.counterparty_id)
            .where(ledger.c.account_id == account_id)
        )
        if since is not None:
            query = query.where(ledger.c.at >= since)
        if until is not None:
            query = query.where(ledger.c.at < until)
        query = query.order_by(ledger.c.id).offset(offset).limit(limit)
        async with self._db.reader.connect() as conn, conn.begin():
            rows = (await conn.execute(query)).all()
            if not rows:
                return []
            opening = await conn.scalar(
                select(func.coalesce(func.sum(ledger.c.amount), 0)).where(
                    ledger.c.account_id == account_id, ledger.c.id < rows[0].id
                )
            )
            # Rows between the page's first and last that the date filter left out still count.
            between = (
                await conn.execute(
                    select(ledger.c.id, ledger.c.amount).where(
                        ledger.c.account_id == account_id, ledger.c.id >= rows[0].id, ledger.c.id <= rows[-1].id
                    )
                )
            ).all()
        amounts = dict(sorted((row.id, int(row.amount)) for row in between))
        running = int(opening or 0)
        after: dict[int, int] = {}
        for entry_id, amount in amounts.items():
            running += amount
            after[entry_id] = running
        return [
            LedgerEntry(r.id, r.at, int(r.amount), r.reason, r.send_id, r.reference, r.login, r.note, after[r.id])
            for r in rows
        ]

    async def usage(self, account_id: int, since: int, until: int) -> tuple[list[UsageRow], list[MovementRow]]:
        """Messages of sends accepted in [since, until) by bucket and state, and ledger movements by bucket and
        reason."""
        bucket = (sends.c.created_at / BUCKET_MS).label("bucket")
        message_query = (
            select(
                bucket,
                messages.c.state,
                func.count().label("messages"),
                func.coalesce(func.sum(sends.c.segments), 0).label("parts"),
                func.coalesce(func.sum(messages.c.cost), 0).label("cost"),
            )
            .select_from(sends.join(messages, messages.c.send_id == sends.c.id))
            .where(sends.c.account_id == account_id, sends.c.created_at >= since, sends.c.created_at < until)
            .group_by(bucket, messages.c.state)
        )
        ledger_bucket = (ledger.c.at / BUCKET_MS).label("bucket")
        movement_query = (
            select(ledger_bucket, ledger.c.reason, func.sum(ledger.c.amount).label("amount"))
            .where(ledger.c.account_id == account_id, ledger.c.at >= since, ledger.c.at < until)
            .group_by(ledger_bucket, ledger.c.reason)
        )
        async with self._db.reader.connect() as conn:
            usage = [
                UsageRow(int(r.bucket) * BUCKET_MS, r.state, int(r.messages), int(r.parts), int(r.cost))
                for r in await conn.execute(message_query)
            ]
            movements = [
                MovementRow(int(r.bucket) * BUCKET_MS, r.reason, int(r.amount))
                for r in await conn.execute(movement_query)
            ]
        return usage, movements
