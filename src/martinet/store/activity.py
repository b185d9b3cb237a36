"""What the web console reads that no other door asks for: an account's traffic over time, a send's status
history, the queue per account, and the list of accounts.

Every query that reads an account's data takes its id and filters on it, so a page can show only its caller's
messages. Counts read the send index (`ix_sends_account_created`) by acceptance time, so a dashboard over 30 days
reads that window only. Time buckets are computed in SQL with integer (floor) division of millisecond timestamps,
which SQLite and PostgreSQL evaluate alike on integers (`//`: SQLAlchemy's `/` would divide exactly on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select

from martinet.domain.status import FINAL_STATES, State
from martinet.domain.valueclass import valueclass
from martinet.store.accounts import _ACCOUNT_COLUMNS, Account, _account
from martinet.store.database import Database
from martinet.store.schema import accounts, in_state, messages, parts, sends, status_history

#: At most this many delivered messages are read to compute the median time to delivery.
DELIVERY_SAMPLE = 5000


@valueclass
class Bucket:
    start: int  # Unix ms of the bucket's start (in the caller's offset)
    state: str
    count: int


@valueclass
class HistoryEntry:
    seq: int  # the recipient's position in its send
    at: int
    state: str
    code: int
    part_seq: int | None
    detail: str | None


@valueclass
class PartFacts:
    seq: int  # the recipient's position in its send
    part: int
    connector: str
    carrier_id: str
    state: str
    code: int
    submitted_at: int
    updated_at: int


@valueclass
class AccountLine:
    account: Account
    balance: int
    created_at: int


@valueclass
class SendCounts:
    """A send's recipients by current state, and what they cost."""

    states: Mapping[str, int]
    cost: int

    @property
    def total(self) -> int:
        return sum(self.states.values())

    @property
    def moving(self) -> bool:
        """Some recipient is on its way (neither final nor waiting for its schedule)."""
        return any(state not in FINAL_STATES and state != State.SCHEDULED for state in self.states)

    @property
    def scheduled(self) -> bool:
        return State.SCHEDULED in self.states

    @property
    def fingerprint(self) -> str:
        """Changes whenever a recipient changes state: what the page's polling compares."""
        return ".".join(f"{state}{count}" for state, count in sorted(self.states.items()))


class ActivityStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def send_counts(self, account_id: int, send_id: str) -> SendCounts:
        """One statement: the send's messages by state (empty for an unknown send, or another account's): what
        a send's page shows and its polling compares."""
        query = (
            select(messages.c.state, func.count(), func.sum(messages.c.cost))
            .where(messages.c.send_id == send_id, messages.c.account_id == account_id)
            .group_by(messages.c.state)
        )
        async with self._db.reader.connect() as conn:
            rows = (await conn.execute(query)).all()
        return SendCounts(
            {str(state): int(count) for state, count, _ in rows}, sum(int(cost or 0) for *_, cost in rows)
        )

    async def page_details(
        self, account_id: int, send_id: str, first_seq: int, last_seq: int
    ) -> tuple[list[HistoryEntry], list[PartFacts]]:
        """The status history and the parts of the send's recipients `first_seq` to `last_seq` (one page of a
        send's recipients: a send of 100,000 is never read whole for a page)."""
        in_page: Any = (
            messages.c.send_id == send_id,
            messages.c.account_id == account_id,
            messages.c.seq.between(first_seq, last_seq),
        )
        history = (
            select(
                messages.c.seq,
                status_history.c.at,
                status_history.c.state,
                status_history.c.code,
                status_history.c.part_seq,
                status_history.c.detail,
            )
            .select_from(status_history.join(messages, messages.c.id == status_history.c.message_id))
            .where(*in_page)
            .order_by(messages.c.seq, status_history.c.id)
        )
        handed = (
            select(
                messages.c.seq,
                parts.c.seq,
                parts.c.connector,
                parts.c.carrier_id,
                parts.c.state,
                parts.c.code,
                parts.c.submitted_at,
                parts.c.updated_at,
            )
            .select_from(parts.join(messages, messages.c.id == parts.c.message_id))
            .where(*in_page)
            .order_by(messages.c.seq, parts.c.seq)
        )
        async with self._db.reader.connect() as conn:
            entries = [HistoryEntry(*row) for row in await conn.execute(history)]
            handed_parts = [PartFacts(*row) for row in await conn.execute(handed)]
        return entries, handed_parts

    async def counts_by_state(self, account_id: int, since: int) -> dict[str, int]:
        """Messages accepted since `since`, by their current state."""
        query = (
            select(messages.c.state, func.count())
            .select_from(messages.join(sends, sends.c.id == messages.c.send_id))
            .where(sends.c.account_id == account_id, sends.c.created_at >= since)
            .group_by(messages.c.state)
        )
        async with self._db.reader.connect() as conn:
            return {state: int(count) for state, count in await conn.execute(query)}

    async def series(self, account_id: int, since: int, bucket_ms: int, offset_ms: int = 0) -> list[Bucket]:
        """Messages accepted since `since` per time bucket (`bucket_ms` long, aligned on the local time of
        `offset_ms`) and current state, oldest first."""
        bucket = (sends.c.created_at + offset_ms) // bucket_ms  # integer division on both databases
        query = (
            select(bucket.label("bucket"), messages.c.state, func.count())
            .select_from(messages.join(sends, sends.c.id == messages.c.send_id))
            .where(sends.c.account_id == account_id, sends.c.created_at >= since)
            .group_by(bucket, messages.c.state)
            .order_by(bucket)
        )
        async with self._db.reader.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Bucket(int(b) * bucket_ms - offset_ms, state, int(count)) for b, state, count in rows]

    async def delivery_times(self, account_id: int, since: int) -> list[int]:
        """Milliseconds from acceptance to the final "received" status, of the latest delivered messages."""
        query = (
            select(messages.c.updated_at - sends.c.created_at)
            .select_from(messages.join(sends, sends.c.id == messages.c.send_id))
            .where(sends.c.account_id == account_id, sends.c.created_at >= since, in_state("delivered"))
            .order_by(sends.c.created_at.desc())
            .limit(DELIVERY_SAMPLE)
        )
        async with self._db.reader.connect() as conn:
            return [max(0, int(value)) for (value,) in await conn.execute(query)]

    async def send_cancelled_at(self, account_id: int, send_id: str) -> int | None:
        query = select(sends.c.cancelled_at).where(sends.c.id == send_id, sends.c.account_id == account_id)
        async with self._db.reader.connect() as conn:
            value = await conn.scalar(query)
        return None if value is None else int(value)

    async def queue_by_account(self) -> list[tuple[str, str, str, int]]:
        """(lane, login, state, count) of the messages waiting: queued (due) and scheduled (later)."""
        waiting = select(messages.c.lane, messages.c.account_id, messages.c.state, func.count().label("n")).where(
            messages.c.state.in_(["queued", "scheduled", "submitting"])
        )
        grouped = waiting.group_by(messages.c.lane, messages.c.account_id, messages.c.state).subquery()
        query = (
            select(grouped.c.lane, accounts.c.login, grouped.c.state, grouped.c.n)
            .select_from(grouped.join(accounts, accounts.c.id == grouped.c.account_id))
            .order_by(grouped.c.lane, accounts.c.login, grouped.c.state)
        )
        async with self._db.reader.connect() as conn:
            return [(lane, login, state, int(n)) for lane, login, state, n in await conn.execute(query)]

    async def accounts(self, limit: int = 500) -> list[AccountLine]:
        """Accounts by login, with their balance, for the operator's list."""
        query = (
            select(*_ACCOUNT_COLUMNS, accounts.c.balance, accounts.c.created_at).order_by(accounts.c.login).limit(limit)
        )
        async with self._db.reader.connect() as conn:
            rows: Sequence[Any] = (await conn.execute(query)).all()
        return [AccountLine(_account(row), int(row[-2]), int(row[-1])) for row in rows]
