"""What clients ask about their sends: per-recipient reports, history pages, cancellations.

`lanes` limits each to the sends of those lanes (an API key limited to lanes sees and cancels only its lanes'
sends); None means every lane.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.engine import Connection

from martinet import metrics
from martinet.domain.status import DEFAULT_CODE, State
from martinet.domain.valueclass import valueclass
from martinet.store.database import Database
from martinet.store.outbox import enqueue_status, latest_history_id
from martinet.store.schema import accounts, ledger, messages, sends, status_history


@valueclass
class SendSummary:
    id: str
    created_at: int
    scheduled_at: int | None
    text: str
    first_recipient: str
    cost: int
    recipient_count: int


@valueclass
class Cancelled:
    send_id: str
    refunded: int
    messages: int


class ReportStore:
    def __init__(self, db: Database, now_ms: Callable[[], int]) -> None:
        self._db = db
        self._now_ms = now_ms

    async def recipient_codes(
        self, account_id: int, send_id: str, lanes: Collection[str] | None = None
    ) -> list[tuple[str, int]] | None:
        """(msisdn, code) per recipient in the order given, or None when the account has no such live send."""
        async with self._db.reader.connect() as conn:
            owner = (
                await conn.execute(
                    select(sends.c.account_id, sends.c.lane).where(
                        sends.c.id == send_id, sends.c.cancelled_at.is_(None)
                    )
                )
            ).first()
            if owner is None or not _yours(owner, account_id, lanes):
                return None
            rows = await conn.execute(
                select(messages.c.msisdn, messages.c.code).where(messages.c.send_id == send_id).order_by(messages.c.id)
            )
            return [(row.msisdn, row.code) for row in rows]

    async def list_sends(
        self, account_id: int, start: int, count: int, lanes: Collection[str] | None = None
    ) -> list[SendSummary]:
        """Newest first. A recipient stands for the send, the recipient count following it: the lowest valid
        number, or the lowest entry refused at acceptance when none is valid (those have no country)."""
        first = func.coalesce(
            select(func.min(messages.c.msisdn))
            .where(messages.c.send_id == sends.c.id, messages.c.country.is_not(None))
            .scalar_subquery(),
            select(func.min(messages.c.msisdn)).where(messages.c.send_id == sends.c.id).scalar_subquery(),
        )
        query = (
            select(
                sends.c.id,
                sends.c.created_at,
                sends.c.scheduled_at,
                sends.c.text,
                first,
                sends.c.cost,
                sends.c.recipient_count,
            )
            .where(sends.c.account_id == account_id, sends.c.cancelled_at.is_(None))
            .order_by(sends.c.created_at.desc(), sends.c.id.desc())
            .offset(start)
            .limit(count)
        )
        if lanes is not None:
            query = query.where(sends.c.lane.in_(list(lanes)))
        async with self._db.reader.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [SendSummary(r[0], r[1], r[2], r[3], r[4] or "", r[5], r[6]) for r in rows]

    async def latest_scheduled_send_to(
        self, account_id: int, msisdn: str, lanes: Collection[str] | None = None
    ) -> str | None:
        query = (
            select(sends.c.id)
            .join(messages, messages.c.send_id == sends.c.id)
            .where(
                sends.c.account_id == account_id,
                messages.c.msisdn == msisdn,
                messages.c.state == State.SCHEDULED,
            )
            .order_by(sends.c.created_at.desc())
            .limit(1)
        )
        if lanes is not None:
            query = query.where(sends.c.lane.in_(list(lanes)))
        async with self._db.reader.connect() as conn:
            return await conn.scalar(query)

    async def cancel_scheduled(
        self, account_id: int, send_id: str, seq: int | None = None, lanes: Collection[str] | None = None
    ) -> Cancelled | None:
        """Cancel the still-scheduled messages of a send (or only its recipient at position `seq`) and refund
        them, atomically.

        None when there is nothing to cancel (unknown send, someone else's, or already left or cancelled). The
        scheduled messages are read locked (`FOR UPDATE`): on PostgreSQL, a cancel running at the same moment
        on another node waits for ours, then finds them cancelled and refunds nothing, and the scheduler cannot
        release one between our read and our update (SQLite writes one transaction at a time anyway).
        """
        now = self._now_ms()
        async with self._db.write() as conn:
            owner = (await conn.execute(select(sends.c.account_id, sends.c.lane).where(sends.c.id == send_id))).first()
            if owner is None or not _yours(owner, account_id, lanes):
                return None
            scheduled = and_(messages.c.send_id == send_id, messages.c.state == State.SCHEDULED)
            if seq is not None:
                scheduled = and_(scheduled, messages.c.seq == seq)
            rows = (
                await conn.execute(
                    select(messages.c.id, messages.c.cost, messages.c.send_id)
                    .where(scheduled)
                    .with_for_update(of=messages)
                )
            ).all()
            if not rows:
                return None
            refund = await conn.run_sync(
                lambda sync: cancel_messages(sync, account_id, rows, now, "scheduled send cancelled")
            )
        metrics.credits_moved("refund", refund)  # committed: the block above ended without raising
        return Cancelled(send_id, refund, len(rows))


#: Message ids per statement: PostgreSQL's drivers take at most 32,767 parameters, and a campaign has 100,000.
_CHUNK = 10_000


def cancel_messages(conn: Connection, account_id: int, rows: Sequence[Any], now: int, note: str) -> int:
    """Cancel scheduled messages (`rows`: their id, cost and send_id, read `FOR UPDATE` by the caller) of one
    account and refund them, in the caller's write transaction: a cancelled status (a final one, `50`, so that a
    send reads as finished once its other recipients are) with its report for each, their cost set to 0 as the
    engine's refunds do (usage counts what messages cost as they stand), one refund row per send, and a send none
    of whose messages is left marked cancelled. Returns the millicredits refunded."""
    ids = [row.id for row in rows]
    code = DEFAULT_CODE[State.CANCELLED]
    before = latest_history_id(conn)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        conn.execute(
            update(messages)
            .where(messages.c.id.in_(chunk))
            .values(state=State.CANCELLED, code=code, cost=0, updated_at=now, due_at=None)
        )
        conn.execute(
            insert(status_history),
            [
                {"message_id": i, "at": now, "state": State.CANCELLED, "code": code, "detail": "cancelled"}
                for i in chunk
            ],
        )
        enqueue_status(conn, chunk, before, now)  # the cancellation reports
    refunds: dict[str, int] = {}
    for row in rows:
        refunds[row.send_id] = refunds.get(row.send_id, 0) + row.cost
    for send_id, refund in refunds.items():
        remaining = conn.scalar(
            select(func.count())
            .select_from(messages)
            .where(
                # Recipients refused at acceptance (invalid, unpriced) never left either.
                messages.c.send_id == send_id,
                messages.c.state.not_in([State.CANCELLED, State.FAILED]),
            )
        )
        if not remaining:
            conn.execute(update(sends).where(sends.c.id == send_id).values(cancelled_at=now))
        if refund:
            conn.execute(
                insert(ledger).values(
                    account_id=account_id, at=now, amount=refund, reason="refund", send_id=send_id, note=note
                )
            )
    total = sum(refunds.values())
    if total:
        conn.execute(update(accounts).where(accounts.c.id == account_id).values(balance=accounts.c.balance + total))
    return total


def _yours(owner: Any, account_id: int, lanes: Collection[str] | None) -> bool:
    """Whether a send (its account and lane) is the caller's to see."""
    return bool(owner.account_id == account_id and (lanes is None or owner.lane in lanes))
