"""The callbacks outbox, from the notifier's and the operator's side: claiming due callbacks, recording how
their delivery went, listing and replaying them, and the accounts' signing secrets.

Claims follow `martinet.store.claims`: `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`, so
engines sharing a PostgreSQL database never take the same callback. A claimed callback stays `pending`; its
lease pushes `next_at` to the lease's end, so a callback whose engine died is due again when the lease runs out,
and it still blocks the later callbacks of its `order_key` (only the oldest pending one of a key is eligible).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from typing import Any, Literal, NamedTuple

import orjson
from sqlalchemy import bindparam, exists, func, literal, literal_column, null, select, union_all, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FromClause, Update

from martinet.domain.resources import MessageFacts, ReplyFacts, message_resource, reply_resource
from martinet.domain.routing import OperatorLookup
from martinet.domain.valueclass import valueclass
from martinet.domain.webhooks import event_id, reply_event_id, reply_params, status_params
from martinet.store.accounts import UnknownAccount
from martinet.store.bulk import ListStatement, ManyRows
from martinet.store.database import SMALL_WRITE, Database
from martinet.store.schema import accounts, callbacks, inbound_messages, messages, sends, status_history

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
STATES = (PENDING, DELIVERED, FAILED)

#: What a callback reports: a status change (a `status_history` row) or a reply (an `inbound_messages` row).
CallbackKind = Literal["status", "reply"]

#: `sends.callback_format` of the sends whose callbacks post the REST resources (sends of the REST door).
JSON_FORMAT = "json"


def _state_is(table: FromClause, state: str) -> ColumnElement[bool]:
    """`state = '<state>'` as a constant (see `in_state` in schema.py: the partial index needs the literal)."""
    if state not in STATES:
        raise ValueError(f"not a callback state: {state!r}")
    result: ColumnElement[bool] = table.c.state == literal_column(f"'{state}'")
    return result


@valueclass
class DueCallback:
    """A claimed callback with everything its request needs: the smsmode parameters (a delivery report or a
    reply, see `martinet.domain.webhooks`) and the event id the receiver de-duplicates on. `kind` says which of
    the two it is, as the outbox row records it.

    `body` is set for the callbacks of a send made through the REST door: the JSON resource, posted (and signed)
    as it is, instead of a GET carrying `params`, which is then empty.
    """

    id: int
    url: str
    attempts: int
    created_at: int
    account_id: int
    secret: str
    event: str
    kind: CallbackKind
    params: dict[str, str]
    body: bytes | None = None


@valueclass
class CallbackResult:
    """How a claimed callback ended this time. `state` is the new state; `next_at` for a pending one."""

    id: int
    state: str
    attempted: bool
    next_at: int | None = None
    status: int | None = None
    error: str | None = None


@valueclass
class CallbackRow:
    id: int
    login: str
    state: str
    attempts: int
    url: str
    history_id: int | None
    created_at: int
    next_at: int
    delivered_at: int | None
    last_status: int | None
    last_error: str | None
    inbound_id: int | None  # a reply callback's reply (its event is `r<id>`; a status callback's `h<history_id>`)


_cand = callbacks.alias("cand")
_older = callbacks.alias("older")

_CANDIDATES = (
    select(_cand.c.id)
    .where(
        _state_is(_cand, PENDING),
        _cand.c.next_at <= bindparam("now_"),
        ~exists(
            select(_older.c.id).where(
                _older.c.order_key == _cand.c.order_key,
                _state_is(_older, PENDING),
                _older.c.id < _cand.c.id,
            )
        ),
    )
    .order_by(_cand.c.next_at, _cand.c.id)
    .limit(bindparam("limit_"))
    .with_for_update(skip_locked=True)
)

_CLAIM = (
    update(callbacks)
    .where(callbacks.c.id.in_(_CANDIDATES.scalar_subquery()))
    .values(lease_owner=bindparam("owner_"), lease_until=bindparam("until_"), next_at=bindparam("until_"))
    .returning(callbacks.c.id, callbacks.c.kind)
)

_DETAILS = (
    select(
        callbacks.c.id,
        callbacks.c.url,
        callbacks.c.attempts,
        callbacks.c.created_at,
        callbacks.c.kind,
        callbacks.c.history_id,
        callbacks.c.account_id,
        accounts.c.webhook_secret,
        status_history.c.at,
        status_history.c.state,
        status_history.c.code,
        messages.c.msisdn,
        messages.c.cost,
        messages.c.seq,
        sends.c.id.label("send_id"),
        func.coalesce(messages.c.ref_client, sends.c.ref_client).label("ref_client"),  # personalised: its own
        sends.c.callback_format,
        sends.c.created_at.label("accepted_at"),
        sends.c.lane,
        func.coalesce(messages.c.sender, sends.c.sender).label("sender"),
        func.coalesce(messages.c.text, sends.c.text).label("text"),
        sends.c.encoding,
        func.coalesce(messages.c.segments, sends.c.segments).label("segments"),
        sends.c.scheduled_at,
        sends.c.channel,
        accounts.c.timezone,
    )
    .select_from(
        callbacks.join(status_history, status_history.c.id == callbacks.c.history_id)
        .join(messages, messages.c.id == status_history.c.message_id)
        .join(sends, sends.c.id == messages.c.send_id)
        .join(accounts, accounts.c.id == callbacks.c.account_id)
    )
    .order_by(callbacks.c.id)
)


_REPLY_DETAILS = (
    select(
        callbacks.c.id,
        callbacks.c.url,
        callbacks.c.attempts,
        callbacks.c.created_at,
        callbacks.c.kind,
        callbacks.c.inbound_id,
        callbacks.c.account_id,
        accounts.c.webhook_secret,
        inbound_messages.c.received_at,
        inbound_messages.c.source,
        inbound_messages.c.destination,
        inbound_messages.c.text,
        sends.c.id.label("send_id"),
        sends.c.ref_client,
        sends.c.callback_format,
        accounts.c.timezone,
    )
    .select_from(
        callbacks.join(inbound_messages, inbound_messages.c.id == callbacks.c.inbound_id)
        .join(accounts, accounts.c.id == callbacks.c.account_id)
        .outerjoin(sends, sends.c.id == inbound_messages.c.send_id)
    )
    .order_by(callbacks.c.id)
)


class _StatusRow(NamedTuple):
    """A row of `_DETAILS`, its columns in their order (tests/store/test_callback_rows.py checks it): reading a
    SQLAlchemy row by attribute costs about 2 µs a column, several times the rest of building a callback."""

    id: int
    url: str
    attempts: int
    created_at: int
    kind: CallbackKind
    history_id: int
    account_id: int
    webhook_secret: str  # None (read before `ensure_secrets`) only until `_settle_due` reads them again
    at: int
    state: str
    code: int
    msisdn: str
    cost: int
    seq: int
    send_id: str
    ref_client: str | None
    callback_format: str | None
    accepted_at: int
    lane: str
    sender: str | None
    text: str
    encoding: str
    segments: int
    scheduled_at: int | None
    channel: str
    timezone: str


class _ReplyRow(NamedTuple):
    """A row of `_REPLY_DETAILS`, its columns in their order (as `_StatusRow`)."""

    id: int
    url: str
    attempts: int
    created_at: int
    kind: CallbackKind
    inbound_id: int
    account_id: int
    webhook_secret: str  # as in `_StatusRow`
    received_at: int
    source: str
    destination: str
    text: str
    send_id: str | None
    ref_client: str | None
    callback_format: str | None
    timezone: str


# The two lookups of claimed callbacks, with their ids as one expanding parameter: built at import, so a claim
# spends nothing on constructing them, and run as `ListStatement`s, so that SQLAlchemy does not name and render a
# parameter for each id of each claim in Python (about 50 interpreter steps an id).
_STATUS_DUE = ListStatement(_DETAILS.where(callbacks.c.id.in_(bindparam("ids_", expanding=True))))
_REPLY_DUE = ListStatement(_REPLY_DETAILS.where(callbacks.c.id.in_(bindparam("ids_", expanding=True))))


def _found_rows(conn: Connection, claimed: Sequence[tuple[int, str]]) -> tuple[list[_StatusRow], list[_ReplyRow]]:
    """What the claimed callbacks (id, kind) report, as found (an event gone has no row, an account without a
    signing secret yet a `None` one).

    Each lookup runs only when a callback of its kind was claimed: replies are rare next to status changes.
    """
    status_ids = [i for i, kind in claimed if kind != "reply"]
    reply_ids = [i for i, kind in claimed if kind == "reply"]
    statuses = list(map(_StatusRow._make, _STATUS_DUE.execute(conn, {"ids_": status_ids}).all())) if status_ids else []
    replies = list(map(_ReplyRow._make, _REPLY_DUE.execute(conn, {"ids_": reply_ids}).all())) if reply_ids else []
    return statuses, replies


def _settle_due(
    conn: Connection, owner: str, claimed: Sequence[tuple[int, str]]
) -> tuple[list[_StatusRow], list[_ReplyRow]]:
    """`_found_rows` in a write transaction that gives a signing secret to the accounts without one and fails
    for good the callbacks this owner leased whose event is gone (history or reply purged: never deliverable)."""
    statuses, replies = _found_rows(conn, claimed)
    unsigned = sorted({r.account_id for rows in (statuses, replies) for r in rows if r.webhook_secret is None})
    if unsigned:
        ensure_secrets(conn, unsigned)
        statuses, replies = _found_rows(conn, claimed)
    found = {r.id for r in statuses} | {r.id for r in replies}
    orphans = [i for i, _kind in claimed if i not in found]
    if orphans:
        conn.execute(
            update(callbacks)
            .where(callbacks.c.id.in_(orphans), callbacks.c.lease_owner == owner)
            .values(state=FAILED, lease_owner=None, lease_until=None, last_error="event not found")
        )
    return statuses, replies


def _requests(
    statuses: Sequence[_StatusRow], replies: Sequence[_ReplyRow], operators: OperatorLookup
) -> list[DueCallback]:
    """The requests of `_found_rows`' rows, in id order. Written once the claim has committed: every process of
    a SQLite gateway waits for the write lock while a transaction holds it, and formatting the requests took
    about a tenth of the claim's time in it (docs/benchmarks-history.md)."""
    due = [_status_callback(r, operators) for r in statuses]
    due += [_reply_callback(r) for r in replies]
    return sorted(due, key=lambda c: c.id)


def _status_callback(r: _StatusRow, operators: OperatorLookup) -> DueCallback:
    """The request reporting one status change: the message resource as it stood then for a REST send (the
    history row's state, code and time, not the message's current ones), else smsmode's parameters."""
    event, kind = event_id(r.history_id), r.kind
    if r.callback_format == JSON_FORMAT:
        facts = MessageFacts(
            send_id=r.send_id,
            seq=r.seq,
            accepted_at=r.accepted_at,
            lane=r.lane,
            msisdn=r.msisdn,
            sender=r.sender,
            text=r.text,
            encoding=r.encoding,
            segments=r.segments,
            state=r.state,
            code=r.code,
            cost=r.cost,
            updated_at=r.at,
            ref_client=r.ref_client,
            scheduled_at=r.scheduled_at,
            channel=r.channel,
        )
        body = orjson.dumps(message_resource(facts))
        return DueCallback(r.id, r.url, r.attempts, r.created_at, r.account_id, r.webhook_secret, event, kind, {}, body)
    params = status_params(
        r.msisdn, r.at, r.timezone, r.code, r.send_id, r.ref_client, r.cost, operators.operator(r.msisdn).mccmnc
    )
    return DueCallback(r.id, r.url, r.attempts, r.created_at, r.account_id, r.webhook_secret, event, kind, params)


def _reply_callback(r: _ReplyRow) -> DueCallback:
    """The request carrying one reply: the reply resource when it answers a REST send, else smsmode's
    parameters (a reply matched to no send goes the smsmode way: nothing says its owner speaks JSON)."""
    event, kind = reply_event_id(r.inbound_id), r.kind
    if r.callback_format == JSON_FORMAT:
        facts = ReplyFacts(
            id=r.inbound_id,
            received_at=r.received_at,
            source=r.source,
            destination=r.destination,
            text=r.text,
            send_id=r.send_id,
            ref_client=r.ref_client,
        )
        body = orjson.dumps(reply_resource(facts))
        return DueCallback(r.id, r.url, r.attempts, r.created_at, r.account_id, r.webhook_secret, event, kind, {}, body)
    params = reply_params(
        r.inbound_id, r.destination, r.source, r.text, r.received_at, r.timezone, r.send_id, r.ref_client
    )
    return DueCallback(r.id, r.url, r.attempts, r.created_at, r.account_id, r.webhook_secret, event, kind, params)


def ensure_secrets(conn: Connection, account_ids: Sequence[int]) -> None:
    """Give a signing secret to those of `account_ids` that have none yet."""
    if not account_ids:
        return
    missing = conn.scalars(
        select(accounts.c.id).where(accounts.c.id.in_(list(account_ids)), accounts.c.webhook_secret.is_(None))
    ).all()
    for account_id in missing:
        conn.execute(
            update(accounts)
            .where(accounts.c.id == account_id, accounts.c.webhook_secret.is_(None))
            .values(webhook_secret=secrets.token_hex(32))
        )


async def outbox_backlog(db: Database) -> dict[str, int]:
    """Callbacks still to deliver (`pending`, retries included) and dead letters (`failed`), for /metrics and
    `martinet status`.

    Each count is written with its state as a constant, so it scans the state's partial index (ix_callbacks_due,
    ix_callbacks_failed): the cost follows the backlog, never the outbox's whole history of delivered callbacks.
    """
    counts = [
        select(literal(state).label("state"), func.count().label("n")).where(_state_is(callbacks, state))
        for state in (PENDING, FAILED)
    ]
    async with db.reader.connect() as conn:
        rows = (await conn.execute(union_all(*counts))).all()
    return {str(row.state): int(row.n) for row in rows}


def _outcome_update(**values: Any) -> Update:
    """Recording an attempt's outcome on a callback its notifier still holds, the lease given back; `values` are
    what each kind of outcome writes besides."""
    return (
        update(callbacks)
        .where(callbacks.c.id == bindparam("id_"), callbacks.c.lease_owner == bindparam("owner_"))
        .values(
            state=bindparam("state_"),
            last_status=bindparam("status_"),
            attempts=callbacks.c.attempts + bindparam("attempted_"),
            lease_owner=null(),
            lease_until=null(),
            **values,
        )
    )


#: A delivered callback: one row per callback, the hottest write of callbacks.
_DELIVERED = ManyRows(
    _outcome_update(delivered_at=bindparam("now_"), last_error=null()),
    ("id_", "owner_", "state_", "status_", "attempted_", "now_"),
)
#: Any other outcome (a retry, a failure for good, a callback not tried while its host is paused): rare rows.
_OTHER_OUTCOME = _outcome_update(next_at=bindparam("next_"), last_error=bindparam("error_"))


def _write_outcomes(conn: Connection, owner: str, outcomes: Sequence[CallbackResult], now: int) -> None:
    """Record `outcomes` on the callbacks `owner` still holds (a lease taken over meanwhile is left alone)."""
    _DELIVERED.execute(
        conn, [(o.id, owner, DELIVERED, o.status, int(o.attempted), now) for o in outcomes if o.state == DELIVERED]
    )
    others = [
        {
            "id_": o.id,
            "owner_": owner,
            "state_": o.state,
            "status_": o.status,
            "error_": o.error,
            "attempted_": int(o.attempted),
            "next_": o.next_at if o.next_at is not None else now,
        }
        for o in outcomes
        if o.state != DELIVERED
    ]
    if others:
        conn.execute(_OTHER_OUTCOME, others)


class CallbackStore:
    def __init__(self, db: Database, now_ms: Callable[[], int], operators: OperatorLookup | None = None) -> None:
        self._db = db
        self._now_ms = now_ms
        self._operators = operators or OperatorLookup.default()  # the `mcc_mnc` of delivery reports

    async def claim(
        self, owner: str, lease_ms: int, limit: int, outcomes: Sequence[CallbackResult] = ()
    ) -> list[DueCallback]:
        """Lease up to `limit` due callbacks, the oldest pending one of each order key at most.

        `outcomes` of earlier deliveries are recorded first in the lease's transaction, as `record` would: one
        commit instead of two, and a callback recorded delivered lets the next one of its recipient be claimed
        at once. Nothing of them is written if the lease fails. Should reading what the leased callbacks report
        fail after it (the claim raises), the callbacks wait for their lease to run out, and writing the outcomes
        again is harmless: an outcome is written only on a callback its owner holds, and writing it gives the
        lease back.
        """
        now = self._now_ms()

        def lease(conn: Connection) -> list[tuple[int, str]]:
            if outcomes:
                _write_outcomes(conn, owner, outcomes, now)
            params = {"now_": now, "limit_": limit, "owner_": owner, "until_": now + lease_ms}
            return [(r[0], r[1]) for r in conn.execute(_CLAIM, params).all()]  # (id, kind)

        claimed = await self._db.run_write(lease, small=limit + len(outcomes) <= SMALL_WRITE)
        if not claimed:
            return []
        # What they report is read once the lease has committed, outside the write lock that the node's other
        # writers wait for (the join was most of the Python work done in it). The leased rows are this owner's
        # now, and what they report does not change once written.
        statuses, replies = await self._db.run_read(lambda conn: _found_rows(conn, claimed))
        found = len(statuses) + len(replies)
        if found < len(claimed) or any(r.webhook_secret is None for rows in (statuses, replies) for r in rows):
            # Rare: an account's first callback (it gets its signing secret) or an event gone: settled in a write.
            statuses, replies = await self._db.run_write(lambda conn: _settle_due(conn, owner, claimed))
        return _requests(statuses, replies, self._operators)

    async def record(self, owner: str, outcomes: Sequence[CallbackResult]) -> None:
        """Write the outcomes of one batch of deliveries in one transaction (only rows this owner still holds)."""
        if not outcomes:
            return
        now = self._now_ms()
        await self._db.run_write(
            lambda conn: _write_outcomes(conn, owner, outcomes, now), small=len(outcomes) <= SMALL_WRITE
        )

    async def release(self, owner: str, ids: Sequence[int]) -> None:
        """Give back callbacks this owner claimed but did not try (engine stopping): due again now."""
        if not ids:
            return
        now = self._now_ms()

        def work(conn: Connection) -> None:
            conn.execute(
                update(callbacks)
                .where(callbacks.c.id.in_(list(ids)), callbacks.c.lease_owner == owner, _state_is(callbacks, PENDING))
                .values(lease_owner=None, lease_until=None, next_at=now)
            )

        await self._db.run_write(work)

    async def release_leases(self, node: str) -> int:
        """Make due at once what earlier runs of this node (owners `node:<pid>`) had claimed."""
        now = self._now_ms()

        def work(conn: Connection) -> int:
            result = conn.execute(
                update(callbacks)
                .where(_state_is(callbacks, PENDING), callbacks.c.lease_owner.like(f"{node}:%"))
                .values(lease_owner=None, lease_until=None, next_at=now)
            )
            return int(result.rowcount or 0)

        return await self._db.run_write(work)

    async def list(self, *, state: str | None = None, login: str | None = None, limit: int = 50) -> list[CallbackRow]:
        """The newest callbacks first, optionally of one state and one account."""
        query = select(
            callbacks.c.id,
            accounts.c.login,
            callbacks.c.state,
            callbacks.c.attempts,
            callbacks.c.url,
            callbacks.c.history_id,
            callbacks.c.created_at,
            callbacks.c.next_at,
            callbacks.c.delivered_at,
            callbacks.c.last_status,
            callbacks.c.last_error,
            callbacks.c.inbound_id,
        ).select_from(callbacks.join(accounts, accounts.c.id == callbacks.c.account_id))
        if state is not None:
            query = query.where(_state_is(callbacks, state))
        if login is not None:
            query = query.where(accounts.c.login == login)
        query = query.order_by(callbacks.c.id.desc()).limit(limit)
        async with self._db.reader.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [CallbackRow(*tuple(row)) for row in rows]

    async def replay(self, *, ids: Sequence[int] = (), all_failed: bool = False, login: str | None = None) -> int:
        """Queue callbacks again as new: pending, due now, no attempts, and a fresh age window (created_at now)."""
        now = self._now_ms()

        def work(conn: Connection) -> int:
            where: list[ColumnElement[bool]] = []
            if ids:
                where.append(callbacks.c.id.in_(list(ids)))
            if all_failed:
                where.append(_state_is(callbacks, FAILED))
            if login is not None:
                account_id = conn.scalar(select(accounts.c.id).where(accounts.c.login == login))
                if account_id is None:
                    raise UnknownAccount(login)
                where.append(callbacks.c.account_id == account_id)
            if not ids and not all_failed:
                return 0
            result = conn.execute(
                update(callbacks)
                .where(*where)
                .values(
                    state=PENDING,
                    next_at=now,
                    attempts=0,
                    created_at=now,
                    lease_owner=None,
                    lease_until=None,
                    delivered_at=None,
                    last_error=None,
                )
            )
            return int(result.rowcount or 0)

        return await self._db.run_write(work)

    async def secret(self, login: str, *, rotate: bool = False) -> str:
        """The account's signing secret, created on first use; a new one with `rotate`."""

        def work(conn: Connection) -> str:
            row = conn.execute(
                select(accounts.c.id, accounts.c.webhook_secret).where(accounts.c.login == login)
            ).first()
            if row is None:
                raise UnknownAccount(login)
            if row.webhook_secret is not None and not rotate:
                return str(row.webhook_secret)
            value = secrets.token_hex(32)
            conn.execute(update(accounts).where(accounts.c.id == row.id).values(webhook_secret=value))
            return value

        return await self._db.run_write(work)
