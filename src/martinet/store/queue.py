"""The engine's side of the store: releasing schedules, claiming work, recording what connectors said.

Work is claimed in batches with a lease (`lease_owner`, `lease_until`): a claimed message belongs to one engine
until its lease runs out, so an engine that dies loses nothing (its messages are claimed again once the lease
expires) and two engines never take the same message (`FOR UPDATE SKIP LOCKED` on PostgreSQL; on SQLite the
write lock makes the claim atomic).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Container, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, literal, literal_column, select, union_all, update
from sqlalchemy.engine import Connection

from martinet import metrics
from martinet.domain.lanes import Lane
from martinet.domain.receipts import Receipt
from martinet.domain.status import DEFAULT_CODE, FINAL_STATES, State, aggregate
from martinet.store import claims
from martinet.store.claims import ClaimCursor, ClaimedMessage
from martinet.store.database import Database
from martinet.store.outbox import REPORTED_STATES, enqueue_status, latest_history_id
from martinet.store.schema import (
    accounts,
    in_state,
    ledger,
    messages,
    parts,
    sends,
    status_history,
    unmatched_receipts,
)


@dataclass(frozen=True, slots=True)
class SendContent:
    id: str
    text: str
    encoding: str
    sender: str | None
    classe: int
    lane: str
    sandbox: bool
    account: str  # login, for routes that match on accounts


@dataclass(frozen=True, slots=True)
class Submitted:
    message_id: int
    connector: str
    carrier_ids: Sequence[str]
    reply_from: str | None = None  # the reply-capable sender used (classe_msg=4), to link replies back


@dataclass(frozen=True, slots=True)
class SubmitFailed:
    message_id: int
    connector: str
    temporary: bool
    code: int
    detail: str


@dataclass(frozen=True, slots=True)
class Retry:
    """No connector took the message this time: try again at `due_at` (backoff, capped by validity)."""

    message_id: int
    due_at: int
    detail: str


@dataclass(frozen=True, slots=True)
class Held:
    """Not to be sent before `due_at` (marketing quiet hours): back to scheduled, with the reason in history."""

    message_id: int
    due_at: int
    detail: str
    expires_at: int | None  # pushed back by the time held: waiting for the law is not the sender's delay


@dataclass(frozen=True, slots=True)
class Expired:
    message_id: int
    detail: str


@dataclass(slots=True)
class Outcome:
    """What one dispatch step decided for the messages it claimed; recorded in one transaction."""

    submitted: list[Submitted] = field(default_factory=list)
    failed: list[SubmitFailed] = field(default_factory=list)  # permanent: final, refunded
    retry: list[Retry] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
    expired: list[Expired] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.submitted) + len(self.failed) + len(self.retry) + len(self.held) + len(self.expired)


@dataclass(frozen=True, slots=True)
class PendingPart:
    connector: str
    carrier_id: str
    msisdn: str
    code: int


class QueueStore:
    def __init__(self, db: Database, now_ms: Callable[[], int]) -> None:
        self._db = db
        self._now_ms = now_ms

    async def release_scheduled(self, limit: int = 5000) -> int:
        """Move scheduled messages whose time has come into the queue."""
        now = self._now_ms()
        return await self._db.run_write(lambda conn: _release_scheduled(conn, now, limit))

    async def rematch_receipts(self, limit: int = 1000) -> int:
        """Apply kept receipts whose part has become known since; returns how many.

        `record` already adopts receipts that arrived before their submission was recorded, but on PostgreSQL a
        receipt transaction that started before the recording committed cannot see the new part and keeps the
        receipt aside after it; this sweep, run every second by the scheduler, applies such receipts.
        """
        now = self._now_ms()
        return await self._db.run_write(lambda conn: _rematch(conn, now, limit))

    async def expire_overdue(self, limit: int = 5000) -> int:
        """Expire queued messages whose validity ended (status 37, refunded), whether or not a connector is
        there to claim them; returns how many."""
        now = self._now_ms()
        expired, refunded = await self._db.run_write(lambda conn: _expire_overdue(conn, now, limit))
        metrics.credits_moved("refund", refunded)
        return expired

    async def release_leases(self, node: str) -> int:
        """Give back to the queue what earlier runs of this node had claimed (owners `node:<pid>`).

        A node that restarts takes its own unfinished work back at once instead of waiting for the leases to
        expire; work of other nodes is left to the lease. Delivery stays at least once: a part whose submission
        was recorded is never submitted again, one in flight at the crash may be.
        """
        now = self._now_ms()

        def work(conn: Connection) -> int:
            result = conn.execute(
                update(messages)
                .where(in_state(State.SUBMITTING), messages.c.lease_owner.like(f"{node}:%"))
                .values(state=State.QUEUED, lease_owner=None, lease_until=None, due_at=now)
            )
            return int(result.rowcount or 0)

        return await self._db.run_write(work)

    async def next_scheduled_at(self) -> int | None:
        async with self._db.reader.connect() as conn:
            return await conn.scalar(
                select(messages.c.due_at).where(in_state(State.SCHEDULED)).order_by(messages.c.due_at).limit(1)
            )

    async def claim(
        self,
        owner: str,
        *,
        lease_ms: int,
        budgets: Mapping[str, int],
        shared_budget: int,
        cursor: ClaimCursor,
        known: Container[str] = (),
        urgent: bool = False,
    ) -> tuple[list[ClaimedMessage], dict[str, SendContent]]:
        """Take due messages for `owner`, lane by lane in priority order (see `martinet.store.claims`), with
        the contents of their sends except those in `known` (read in the same transaction: one trip, not two).

        `urgent` claims (one-time passwords) take their turn at the database before this process's other
        writers (SQLite)."""
        now = self._now_ms()

        def work(conn: Connection) -> tuple[list[ClaimedMessage], dict[str, SendContent]]:
            claimed = claims.claim(
                conn,
                owner=owner,
                now=now,
                lease_ms=lease_ms,
                budgets=budgets,
                shared_budget=shared_budget,
                cursor=cursor,
            )
            missing = {m.send_id for m in claimed if m.send_id not in known}
            return claimed, _send_contents(conn, missing) if missing else {}

        return await self._db.run_write(work, urgent=urgent)

    async def take_back_abandoned(self) -> int:
        """Requeue messages whose lease expired (their engine died); run by the scheduler."""
        now = self._now_ms()
        return await self._db.run_write(lambda conn: claims.take_back_abandoned(conn, now))

    async def send_contents(self, send_ids: Collection[str]) -> dict[str, SendContent]:
        async with self._db.reader.connect() as conn:
            return await conn.run_sync(lambda sync: _send_contents(sync, send_ids))

    async def record(self, outcome: Outcome) -> None:
        """Store what the dispatcher decided and the connectors answered, in one transaction."""
        if not len(outcome):
            return
        now = self._now_ms()

        def work(conn: Connection) -> int:
            refunded = 0
            if outcome.submitted:
                _record_submitted(conn, outcome.submitted, now)
                _adopt_early_receipts(conn, outcome.submitted, now)
            if outcome.failed:
                refunded += _record_failed(conn, outcome.failed, now)
            if outcome.retry:
                _record_retry(conn, outcome.retry, now)
            if outcome.held:
                _record_held(conn, outcome.held, now)
            if outcome.expired:
                refunded += _record_expired(conn, outcome.expired, now)
            return refunded

        metrics.credits_moved("refund", await self._db.run_write(work))

    async def apply_receipts(self, receipts: Sequence[Receipt]) -> int:
        """Apply delivery receipts to their parts and roll them up into messages; keep unmatched ones.

        Returns how many receipts found their part.
        """
        if not receipts:
            return 0
        now = self._now_ms()
        latencies: list[tuple[str, float]] = []
        applied = await self._db.run_write(lambda conn: _apply_receipts(conn, receipts, now, latencies))
        metrics.observe_receipt_latencies(latencies)
        return applied

    async def pending_parts(self, connector: str) -> list[PendingPart]:
        """Parts handed to `connector` that have no final receipt yet."""
        query = (
            select(parts.c.connector, parts.c.carrier_id, messages.c.msisdn, parts.c.code)
            .join(messages, messages.c.id == parts.c.message_id)
            .where(parts.c.connector == connector, parts.c.state.not_in(list(FINAL_STATES)))
        )
        async with self._db.reader.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [PendingPart(*row) for row in rows]


def _send_contents(conn: Connection, send_ids: Collection[str]) -> dict[str, SendContent]:
    query = (
        select(
            sends.c.id,
            sends.c.text,
            sends.c.encoding,
            sends.c.sender,
            sends.c.classe,
            sends.c.lane,
            accounts.c.sandbox,
            accounts.c.login,
        )
        .join(accounts, accounts.c.id == sends.c.account_id)
        .where(sends.c.id.in_(list(send_ids)))
    )
    return {row.id: SendContent(*row) for row in conn.execute(query)}


def _history(conn: Connection, rows: Sequence[tuple[int, int, str, int, int | None, str | None]]) -> None:
    """Append status changes, and queue the callbacks that report them (`martinet.store.outbox`)."""
    before = latest_history_id(conn)
    conn.execute(
        insert(status_history),
        [
            {"message_id": mid, "at": at, "state": state, "code": code, "part_seq": seq, "detail": detail}
            for mid, at, state, code, seq, detail in rows
        ],
    )
    reported = {mid for mid, _at, state, *_ in rows if state in REPORTED_STATES}
    if reported:
        enqueue_status(conn, reported, before, max(at for _mid, at, *_ in rows))


def _record_submitted(conn: Connection, submitted: Sequence[Submitted], now: int) -> None:
    code = DEFAULT_CODE[State.SENT]
    conn.execute(
        update(messages)
        .where(messages.c.id == bindparam("mid"))
        .values(
            state=State.SENT,
            code=code,
            connector=bindparam("conn_name"),
            reply_from=bindparam("reply"),
            updated_at=now,
            lease_owner=None,
            lease_until=None,
            error=None,
        ),
        [{"mid": s.message_id, "conn_name": s.connector, "reply": s.reply_from} for s in submitted],
    )
    conn.execute(
        insert(parts),
        [
            {
                "message_id": s.message_id,
                "seq": seq,
                "connector": s.connector,
                "carrier_id": carrier_id,
                "state": State.SENT,
                "code": code,
                "submitted_at": now,
                "updated_at": now,
            }
            for s in submitted
            for seq, carrier_id in enumerate(s.carrier_ids, start=1)
        ],
    )
    _history(conn, [(s.message_id, now, State.SENT, code, None, s.connector) for s in submitted])


def _adopt_early_receipts(conn: Connection, submitted: Sequence[Submitted], now: int) -> None:
    """Apply receipts that arrived before their submission was recorded.

    A fast carrier can report a part before the dispatcher has stored the part's ID (the receipt races the
    recording transaction); such receipts wait in `unmatched_receipts` and are applied here, in the transaction
    that makes their part known.
    """
    by_connector: dict[str, list[str]] = {}
    for s in submitted:
        by_connector.setdefault(s.connector, []).extend(s.carrier_ids)
    early = [
        row
        for connector, ids in by_connector.items()
        for row in conn.execute(
            select(unmatched_receipts)
            .where(unmatched_receipts.c.connector == connector, unmatched_receipts.c.carrier_id.in_(ids))
            .order_by(unmatched_receipts.c.id)
        )
    ]
    if early:
        _take_back(conn, early, now)


def _rematch(conn: Connection, now: int, limit: int) -> int:
    rows = conn.execute(
        select(unmatched_receipts)
        .join(
            parts,
            (parts.c.connector == unmatched_receipts.c.connector)
            & (parts.c.carrier_id == unmatched_receipts.c.carrier_id),
        )
        .order_by(unmatched_receipts.c.id)
        .limit(limit)
    ).all()
    if not rows:
        return 0
    _take_back(conn, rows, now)
    return len(rows)


def _take_back(conn: Connection, rows: Sequence[Any], now: int) -> None:
    """Delete kept receipts (rows of `unmatched_receipts`) and apply them, in arrival order."""
    receipts = [
        Receipt(row.connector, row.carrier_id, State(row.state), row.code, row.received_at, row.detail or "")
        for row in rows
    ]
    conn.execute(delete(unmatched_receipts).where(unmatched_receipts.c.id.in_([row.id for row in rows])))
    _apply_receipts(conn, receipts, now)


def _record_failed(conn: Connection, failed: Sequence[SubmitFailed], now: int) -> int:
    conn.execute(
        update(messages)
        .where(messages.c.id == bindparam("mid"))
        .values(
            state=State.FAILED,
            code=bindparam("new_code"),
            lease_owner=None,
            lease_until=None,
            due_at=None,
            updated_at=now,
            error=bindparam("err"),
        ),
        [{"mid": f.message_id, "new_code": f.code, "err": f.detail} for f in failed],
    )
    _history(conn, [(f.message_id, now, State.FAILED, f.code, None, f.detail) for f in failed])
    return _refund(conn, [f.message_id for f in failed], now)


def _record_retry(conn: Connection, retry: Sequence[Retry], now: int) -> None:
    conn.execute(
        update(messages)
        .where(messages.c.id == bindparam("mid"))
        .values(
            state=State.QUEUED,
            due_at=bindparam("due"),
            lease_owner=None,
            lease_until=None,
            updated_at=now,
            error=bindparam("err"),
        ),
        [{"mid": r.message_id, "due": r.due_at, "err": r.detail} for r in retry],
    )


def _record_held(conn: Connection, held: Sequence[Held], now: int) -> None:
    code = DEFAULT_CODE[State.SCHEDULED]
    conn.execute(
        update(messages)
        .where(messages.c.id == bindparam("mid"))
        .values(
            state=State.SCHEDULED,
            code=code,
            due_at=bindparam("due"),
            expires_at=bindparam("until"),
            lease_owner=None,
            lease_until=None,
            updated_at=now,
        ),
        [{"mid": h.message_id, "due": h.due_at, "until": h.expires_at} for h in held],
    )
    _history(conn, [(h.message_id, now, State.SCHEDULED, code, None, h.detail) for h in held])


def _record_expired(conn: Connection, expired: Sequence[Expired], now: int) -> int:
    code = DEFAULT_CODE[State.EXPIRED]
    conn.execute(
        update(messages)
        .where(messages.c.id == bindparam("mid"))
        .values(
            state=State.EXPIRED,
            code=code,
            due_at=None,
            lease_owner=None,
            lease_until=None,
            updated_at=now,
            error=bindparam("err"),
        ),
        [{"mid": e.message_id, "err": e.detail} for e in expired],
    )
    _history(conn, [(e.message_id, now, State.EXPIRED, code, None, e.detail) for e in expired])
    return _refund(conn, [e.message_id for e in expired], now)


def _refund(conn: Connection, message_ids: list[int], now: int) -> int:
    """Give back the credits of messages that failed before leaving the gateway; returns the millicredits, for
    the caller to count once the transaction committed."""
    rows = (
        conn.execute(
            select(messages.c.account_id, messages.c.send_id, messages.c.cost).where(
                messages.c.id.in_(message_ids), messages.c.cost > 0
            )
        )
    ).all()
    if not rows:
        return 0
    conn.execute(
        insert(ledger),
        [
            {
                "account_id": r.account_id,
                "at": now,
                "amount": r.cost,
                "reason": "refund",
                "send_id": r.send_id,
            }
            for r in rows
        ],
    )
    totals: dict[int, int] = {}
    for r in rows:
        totals[r.account_id] = totals.get(r.account_id, 0) + r.cost
    conn.execute(
        update(accounts)
        .where(accounts.c.id == bindparam("acc"))
        .values(balance=accounts.c.balance + bindparam("amount_")),
        [{"acc": acc, "amount_": amount} for acc, amount in totals.items()],
    )
    conn.execute(update(messages).where(messages.c.id.in_(message_ids)).values(cost=0))
    return sum(totals.values())


def _apply_receipts(
    conn: Connection, receipts: Sequence[Receipt], now: int, latencies: list[tuple[str, float]] | None = None
) -> int:
    """Apply receipts in arrival order, each status change of a part recorded.

    A batch may hold several receipts of one part (an intermediate report and the final one arriving together
    when the writer is busy): they are applied in rounds, one receipt per part each, so the intermediate status
    gets its history row (and callback) before the final one instead of being overwritten in memory.
    """
    rounds: list[list[Receipt]] = []
    seen: dict[tuple[str, str], int] = {}
    for receipt in receipts:
        key = (receipt.connector, receipt.carrier_id)
        index = seen.get(key, -1) + 1
        seen[key] = index
        if index == len(rounds):
            rounds.append([])
        rounds[index].append(receipt)
    return sum(_apply_round(conn, batch, now, latencies) for batch in rounds)


def _apply_round(
    conn: Connection, receipts: Sequence[Receipt], now: int, latencies: list[tuple[str, float]] | None = None
) -> int:
    """Receipts (at most one per part) → parts → messages, in four statements whatever the batch size.

    One query reads every part of every message concerned together with the message's current status; the new
    part states are applied in memory, each message's status re-aggregated, and only real changes written.
    `latencies` collects (connector, seconds from submission) of the parts that became final, for the caller to
    observe once committed.
    """
    by_connector: dict[str, set[str]] = {}
    for r in receipts:
        by_connector.setdefault(r.connector, set()).update((r.carrier_id, *r.alternatives))
    touched = [
        select(parts.c.message_id).where(parts.c.connector == connector, parts.c.carrier_id.in_(sorted(ids)))
        for connector, ids in by_connector.items()
    ]
    rows = conn.execute(
        select(
            parts.c.id,
            parts.c.message_id,
            parts.c.connector,
            parts.c.carrier_id,
            parts.c.state,
            parts.c.code,
            parts.c.submitted_at,
            messages.c.state.label("message_state"),
            messages.c.code.label("message_code"),
        )
        .join(messages, messages.c.id == parts.c.message_id)
        .where(parts.c.message_id.in_(union_all(*touched).scalar_subquery()))
        .order_by(parts.c.message_id, parts.c.seq)
    ).all()
    part_by_key = {(row.connector, row.carrier_id): row for row in rows}
    part_status: dict[int, tuple[State, int]] = {row.id: (State(row.state), row.code) for row in rows}
    part_updates: dict[int, Receipt] = {}
    unmatched: list[Receipt] = []
    for r in receipts:
        row = next(
            (part_by_key[key] for key in _keys(r) if key in part_by_key),
            None,
        )
        if row is None:
            unmatched.append(r)
        elif part_status[row.id][0] not in FINAL_STATES:  # a late intermediate receipt never undoes a final one
            part_status[row.id] = (r.state, r.code)
            part_updates[row.id] = r
            if latencies is not None and r.state in FINAL_STATES:
                latencies.append((row.connector, max(0.0, (r.at - row.submitted_at) / 1000)))
    if part_updates:
        conn.execute(
            update(parts)
            .where(parts.c.id == bindparam("part_id"))
            .values(state=bindparam("new_state"), code=bindparam("new_code"), updated_at=bindparam("at_"))
            .execution_options(synchronize_session=False),
            [
                {"part_id": pid, "new_state": r.state, "new_code": r.code, "at_": r.at}
                for pid, r in part_updates.items()
            ],
        )
        _roll_up(conn, rows, part_status, part_updates, now)
    if unmatched:
        conn.execute(
            insert(unmatched_receipts),
            [
                {
                    "connector": r.connector,
                    "carrier_id": r.carrier_id,
                    "received_at": r.at,
                    "state": r.state,
                    "code": r.code,
                    "detail": r.detail,
                }
                for r in unmatched
            ],
        )
    return len(part_updates)


def _keys(receipt: Receipt) -> list[tuple[str, str]]:
    return [(receipt.connector, carrier_id) for carrier_id in (receipt.carrier_id, *receipt.alternatives)]


def _roll_up(
    conn: Connection,
    rows: Sequence[Any],  # rows of the query in _apply_receipts
    part_status: dict[int, tuple[State, int]],
    part_updates: dict[int, Receipt],
    now: int,
) -> None:
    """Write the messages whose aggregated status changed, with a history row carrying the carrier's detail."""
    grouped: dict[int, list[int]] = {}
    current: dict[int, tuple[str, int]] = {}
    for row in rows:
        grouped.setdefault(row.message_id, []).append(row.id)
        current[row.message_id] = (row.message_state, row.message_code)
    changes = []
    for message_id, part_ids in grouped.items():
        receipt = next((part_updates[p] for p in part_ids if p in part_updates), None)
        if receipt is None:
            continue
        state, code = aggregate([part_status[p] for p in part_ids])
        if current[message_id] != (state, code):
            changes.append((message_id, state, code, receipt))
    if not changes:
        return
    conn.execute(
        update(messages)
        .where(messages.c.id == bindparam("mid"))
        .values(state=bindparam("new_state"), code=bindparam("new_code"), updated_at=now),
        [{"mid": mid, "new_state": state, "new_code": code} for mid, state, code, _ in changes],
    )
    _history(conn, [(mid, r.at, state, code, None, r.detail) for mid, state, code, r in changes])


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
    refunded = _record_expired(conn, [Expired(i, "validity ended while waiting for a connector") for i in ids], now)
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
        _history(conn, [(i, now, State.QUEUED, DEFAULT_CODE[State.QUEUED], None, None) for i in ids])
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
