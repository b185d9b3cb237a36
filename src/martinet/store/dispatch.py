"""The dispatcher's side of the store: claiming due work and recording what the connectors said of it.

Work is claimed in batches with a lease (`lease_owner`, `lease_until`): a claimed message belongs to one engine
until its lease runs out, so an engine that dies loses nothing (its messages are claimed again once the lease
expires) and two engines never take the same message (`FOR UPDATE SKIP LOCKED` on PostgreSQL; on SQLite the
write lock makes the claim atomic). The clock's side (releasing schedules, expiring, taking back expired leases)
is in `martinet.store.scheduler`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Container, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, insert, null, select, update
from sqlalchemy.engine import Connection

from martinet import metrics
from martinet.domain.status import DEFAULT_CODE, State
from martinet.domain.valueclass import valueclass
from martinet.store import claims
from martinet.store.bulk import ManyRows, insert_rows
from martinet.store.claims import ClaimCursor, ClaimedMessage
from martinet.store.database import SMALL_WRITE, Database, Turn
from martinet.store.history import append_history
from martinet.store.receipts import adopt_early_receipts
from martinet.store.schema import (
    accounts,
    in_state,
    ledger,
    messages,
    parts,
    sends,
)


@valueclass
class SendContent:
    id: str
    text: str
    encoding: str
    sender: str | None
    classe: int
    lane: str
    sandbox: bool
    account: str  # login, for routes that match on accounts
    channel: str = "sms"  # "voice": a call reading the text (domain/voice.py)
    voice_title: str | None = None
    voice_language: str | None = None


@valueclass
class Submitted:
    message_id: int
    connector: str
    carrier_ids: Sequence[str]
    reply_from: str | None = None  # the reply-capable sender used (classe_msg=4), to link replies back
    receipt_due: int | None = None  # when its final receipt is overdue (Unix ms): the connector's deadline


@valueclass
class SubmitFailed:
    message_id: int
    connector: str
    temporary: bool
    code: int
    detail: str


@valueclass
class Retry:
    """No connector took the message this time: try again at `due_at` (backoff, capped by validity)."""

    message_id: int
    due_at: int
    detail: str


@valueclass
class Held:
    """Not to be sent before `due_at` (marketing quiet hours): back to scheduled, with the reason in history."""

    message_id: int
    due_at: int
    detail: str
    expires_at: int | None  # pushed back by the time held: waiting for the law is not the sender's delay


@valueclass
class Expired:
    message_id: int
    detail: str


@dataclass(slots=True)
class DispatchOutcome:
    """What one dispatch step decided for the messages it claimed; recorded in one transaction."""

    submitted: list[Submitted] = field(default_factory=list)
    failed: list[SubmitFailed] = field(default_factory=list)  # permanent: final, refunded
    retry: list[Retry] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
    expired: list[Expired] = field(default_factory=list)
    # When the earliest of their claims' leases ends (Unix ms, by the dispatcher's clock): until then no other
    # engine may take these messages back. None: not known.
    lease_until: int | None = None

    def __len__(self) -> int:
        return len(self.submitted) + len(self.failed) + len(self.retry) + len(self.held) + len(self.expired)

    @classmethod
    def merged(cls, outcomes: Sequence[DispatchOutcome]) -> DispatchOutcome:
        """The decisions of `outcomes` together, under the earliest of their leases."""
        leases = [o.lease_until for o in outcomes if o.lease_until is not None]
        return cls(
            submitted=[s for o in outcomes for s in o.submitted],
            failed=[f for o in outcomes for f in o.failed],
            retry=[r for o in outcomes for r in o.retry],
            held=[h for o in outcomes for h in o.held],
            expired=[e for o in outcomes for e in o.expired],
            lease_until=min(leases) if leases else None,
        )

    def message_ids(self) -> list[int]:
        return [m.message_id for items in self._kinds() for m in items]

    def only(self, kept: Container[int]) -> DispatchOutcome:
        """The decisions about the messages in `kept`."""
        return DispatchOutcome(
            submitted=[s for s in self.submitted if s.message_id in kept],
            failed=[f for f in self.failed if f.message_id in kept],
            retry=[r for r in self.retry if r.message_id in kept],
            held=[h for h in self.held if h.message_id in kept],
            expired=[e for e in self.expired if e.message_id in kept],
            lease_until=self.lease_until,
        )

    def _kinds(self) -> tuple[Sequence[Submitted | SubmitFailed | Retry | Held | Expired], ...]:
        return (self.submitted, self.failed, self.retry, self.held, self.expired)


class DispatchStore:
    def __init__(self, db: Database, now_ms: Callable[[], int]) -> None:
        self._db = db
        self._now_ms = now_ms

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

        return await self._db.run_write(
            work,
            turn=Turn.URGENT if urgent else Turn.NORMAL,
            small=claims.most_claimed(budgets, shared_budget) <= SMALL_WRITE,
        )

    async def send_contents(self, send_ids: Collection[str]) -> dict[str, SendContent]:
        async with self._db.reader.connect() as conn:
            return await conn.run_sync(lambda sync: _send_contents(sync, send_ids))

    async def record(self, outcome: DispatchOutcome, *, owner: str | None = None) -> list[int]:
        """Store what the dispatcher decided and the connectors answered, in one transaction; returns the
        messages left out (none unless `owner` is given).

        With `owner`, only the messages still claimed by `owner` are recorded: an outcome written after its
        claim's lease may have run out must not undo what the engine that took the message back has done with
        it since (sent it again, had it delivered). Without it the outcome is written as it is, which is what
        the dispatcher does while the lease is surely its own: the check costs a query.

        Submissions take their turn at the database before the engine's other writes (SQLite): their parts hold
        the connector's window until they are recorded, so every millisecond here is throughput.
        """
        if not len(outcome):
            return []
        now = self._now_ms()
        left_out: list[int] = []

        def work(conn: Connection) -> int:
            todo = outcome
            if owner is not None:
                ids = outcome.message_ids()
                kept = _still_claimed(conn, ids, owner)
                left_out.extend(sorted(set(ids) - kept))
                todo = outcome.only(kept)
            refunded = 0
            if todo.submitted:
                _record_submitted(conn, todo.submitted, now)
                adopt_early_receipts(conn, _carrier_ids(todo.submitted), now)
            if todo.failed:
                refunded += _record_failed(conn, todo.failed, now)
            if todo.retry:
                _record_retry(conn, todo.retry, now)
            if todo.held:
                _record_held(conn, todo.held, now)
            if todo.expired:
                refunded += record_expired(conn, todo.expired, now)
            return refunded

        recorded = await self._db.run_write(
            work, turn=Turn.URGENT if outcome.submitted else Turn.NORMAL, small=len(outcome) <= SMALL_WRITE
        )
        metrics.credits_moved("refund", recorded)
        return left_out


def _still_claimed(conn: Connection, message_ids: list[int], owner: str) -> set[int]:
    """Those of `message_ids` that `owner` still holds: being submitted under its lease, not taken back."""
    rows = conn.execute(
        select(messages.c.id).where(
            messages.c.id.in_(message_ids), messages.c.lease_owner == owner, in_state(State.SUBMITTING)
        )
    )
    return {row[0] for row in rows}


#: The contents of some sends: built once, since every claim of the dispatcher reads the sends it has not seen.
_SEND_CONTENTS = (
    select(
        sends.c.id,
        sends.c.text,
        sends.c.encoding,
        sends.c.sender,
        sends.c.classe,
        sends.c.lane,
        accounts.c.sandbox,
        accounts.c.login,
        sends.c.channel,
        sends.c.voice_title,
        sends.c.voice_language,
    )
    .join(accounts, accounts.c.id == sends.c.account_id)
    .where(sends.c.id.in_(bindparam("send_ids", expanding=True)))
)


def _send_contents(conn: Connection, send_ids: Collection[str]) -> dict[str, SendContent]:
    return {row[0]: SendContent(*row) for row in conn.execute(_SEND_CONTENTS, {"send_ids": list(send_ids)})}


_SENT = ManyRows(
    update(messages)
    .where(messages.c.id == bindparam("mid"))
    .values(
        state=bindparam("state_"),
        code=bindparam("code_"),
        connector=bindparam("conn_name"),
        reply_from=bindparam("reply"),
        updated_at=bindparam("now_"),
        lease_owner=null(),
        lease_until=null(),
        error=null(),
    ),
    ("mid", "state_", "code_", "conn_name", "reply", "now_"),
)
_PART_COLUMNS = (
    "message_id",
    "seq",
    "connector",
    "carrier_id",
    "state",
    "code",
    "submitted_at",
    "updated_at",
    "receipt_due",
)


def _record_submitted(conn: Connection, submitted: Sequence[Submitted], now: int) -> None:
    code = DEFAULT_CODE[State.SENT]
    sent = str(State.SENT)
    _SENT.execute(conn, [(s.message_id, sent, code, s.connector, s.reply_from, now) for s in submitted])
    insert_rows(
        conn,
        parts,
        _PART_COLUMNS,
        [
            (s.message_id, seq, s.connector, carrier_id, str(State.SENT), code, now, now, s.receipt_due)
            for s in submitted
            for seq, carrier_id in enumerate(s.carrier_ids, start=1)
        ],
        copy=False,
    )
    append_history(conn, [(s.message_id, now, State.SENT, code, None, s.connector) for s in submitted])


def _carrier_ids(submitted: Sequence[Submitted]) -> dict[str, list[str]]:
    by_connector: dict[str, list[str]] = {}
    for s in submitted:
        by_connector.setdefault(s.connector, []).extend(s.carrier_ids)
    return by_connector


# A message that ends here (failed, or expired): out of the queue and its lease, with its code and the reason.
_ENDED = ManyRows(
    update(messages)
    .where(messages.c.id == bindparam("mid"))
    .values(
        state=bindparam("state_"),
        code=bindparam("code_"),
        due_at=null(),
        lease_owner=null(),
        lease_until=null(),
        updated_at=bindparam("now_"),
        error=bindparam("err"),
    ),
    ("mid", "state_", "code_", "now_", "err"),
)


def _record_failed(conn: Connection, failed: Sequence[SubmitFailed], now: int) -> int:
    state = str(State.FAILED)
    _ENDED.execute(conn, [(f.message_id, state, f.code, now, f.detail) for f in failed])
    append_history(conn, [(f.message_id, now, State.FAILED, f.code, None, f.detail) for f in failed])
    return _refund(conn, [f.message_id for f in failed], now)


_RETRY = ManyRows(
    update(messages)
    .where(messages.c.id == bindparam("mid"))
    .values(
        state=bindparam("state_"),
        due_at=bindparam("due"),
        lease_owner=null(),
        lease_until=null(),
        updated_at=bindparam("now_"),
        error=bindparam("err"),
    ),
    ("mid", "state_", "due", "now_", "err"),
)


def _record_retry(conn: Connection, retry: Sequence[Retry], now: int) -> None:
    state = str(State.QUEUED)
    _RETRY.execute(conn, [(r.message_id, state, r.due_at, now, r.detail) for r in retry])


_HELD = ManyRows(
    update(messages)
    .where(messages.c.id == bindparam("mid"))
    .values(
        state=bindparam("state_"),
        code=bindparam("code_"),
        due_at=bindparam("due"),
        expires_at=bindparam("until"),
        lease_owner=null(),
        lease_until=null(),
        updated_at=bindparam("now_"),
    ),
    ("mid", "state_", "code_", "due", "until", "now_"),
)


def _record_held(conn: Connection, held: Sequence[Held], now: int) -> None:
    code, state = DEFAULT_CODE[State.SCHEDULED], str(State.SCHEDULED)
    _HELD.execute(conn, [(h.message_id, state, code, h.due_at, h.expires_at, now) for h in held])
    append_history(conn, [(h.message_id, now, State.SCHEDULED, code, None, h.detail) for h in held])


def record_expired(conn: Connection, expired: Sequence[Expired], now: int) -> int:
    """Shared with the scheduler's sweep (`martinet.store.scheduler`), which expires what no dispatcher claimed;
    returns the millicredits refunded."""
    code, state = DEFAULT_CODE[State.EXPIRED], str(State.EXPIRED)
    _ENDED.execute(conn, [(e.message_id, state, code, now, e.detail) for e in expired])
    append_history(conn, [(e.message_id, now, State.EXPIRED, code, None, e.detail) for e in expired])
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
