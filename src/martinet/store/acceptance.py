"""Writing accepted sends: one transaction per batch, one answer per send, only once committed.

Every door funnels its accepted sends through one `AcceptanceWriter` per process, a group committer
(`martinet.batching`): under load N sends cost one transaction and one fsync, and a lone send is written at once.

A send is all-or-nothing: its row, its messages, their first status-history rows and its ledger debit are in
the same transaction, and the credit check happens inside it (rows locked on PostgreSQL, the database locked on
SQLite), so two concurrent sends can never both spend the same credits.

This module owns the accepted-send record (`NewSend`) and the writer's verdicts on it; a send's idempotency key
is stored through `martinet.store.idempotency`, which holds the key table and knows nothing of sends.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.engine import Connection

from martinet import metrics
from martinet.batching import GroupCommitter
from martinet.domain.lanes import Lane
from martinet.domain.status import OPTED_OUT, State
from martinet.domain.valueclass import valueclass
from martinet.store.bulk import ListStatement, ManyRows, insert_rows
from martinet.store.database import SMALL_WRITE, Database, on_postgresql, sqlite_path
from martinet.store.doorbell import Doorbell, doorbell_path
from martinet.store.idempotency import claim, release
from martinet.store.opt_outs import opted_out
from martinet.store.schema import accounts, ledger, messages, sends, status_history
from martinet.store.spool import Spool

#: The PostgreSQL notification channel announcing queued messages (listened to by `martinet.engine.wakeup`).
QUEUE_CHANNEL = "martinet_queue"


@dataclass(slots=True)
class NewMessage:
    msisdn: str
    country: str | None
    state: str
    code: int
    cost: int
    due_at: int | None
    # Personalised sends: this recipient's own text (as sent), parts, sender and reference; None: the send's.
    text: str | None = None
    segments: int | None = None
    sender: str | None = None
    ref_client: str | None = None
    # Why acceptance refused this recipient (its country's rules), kept as the detail of its first status.
    detail: str | None = None


# Positions in MessageFields, and its states (plain strings: the spool holds no enum).
_MSISDN: Final = 0
_STATE: Final = 2
_COST: Final = 4
_DUE_AT: Final = 5
_QUEUED, _FAILED = str(State.QUEUED), str(State.FAILED)

#: A message as a tuple of plain values, in the order of NewMessage's fields: what a spool holds.
MessageFields = tuple[
    str, str | None, str, int, int, int | None, str | None, int | None, str | None, str | None, str | None
]


class SpooledMessages:
    """A personalised send's messages kept on disk (`store.spool`) until its acceptance transaction writes them:
    a CSV campaign's, added one by one as its file is read. Only the counts the acceptance needs before
    writing (cost, queued, refused) stay in memory. `close` removes the file, whatever became of the send.
    """

    def __init__(self, directory: str | None = None) -> None:
        self._spool = Spool(directory)
        self._added = [0, 0, 0]  # cost, queued, failed of the messages as added
        self._stopped = (0, 0, 0)  # cost, queued and count of those an opt-out stops
        # Opted-out numbers found in the acceptance transaction: their messages are written as 3999, at no cost.
        self.stopped: frozenset[str] = frozenset()

    @property
    def path(self) -> str:
        return self._spool.path

    @property
    def cost(self) -> int:
        return self._added[0] - self._stopped[0]

    @property
    def queued(self) -> int:
        return self._added[1] - self._stopped[1]

    @property
    def failed(self) -> int:
        return self._added[2] + self._stopped[2]

    def __len__(self) -> int:
        return self._spool.count

    def add(self, message: MessageFields) -> None:
        self._spool.append(message)
        added, state = self._added, message[_STATE]
        added[0] += message[_COST]
        added[1] += state == _QUEUED
        added[2] += state == _FAILED

    def stop(self, numbers: frozenset[str], cost: int, queued: int, count: int) -> None:
        """The opt-outs found (set afresh, not added: a transaction run again finds them again)."""
        self.stopped = numbers
        self._stopped = (cost, queued, count)

    def chunks(self) -> Iterator[list[tuple[Any, ...]]]:
        """The messages in order, a chunk at a time, as tuples in the order of `add`'s fields of NewMessage."""
        return self._spool.chunks()

    def close(self) -> None:
        self._spool.close()


@valueclass
class KeyedRequest:
    """The key a send came with, the fingerprint of its request, and how to render its answer once the
    acceptance transaction knows every recipient's fate (opt-outs are found inside it)."""

    key: str
    fingerprint: str
    render: Callable[[NewSend], tuple[int, bytes]]


@dataclass(slots=True)
class NewSend:
    id: str
    account_id: int
    created_at: int
    scheduled_at: int | None
    text: str
    encoding: str
    segments: int
    classe: int
    sender: str | None
    ref_client: str | None
    notification_url: str | None
    notification_url_reponse: str | None
    lane: str
    cost: int
    messages: list[NewMessage] = field(default_factory=list)
    validity: int | None = None  # seconds, when the send asked for its own
    expires_at: int | None = None  # end of validity of every message (Unix ms)
    callback_format: str = "smsmode"  # "json" for sends of the REST door
    keyed: KeyedRequest | None = None  # the Idempotency-Key it came with, stored in the same transaction
    # Run first in the acceptance transaction: fills `messages` and `cost` from what the store holds then (the
    # contacts of the groups a send names), so the recipients are those of the moment the send is committed.
    expand: Callable[[Connection, NewSend], None] | None = None
    channel: str = "sms"  # "voice": read aloud in a phone call (domain/voice.py), with its title and language
    voice_title: str | None = None
    voice_language: str | None = None
    # A campaign's messages on disk (written after `messages`, numbered on from them); None: all are in `messages`.
    spooled: SpooledMessages | None = None

    def size(self) -> int:
        """How many messages the send has, spooled ones included."""
        return len(self.messages) + (len(self.spooled) if self.spooled is not None else 0)


class Duplicate:
    """The verdict on a send whose key another request took first: nothing of it was written."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "DUPLICATE"


DUPLICATE = Duplicate()

Verdict = bool | Duplicate


class AcceptanceWriter:
    """Group-commits sends. `accept` resolves True once durable, False when credit is insufficient, and
    DUPLICATE when the send's idempotency key was taken by an earlier request (nothing written)."""

    def __init__(
        self,
        db: Database,
        max_messages_per_batch: int = 20000,
        *,
        opt_out_lanes: Collection[str] = (Lane.MARKETING,),
    ) -> None:
        self._db = db
        self._opt_out_lanes = frozenset(opt_out_lanes)
        database = sqlite_path(db.url)
        self._doorbell = Doorbell(doorbell_path(database)) if database is not None else None
        self._committer: GroupCommitter[NewSend, Verdict] = GroupCommitter(
            self._commit,
            weight=NewSend.size,
            max_weight=max_messages_per_batch,
            name="acceptance-writer",
            turn=db.write_turn,  # the sends that come while the lock is waited for join the batch
        )

    async def start(self) -> None:
        self._committer.start()

    async def stop(self) -> None:
        await self._committer.stop()
        if self._doorbell is not None:
            self._doorbell.close()

    async def accept(self, send: NewSend) -> Verdict:
        return await self._committer.enqueue(send)  # the future itself: no coroutine of `submit` in between

    async def _commit(self, batch: list[NewSend]) -> list[Verdict]:
        # Small batches of small sends on the event loop's thread; a campaign, or a group send (expanded in the
        # transaction), in a worker thread (`Database.run_write`).
        small = sum(send.size() for send in batch) <= SMALL_WRITE and all(send.expand is None for send in batch)
        verdicts = await self._db.run_write(lambda conn: _commit(conn, batch, self._opt_out_lanes), small=small)
        metrics.credits_moved("debit", sum(send.cost for send, ok in zip(batch, verdicts, strict=True) if ok is True))
        if self._doorbell is not None:  # SQLite: tell the engine (PostgreSQL was notified by the transaction)
            lanes = _queued_lanes([send for send, ok in zip(batch, verdicts, strict=True) if ok is True])
            if lanes:
                self._doorbell.ring(lanes)
        return verdicts


def _commit(conn: Connection, batch: list[NewSend], opt_out_lanes: frozenset[str]) -> list[Verdict]:
    for send in batch:
        if send.expand is not None:
            send.expand(conn, send)
    _skip_opted_out(conn, [send for send in batch if send.lane in opt_out_lanes])
    keyed = [s for s in batch if s.keyed is not None]
    if not keyed:
        return _debit_and_write(conn, batch)
    # Keys first (their answers rendered now that opt-outs are known): a send whose key is taken is left out.
    taken = {id(s) for s in keyed if s.keyed is not None and not _claim_key(conn, s, s.keyed)}
    fresh = [s for s in batch if id(s) not in taken]
    verdicts = iter(_debit_and_write(conn, fresh))
    results: list[Verdict] = []
    for send in batch:
        if id(send) in taken:
            results.append(DUPLICATE)
            continue
        verdict = next(verdicts)
        if verdict is False and send.keyed is not None:
            release(conn, send.account_id, send.keyed.key)  # refused: a retry after a top-up may succeed
        results.append(verdict)
    return results


def _debit_and_write(conn: Connection, batch: list[NewSend]) -> list[Verdict]:
    if not batch:
        return []
    rows = _BALANCES.execute(conn, {"ids": sorted({send.account_id for send in batch})})
    balances = {row.id: row.balance for row in rows}
    verdicts, accepted = _allocate(batch, balances)
    if accepted:
        _write(conn, accepted)
        if on_postgresql(conn):
            _notify(conn, accepted)
    return verdicts


def _skip_opted_out(conn: Connection, sends: list[NewSend]) -> None:
    """Recipients on the account's opt-out list get status 3999 and cost nothing (one query per account)."""
    for send in sends:
        if send.spooled is not None:
            _skip_spooled_opted_out(conn, send, send.spooled)
    numbers: dict[int, set[str]] = {}
    for send in sends:
        numbers.setdefault(send.account_id, set()).update(m.msisdn for m in send.messages if m.due_at is not None)
    blocked = {account: opted_out(conn, account, found) for account, found in numbers.items() if found}
    for send in sends:
        stopped = blocked.get(send.account_id)
        if not stopped:
            continue
        for message in send.messages:
            if message.due_at is not None and message.msisdn in stopped:
                message.state, message.code, message.cost, message.due_at = State.FAILED, OPTED_OUT, 0, None
        send.cost = sum(m.cost for m in send.messages) + (send.spooled.cost if send.spooled is not None else 0)


def _skip_spooled_opted_out(conn: Connection, send: NewSend, spooled: SpooledMessages) -> None:
    """The opt-outs among a spooled send's numbers, asked a chunk of the spool at a time (only the numbers
    found are kept), and the counts they change; the messages themselves change as they are written."""
    stopped: set[str] = set()
    cost = queued = count = 0
    for chunk in spooled.chunks():
        due = [row[_MSISDN] for row in chunk if row[_DUE_AT] is not None]
        found = opted_out(conn, send.account_id, due) if due else set()
        if not found:
            continue
        for row in chunk:
            if row[_DUE_AT] is not None and row[_MSISDN] in found:
                cost += row[_COST]
                queued += row[_STATE] == State.QUEUED
                count += 1
        stopped |= found
    spooled.stop(frozenset(stopped), cost, queued, count)
    send.cost = sum(m.cost for m in send.messages) + spooled.cost


_NOTIFY = text(f"SELECT pg_notify('{QUEUE_CHANNEL}', :lanes)")


def _notify(conn: Connection, accepted: list[NewSend]) -> None:
    """Wake the engines at commit (martinet.engine.wakeup), telling them which lanes got work."""
    lanes = _queued_lanes(accepted)
    if lanes:
        conn.execute(_NOTIFY, {"lanes": ",".join(lanes)})


def _queued_lanes(accepted: list[NewSend]) -> list[str]:
    return sorted({s.lane for s in accepted if _any_queued(s)})


def _any_queued(send: NewSend) -> bool:
    return (send.spooled is not None and send.spooled.queued > 0) or any(m.state == State.QUEUED for m in send.messages)


def _allocate(batch: list[NewSend], balances: dict[int, int]) -> tuple[list[Verdict], list[NewSend]]:
    """Decide in arrival order which sends the balances cover; a refused send spends nothing."""
    verdicts: list[Verdict] = []
    accepted: list[NewSend] = []
    remaining = dict(balances)
    for send in batch:
        available = remaining.get(send.account_id)
        ok = available is not None and available >= send.cost
        if ok and available is not None:
            remaining[send.account_id] = available - send.cost
            accepted.append(send)
        verdicts.append(ok)
    return verdicts, accepted


# The statements of every batch, built once: at a few sends per batch, building a statement and its cache key
# cost SQLAlchemy more than running it. The accounts are locked in the order of their ids (PostgreSQL).
_BALANCES = ListStatement(
    select(accounts.c.id, accounts.c.balance)
    .where(accounts.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(accounts.c.id)
    .with_for_update()
)
_LEDGER_COLUMNS = ("account_id", "at", "amount", "reason", "send_id")
_DEBIT = ManyRows(
    update(accounts)
    .where(accounts.c.id == bindparam("account"))
    .values(balance=accounts.c.balance - bindparam("debit")),
    ("account", "debit"),
)

# The first status-history row of each new message, copied in the database rather than fetched and re-sent:
# it needs the generated message IDs, which a plain multi-row insert does not return cheaply on every database.
# Run once per send through the driver's executemany (one call for the batch, compiled once), not as one statement
# with an IN list of the batch's ids, whose SQL SQLAlchemy would render and cache-key afresh for every batch.
_FIRST_HISTORY = ManyRows(
    insert(status_history).from_select(
        ["message_id", "at", "state", "code"],
        select(messages.c.id, messages.c.updated_at, messages.c.state, messages.c.code).where(
            messages.c.send_id == bindparam("send_id")
        ),
    ),
    ("send_id",),
)


# The reason a recipient was refused at acceptance, on the first history row the statement above copied.
_REFUSAL_DETAIL = (
    update(status_history)
    .where(
        status_history.c.message_id
        == select(messages.c.id)
        .where(messages.c.send_id == bindparam("send_"), messages.c.seq == bindparam("seq_"))
        .scalar_subquery()
    )
    .values(detail=bindparam("detail_"))
)


def _write(conn: Connection, accepted: list[NewSend]) -> None:
    # Tuples to the driver like the messages below: a dict per send, checked and converted by SQLAlchemy, cost
    # more than the insert itself at one or a few sends per request.
    insert_rows(conn, sends, _SEND_COLUMNS, [_send_row(s) for s in accepted], copy=False)
    # Tuples through the driver's executemany (store/bulk.py), a slice at a time: a 100,000-row campaign never
    # holds all its rows at once, and costs no per-row parameter dicts.
    details: list[dict[str, object]] = []  # filled as the rows are written: the few refused at acceptance
    insert_rows(
        conn,
        messages,
        _MESSAGE_COLUMNS,
        itertools.chain.from_iterable(_message_rows(s, details) for s in accepted),
    )
    _FIRST_HISTORY.execute(conn, [(s.id,) for s in accepted])
    if details:
        conn.execute(_REFUSAL_DETAIL, details)
    insert_rows(
        conn,
        ledger,
        _LEDGER_COLUMNS,
        [(s.account_id, s.created_at, -s.cost, "send", s.id) for s in accepted],
        copy=False,
    )
    debits: dict[int, int] = {}
    for s in accepted:
        debits[s.account_id] = debits.get(s.account_id, 0) + s.cost
    _DEBIT.execute(conn, [(account, debit) for account, debit in debits.items() if debit])


_SEND_COLUMNS = (
    "id",
    "account_id",
    "created_at",
    "scheduled_at",
    "text",
    "encoding",
    "segments",
    "classe",
    "sender",
    "ref_client",
    "notification_url",
    "notification_url_reponse",
    "lane",
    "recipient_count",
    "cost",
    "validity",
    "callback_format",
    "channel",
    "voice_title",
    "voice_language",
)


def _send_row(s: NewSend) -> tuple[object, ...]:
    """In the order of `_SEND_COLUMNS`, values as the driver takes them (`insert_rows` converts nothing)."""
    return (
        s.id,
        s.account_id,
        s.created_at,
        s.scheduled_at,
        s.text,
        s.encoding,
        s.segments,
        s.classe,
        s.sender,
        s.ref_client,
        s.notification_url,
        s.notification_url_reponse,
        s.lane,
        s.size(),
        s.cost,
        s.validity,
        s.callback_format,
        s.channel,
        s.voice_title,
        s.voice_language,
    )


_MESSAGE_COLUMNS = (
    "send_id",
    "seq",
    "account_id",
    "msisdn",
    "country",
    "state",
    "code",
    "cost",
    "updated_at",
    "due_at",
    "attempts",
    "lane",
    "expires_at",
    "text",
    "segments",
    "sender",
    "ref_client",
)


def _message_row(s: NewSend, m: NewMessage, seq: int) -> tuple[object, ...]:
    return (
        s.id,
        seq,
        s.account_id,
        m.msisdn,
        m.country,
        str(m.state),
        m.code,
        m.cost,
        s.created_at,
        m.due_at,
        0,
        str(s.lane),
        s.expires_at,
        _unpinned(m.text),
        m.segments,
        m.sender,
        m.ref_client,
    )


def _message_rows(s: NewSend, details: list[dict[str, object]]) -> Iterator[tuple[object, ...]]:
    """The send's message rows: those it holds, then those of its spool (numbered on). The reason of each
    recipient refused at acceptance goes to `details`, for its first history row."""
    for seq, m in enumerate(s.messages):
        if m.detail is not None:
            details.append({"detail_": m.detail, "send_": s.id, "seq_": seq})
        yield _message_row(s, m, seq)
    if s.spooled is not None:
        yield from _spooled_rows(s, s.spooled, len(s.messages), details)


def _spooled_rows(
    s: NewSend, spooled: SpooledMessages, first: int, details: list[dict[str, object]]
) -> Iterator[tuple[object, ...]]:
    """Rows of the spool, a chunk at a time (their texts are read afresh and freed with the chunk, so they need
    no unpinning); an opted-out number's message is written as 3999, at no cost."""
    seq = first
    stopped = spooled.stopped
    send_id, account_id, lane, created_at, expires_at = s.id, s.account_id, str(s.lane), s.created_at, s.expires_at
    for chunk in spooled.chunks():
        for msisdn, country, state, code, cost, due_at, text_, segments, sender, ref, detail in chunk:
            if detail is not None:
                details.append({"detail_": detail, "send_": send_id, "seq_": seq})
            if due_at is not None and msisdn in stopped:
                state, code, cost, due_at = str(State.FAILED), OPTED_OUT, 0, None
            yield (
                send_id,
                seq,
                account_id,
                msisdn,
                country,
                state,
                code,
                cost,
                created_at,
                due_at,
                0,
                lane,
                expires_at,
                text_,
                segments,
                sender,
                ref,
            )
            seq += 1


def _unpinned(text: str | None) -> str | None:
    """A text to hand to the driver without growing the one the send holds.

    Both drivers bind a `str` through CPython's UTF-8 view of it, which the interpreter then keeps inside the
    string for as long as it lives: a text with any non-ASCII character (most French ones) would carry a second,
    UTF-8 copy of itself. The messages of a campaign live until its commit, so writing 100,000 of them would
    hold 100,000 such copies at once (tens of MiB for long texts). A fresh copy is bound instead, and freed with
    its chunk of rows.
    """
    if text is None or text.isascii():
        return text  # an ASCII string is its own UTF-8: nothing is added to it
    return text.encode().decode()


def _claim_key(conn: Connection, send: NewSend, keyed: KeyedRequest) -> bool:
    return claim(
        conn, send.account_id, keyed.key, keyed.fingerprint, functools.partial(keyed.render, send), send.created_at
    )
