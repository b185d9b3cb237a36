"""Delivery receipts in the store: applied to their parts, rolled up into messages, or kept until they can be.

The rule (docs/smpp.md, "How receipts find their part"): a receipt is applied to one part only, the one its
carrier meant, never to a look-alike.

* A **certain** receipt (`domain.receipts`) names one canonical ID: it is applied to the part stored under that ID
  by its connector (the newest such part still waiting for a final status, if counters have wrapped), or kept.
* An **uncertain** receipt (its connector is still learning how the carrier writes IDs in receipts) is applied
  only where the handset it names singles out exactly one part among all the readings of its ID, and, when that
  part is not the literal reading, only if the literal reading already names another phone's part (else the
  literal part may simply not be recorded yet). Otherwise it is kept, one row per reading, until that becomes
  true or until its connector has learned its reading (`settle`).
* A kept receipt is applied when its part is recorded (`adopt_early_receipts`, in the recording transaction), or
  by the scheduler's sweep for the cases one transaction cannot see (PostgreSQL: a receipt transaction that
  started before the recording committed). Kept rows are deleted with `RETURNING` before they are applied, so
  two engines sweeping at once apply each receipt once.
* Kept receipts older than `engine.unmatched_receipts_ttl` are forgotten (`expire_kept`), counted and logged.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, func, insert, literal_column, or_, select, union_all, update
from sqlalchemy.engine import Connection

from martinet import metrics
from martinet.domain.receipts import LITERAL, UNKNOWN_OUTCOME, Receipt, same_handset
from martinet.domain.status import FINAL_STATES, State, aggregate
from martinet.domain.valueclass import valueclass
from martinet.store.bulk import ListStatement, ManyRows
from martinet.store.database import SMALL_WRITE, Database, Turn
from martinet.store.history import append_history
from martinet.store.schema import messages, parts, unmatched_receipts

__all__ = ["KeptReceipts", "OverduePart", "PendingPart", "ReceiptStore", "adopt_early_receipts", "apply_receipts"]

_kept = unmatched_receipts


@valueclass
class PendingPart:
    connector: str
    carrier_id: str
    msisdn: str
    code: int


@valueclass
class OverduePart:
    part_id: int
    connector: str
    carrier_id: str


@valueclass
class KeptReceipts:
    """Receipts of one connector waiting for their part: `uncertain` of them wait for the ID reading too."""

    kept: int
    uncertain: int


class ReceiptStore:
    def __init__(self, db: Database, now_ms: Callable[[], int]) -> None:
        self._db = db
        self._now_ms = now_ms
        self._cursor = 0  # id of the last uncertain row the sweep looked at: it goes round, never stuck on one

    async def apply(self, receipts: Sequence[Receipt]) -> int:
        """Apply delivery receipts to their parts and roll them up into messages; keep the others.

        Returns how many receipts found their part. The carrier waits for their acknowledgements, which
        go only once they are committed, and it sends no more than its window meanwhile: they take their turn
        at the database before this process's other writers already waiting (claims, heartbeats), after the
        one-time password claims and recorded submissions (`Turn`).
        """
        if not receipts:
            return 0
        now = self._now_ms()
        latencies: list[tuple[str, float]] = []
        applied = await self._db.run_write(
            lambda conn: apply_receipts(conn, receipts, now, latencies),
            turn=Turn.PROMPT,
            small=len(receipts) <= SMALL_WRITE,
        )
        metrics.observe_receipt_latencies(latencies)
        return applied

    def write_turn(self) -> contextlib.AbstractAsyncContextManager[None]:
        """The database's write turn receipts take (`Database.write_turn`): entered before a batch of receipts
        is taken, so that those arriving while it is waited for are applied, and acknowledged, with it."""
        return self._db.write_turn(Turn.PROMPT)

    async def settle(self, readings: Mapping[str, str], limit: int = 1000) -> int:
        """Apply kept receipts whose part has become known since, and resolve the uncertain ones of connectors
        that have learned their reading (`readings`: connector → reading); returns how many were applied. Run
        every second by the scheduler."""
        now = self._now_ms()

        def work(conn: Connection) -> int:
            for connector, reading in readings.items():
                _resolve(conn, connector, reading, limit)
            applied = _rematch_certain(conn, now, limit)
            found, self._cursor = _rematch_uncertain(conn, now, limit, self._cursor)
            return applied + found

        return await self._db.run_write(work)

    async def expire_kept(self, ttl_ms: int) -> dict[str, int]:
        """Forget kept receipts older than `ttl_ms`; returns how many, by connector (also counted in metrics)."""
        before = self._now_ms() - ttl_ms
        counts = await self._db.run_write(lambda conn: _expire_kept(conn, before))
        metrics.unmatched_receipts_expired(counts)
        return counts

    async def kept(self) -> dict[str, KeptReceipts]:
        """Receipts kept per connector, for `martinet status`."""
        receipt = or_(_kept.c.reading.is_(None), _kept.c.reading == LITERAL)
        query = (
            select(_kept.c.connector, func.count(), func.count(_kept.c.reading))
            .where(receipt)
            .group_by(_kept.c.connector)
        )
        async with self._db.reader.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {row[0]: KeptReceipts(int(row[1]), int(row[2])) for row in rows}

    async def claim_overdue(self, limit: int = 1000, lease_ms: int = 600_000) -> list[OverduePart]:
        """Parts whose final receipt is overdue, taken for `lease_ms` (their deadline moves that far on, so other
        engines leave them alone, and they come back if this one dies before concluding)."""
        now = self._now_ms()
        return await self._db.run_write(lambda conn: _claim_overdue(conn, now, limit, lease_ms))

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


# ---------------------------------------------------------------------------------------------- applying


def apply_receipts(
    conn: Connection,
    receipts: Sequence[Receipt],
    now: int,
    latencies: list[tuple[str, float]] | None = None,
    *,
    with_kept: bool = True,
) -> int:
    """Apply receipts in arrival order, each status change of a part recorded.

    Receipts kept earlier for the same parts go first (`with_kept`): on PostgreSQL an intermediate receipt kept
    while its part's recording was not yet visible must not be overtaken by the final one arriving after it.

    A batch may hold several receipts of one part (an intermediate report and the final one arriving together
    when the writer is busy): they are applied in rounds, one receipt per part each, so the intermediate status
    gets its history row (and callback) before the final one instead of being overwritten in memory.
    """
    if with_kept:
        receipts = [*_kept_before(conn, receipts), *receipts]
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


class _PartRow(NamedTuple):
    """A row of `_parts_named`, its columns in their order (tests/store/test_receipts.py checks it): applying a
    batch reads each row's fields a dozen times, and a SQLAlchemy row's attribute costs several times a tuple's."""

    id: int
    message_id: int
    connector: str
    carrier_id: str
    state: str
    code: int
    submitted_at: int
    msisdn: str
    message_state: str
    message_code: int


#: A state as stored → the `State`: a dictionary look-up, where `State(value)` goes through the enum's call.
_STATE_OF = {state.value: state for state in State}


class _Parts:
    """Parts by (connector, carrier ID). Counters restart, so an ID may name several parts over time: the
    newest one still waiting for a final status wins, else the newest. Some SMSCs also answer every part of a
    concatenated message with one ID (or are configured to be read so, `long_message_receipts`): those parts
    of one message share that ID's receipts (`sharing`)."""

    def __init__(self, rows: Sequence[_PartRow]) -> None:
        self._by_key: dict[tuple[str, str], _PartRow] = {}
        # Only the keys naming several parts get a list: most batches have none, and this runs per receipt batch.
        self._repeated: dict[tuple[str, str], list[_PartRow]] = {}
        for row in rows:  # ordered by message id: newer rows come later
            key = (row.connector, row.carrier_id)
            known = self._by_key.get(key)
            if known is not None:
                group = self._repeated.get(key)
                if group is None:
                    self._repeated[key] = [known, row]  # at a key's second row, `known` is its first
                else:
                    group.append(row)
            if known is None or row.state not in FINAL_STATES or known.state in FINAL_STATES:
                self._by_key[key] = row

    def get(self, connector: str, carrier_id: str) -> _PartRow | None:
        return self._by_key.get((connector, carrier_id))

    def sharing(self, row: _PartRow) -> list[_PartRow]:
        """The other parts of `row`'s message stored under its ID."""
        group = self._repeated.get((row.connector, row.carrier_id))
        if group is None:
            return []
        return [other for other in group if other.message_id == row.message_id and other.id != row.id]


def _parts_named(conn: Connection, forms: Mapping[str, Collection[str]]) -> list[_PartRow]:
    """Every part of every message having a part stored under one of `forms` (connector → canonical IDs),
    with its message's status and phone, in message order."""
    params: dict[str, object] = {}
    for i, (connector, ids) in enumerate(forms.items()):
        params[f"connector_{i}"], params[f"ids_{i}"] = connector, sorted(ids)
    return [_PartRow._make(row) for row in _parts_of_connectors(len(forms)).execute(conn, params).all()]


@functools.lru_cache(maxsize=8)
def _parts_of_connectors(count: int) -> ListStatement:
    """`_parts_named`'s statement for `count` connectors, built once: it runs for every receipt batch, and
    building it and its cache key cost about as much as running it."""
    touched = [
        select(parts.c.message_id).where(
            parts.c.connector == bindparam(f"connector_{i}"),
            parts.c.carrier_id.in_(bindparam(f"ids_{i}", expanding=True)),
        )
        for i in range(count)
    ]
    return ListStatement(
        select(
            parts.c.id,
            parts.c.message_id,
            parts.c.connector,
            parts.c.carrier_id,
            parts.c.state,
            parts.c.code,
            parts.c.submitted_at,
            messages.c.msisdn,
            messages.c.state.label("message_state"),
            messages.c.code.label("message_code"),
        )
        .join(messages, messages.c.id == parts.c.message_id)
        .where(parts.c.message_id.in_(union_all(*touched).scalar_subquery()))
        .order_by(parts.c.message_id, parts.c.seq)
        # PostgreSQL: engines applying receipts of one part at once take turns, each reading what the other
        # wrote (a late intermediate receipt must see the final one and leave it be). SQLite writes alone.
        .with_for_update(of=parts)
    )


def _forms(receipts: Sequence[Receipt]) -> dict[str, set[str]]:
    forms: dict[str, set[str]] = {}
    for r in receipts:
        forms.setdefault(r.connector, set()).update(form for _, form in r.readings())
    return forms


def _single_out(receipt: Receipt, found: _Parts) -> _PartRow | None:
    """The one part an uncertain receipt can only mean (see the module docstring), or None."""
    if receipt.handset is None:
        return None
    plausible: list[tuple[str, _PartRow, bool | None]] = []
    for reading, form in receipt.readings():
        row = found.get(receipt.connector, form)
        if row is None or any(row.id == p[1].id for p in plausible):
            continue
        verdict = same_handset(receipt.handset, row.msisdn)
        if verdict is not False:
            plausible.append((reading, row, verdict))
    if len(plausible) != 1:
        return None
    reading, row, verdict = plausible[0]
    if verdict is not True:
        return None
    if reading != LITERAL and found.get(receipt.connector, receipt.carrier_id) is None:
        return None
    return row


def _apply_round(
    conn: Connection, receipts: Sequence[Receipt], now: int, latencies: list[tuple[str, float]] | None = None
) -> int:
    """Receipts (at most one per part) → parts → messages, in a few statements whatever the batch size.

    One query reads every part of every message concerned together with the message's current status; the new
    part states are applied in memory, each message's status re-aggregated, and only real changes written.
    `latencies` collects (connector, seconds from submission) of the parts that became final, for the caller to
    observe once committed.
    """
    rows = _parts_named(conn, _forms(receipts))
    found = _Parts(rows)
    part_status: dict[int, tuple[State, int]] = {row.id: (_STATE_OF[row.state], row.code) for row in rows}
    part_updates: dict[int, Receipt] = {}
    kept: list[Receipt] = []
    by_id = {row.id: row for row in rows}
    for r in receipts:
        if r.part_id is not None:
            row = by_id.get(r.part_id)
        else:
            row = found.get(r.connector, r.carrier_id) if r.certain else _single_out(r, found)
        if row is None or row.id in part_updates:  # two uncertain receipts singling out one part: keep the later
            if r.part_id is None:
                kept.append(r)
        elif _takes(part_status[row.id], r):
            # A conclusion about one part (`part_id`) is about it alone; a carrier's receipt is about every part
            # it gave this ID.
            for target in (row,) if r.part_id is not None else (row, *found.sharing(row)):
                if target is not row and (target.id in part_updates or not _takes(part_status[target.id], r)):
                    continue
                part_status[target.id] = (r.state, r.code)
                part_updates[target.id] = r
                if latencies is not None and r.state in FINAL_STATES:
                    latencies.append((target.connector, max(0.0, (r.at - target.submitted_at) / 1000)))
    if part_updates:
        _PART_STATUS.execute(conn, [(pid, str(r.state), r.code, r.at) for pid, r in part_updates.items()])
        _roll_up(conn, rows, part_status, part_updates, now)
    if kept:
        _keep(conn, kept)
    return len(part_updates)


_PART_STATUS = ManyRows(
    update(parts)
    .where(parts.c.id == bindparam("part_id"))
    .values(state=bindparam("new_state"), code=bindparam("new_code"), updated_at=bindparam("at_")),
    ("part_id", "new_state", "new_code", "at_"),
)
_MESSAGE_STATUS = ManyRows(
    update(messages)
    .where(messages.c.id == bindparam("mid"))
    .values(state=bindparam("new_state"), code=bindparam("new_code"), updated_at=bindparam("now_")),
    ("mid", "new_state", "new_code", "now_"),
)


def _takes(current: tuple[State, int], receipt: Receipt) -> bool:
    """Whether a part in `current` takes `receipt`: a part still waiting takes any; a final one none (a late
    intermediate receipt never undoes a final status), except an unknown outcome, which a final receipt that
    knows better replaces."""
    state, code = current
    if state not in FINAL_STATES:
        return True
    return (
        state is State.UNDELIVERED
        and code == UNKNOWN_OUTCOME
        and receipt.state in FINAL_STATES
        and receipt.code != UNKNOWN_OUTCOME
    )


def _keep(conn: Connection, receipts: Sequence[Receipt]) -> None:
    """Store receipts that cannot be applied yet: one row for a certain one, one per reading for the others."""
    values: list[dict[str, Any]] = []
    for r in receipts:
        common = {
            "connector": r.connector,
            "received_at": r.at,
            "state": r.state,
            "code": r.code,
            "detail": r.detail,
            "handset": r.handset[:32] if r.handset else None,
        }
        if r.certain:
            values.append({**common, "carrier_id": r.carrier_id, "reading": None, "receipt_key": None})
            continue
        key = secrets.randbits(62)
        values.extend(
            {**common, "carrier_id": form, "reading": reading, "receipt_key": key} for reading, form in r.readings()
        )
    conn.execute(insert(_kept), values)


def _roll_up(
    conn: Connection,
    rows: Sequence[_PartRow],
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
    _MESSAGE_STATUS.execute(conn, [(mid, str(state), code, now) for mid, state, code, _ in changes])
    append_history(conn, [(mid, r.at, state, code, None, r.detail) for mid, state, code, r in changes])


# ---------------------------------------------------------------------------------------------- kept receipts


# The kept receipts of one connector naming some carrier IDs, and those of them that are certain: statements
# built once, since every submission and receipt batch of the engine looks kept receipts up.
_KEPT_NAMED = ListStatement(
    select(_kept)
    .where(_kept.c.connector == bindparam("connector"), _kept.c.carrier_id.in_(bindparam("ids", expanding=True)))
    .order_by(_kept.c.id)
)
_KEPT_CERTAIN_NAMED = ListStatement(
    select(_kept).where(
        _kept.c.connector == bindparam("connector"),
        _kept.c.carrier_id.in_(bindparam("ids", expanding=True)),
        _kept.c.reading.is_(None),
    )
)


#: Whether a connector has any kept receipt: one index seek, which spares the look-ups above (an IN list of a
#: whole batch's IDs, rendered per call) when none is kept, as is usual once receipts follow their recording.
_ANY_KEPT = select(_kept.c.id).where(_kept.c.connector == bindparam("connector")).limit(1)


def _keeps_any(conn: Connection, connector: str) -> bool:
    return conn.execute(_ANY_KEPT, {"connector": connector}).first() is not None


def adopt_early_receipts(conn: Connection, recorded: Mapping[str, Collection[str]], now: int) -> None:
    """Apply kept receipts whose part was just recorded (`recorded`: connector → canonical IDs), in the
    recording transaction: a fast carrier can report a part before its submission is stored."""
    rows = [
        row
        for connector, ids in recorded.items()
        if _keeps_any(conn, connector)
        for row in _KEPT_NAMED.execute(conn, {"connector": connector, "ids": list(ids)})
    ]
    certain = [row for row in rows if row.reading is None]
    if certain:
        _apply_kept(conn, certain, now)
    uncertain = {row.receipt_key for row in rows if row.reading is not None and row.handset is not None}
    if uncertain:
        _settle_groups(conn, uncertain, now)


def _apply_kept(conn: Connection, rows: Sequence[Any], now: int) -> int:
    """Delete kept certain receipts and apply those this transaction deleted, in arrival order."""
    deleted = set(
        conn.execute(delete(_kept).where(_kept.c.id.in_([row.id for row in rows])).returning(_kept.c.id)).scalars()
    )
    receipts = [_receipt_of(row) for row in sorted(rows, key=lambda row: row.id) if row.id in deleted]
    return apply_receipts(conn, receipts, now, with_kept=False) if receipts else 0


def _receipt_of(row: Any) -> Receipt:
    """The certain receipt a kept row stands for."""
    return Receipt(
        row.connector,
        row.carrier_id,
        State(row.state),
        row.code,
        row.received_at,
        row.detail or "",
        handset=row.handset,
    )


def _kept_before(conn: Connection, receipts: Sequence[Receipt]) -> list[Receipt]:
    """Kept certain receipts naming the same parts as `receipts`, taken out of the table, in arrival order.

    A receipt that names its part by id (a receipt deadline's conclusion, a `query_sm` answer) counts too: it is
    final, and an intermediate receipt kept for its part would otherwise come after it and be refused."""
    by_connector: dict[str, set[str]] = {}
    for r in receipts:
        if r.certain:
            by_connector.setdefault(r.connector, set()).add(r.carrier_id)
    if not by_connector:
        return []
    rows = [
        row
        for connector, ids in by_connector.items()
        if _keeps_any(conn, connector)
        for row in _KEPT_CERTAIN_NAMED.execute(conn, {"connector": connector, "ids": sorted(ids)})
    ]
    if not rows:
        return []
    deleted = set(
        conn.execute(delete(_kept).where(_kept.c.id.in_([row.id for row in rows])).returning(_kept.c.id)).scalars()
    )
    return [_receipt_of(row) for row in sorted(rows, key=lambda row: row.id) if row.id in deleted]


def _rematch_certain(conn: Connection, now: int, limit: int) -> int:
    rows = conn.execute(
        select(_kept)
        .join(parts, (parts.c.connector == _kept.c.connector) & (parts.c.carrier_id == _kept.c.carrier_id))
        .where(_kept.c.reading.is_(None))
        .order_by(_kept.c.id)
        .limit(limit)
    ).all()
    return _apply_kept(conn, rows, now) if rows else 0


def _groups(conn: Connection, keys: Collection[int]) -> dict[int, list[Any]]:
    rows = conn.execute(select(_kept).where(_kept.c.receipt_key.in_(list(keys))).order_by(_kept.c.id)).all()
    groups: dict[int, list[Any]] = {}
    for row in rows:
        groups.setdefault(row.receipt_key, []).append(row)
    return groups


def _as_receipt(group: Sequence[Any]) -> Receipt:
    """The uncertain receipt a group of kept rows stands for (its literal row first)."""
    literal = next((row for row in group if row.reading == LITERAL), group[0])
    return Receipt(
        literal.connector,
        literal.carrier_id,
        State(literal.state),
        literal.code,
        literal.received_at,
        literal.detail or "",
        alternatives=tuple((row.reading, row.carrier_id) for row in group if row is not literal),
        handset=literal.handset,
    )


def _settle_groups(conn: Connection, keys: Collection[int], now: int) -> int:
    """Apply the kept uncertain receipts among `keys` that their handset now singles out; returns how many."""
    groups = _groups(conn, keys)
    receipts = {key: _as_receipt(group) for key, group in groups.items()}
    found = _Parts(_parts_named(conn, _forms(list(receipts.values())))) if receipts else _Parts(())
    chosen: list[tuple[int, Receipt, str]] = []
    for key, receipt in receipts.items():
        row = _single_out(receipt, found)
        if row is not None:
            chosen.append((key, receipt, row.carrier_id))
    if not chosen:
        return 0
    deleted = set(
        conn.execute(
            delete(_kept).where(_kept.c.receipt_key.in_([key for key, _, _ in chosen])).returning(_kept.c.receipt_key)
        ).scalars()
    )
    certain = [
        Receipt(r.connector, carrier_id, r.state, r.code, r.at, r.detail, handset=r.handset)
        for key, r, carrier_id in chosen
        if key in deleted
    ]
    return apply_receipts(conn, certain, now) if certain else 0


def _rematch_uncertain(conn: Connection, now: int, limit: int, cursor: int) -> tuple[int, int]:
    """Look at kept uncertain receipts (with a handset) one of whose readings names a part now; returns how many
    were applied and where to start next time (round and round, so undecidable ones never block the rest)."""
    query = (
        select(_kept.c.id, _kept.c.receipt_key)
        .join(parts, (parts.c.connector == _kept.c.connector) & (parts.c.carrier_id == _kept.c.carrier_id))
        .where(_kept.c.reading.is_not(None), _kept.c.handset.is_not(None), _kept.c.id > cursor)
        .order_by(_kept.c.id)
        .limit(limit)
    )
    rows = conn.execute(query).all()
    if not rows:
        return 0, 0
    applied = _settle_groups(conn, {row.receipt_key for row in rows}, now)
    return applied, rows[-1].id if len(rows) == limit else 0


def _resolve(conn: Connection, connector: str, reading: str, limit: int) -> None:
    """Turn the kept uncertain receipts of a connector that has learned its `reading` into certain ones: the row
    of that reading (the literal one when the ID has no such reading) stays, the others go."""
    keys = (
        select(_kept.c.receipt_key)
        .where(_kept.c.connector == connector, _kept.c.reading.is_not(None))
        .distinct()
        .limit(limit)
    )
    groups = _groups(conn, conn.execute(keys).scalars().all())
    if not groups:
        return
    keep: list[int] = []
    drop: list[int] = []
    for group in groups.values():
        chosen = next((row for row in group if row.reading == reading), None)
        chosen = chosen or next((row for row in group if row.reading == LITERAL), group[0])
        keep.append(chosen.id)
        drop.extend(row.id for row in group if row is not chosen)
    conn.execute(update(_kept).where(_kept.c.id.in_(keep)).values(reading=None, receipt_key=None))
    if drop:
        conn.execute(delete(_kept).where(_kept.c.id.in_(drop)))


def _expire_kept(conn: Connection, before: int) -> dict[str, int]:
    old = _kept.c.received_at < before
    counts = conn.execute(
        select(_kept.c.connector, func.count())
        .where(old, or_(_kept.c.reading.is_(None), _kept.c.reading == LITERAL))
        .group_by(_kept.c.connector)
    ).all()
    if counts:
        conn.execute(delete(_kept).where(old))
    return {row[0]: int(row[1]) for row in counts}


def _claim_overdue(conn: Connection, now: int, limit: int, lease_ms: int) -> list[OverduePart]:
    waiting = parts.c.state == literal_column("'sent'")  # a literal, so the partial index ix_parts_receipt_due serves
    overdue = (
        select(parts.c.id)
        .where(waiting, parts.c.receipt_due <= now)
        .order_by(parts.c.receipt_due)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = conn.execute(
        update(parts)
        .where(parts.c.id.in_(overdue.scalar_subquery()))
        .values(receipt_due=now + lease_ms)
        .returning(parts.c.id, parts.c.connector, parts.c.carrier_id)
    ).all()
    return [OverduePart(*row) for row in rows]
