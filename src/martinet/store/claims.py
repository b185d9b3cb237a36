"""Claiming queued messages lane by lane and, inside a lane, account by account.

One transaction per dispatch cycle: one-time passwords first (strict priority), then notifications, then
marketing, the two lower lanes sharing what the connectors can take right now. Inside a lane the accounts with
waiting messages are found with a loose index scan (one index seek per account, however long the backlog) and
the lane's budget is split between them by weight (`martinet.domain.fairness`).

Every claim is `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`: on PostgreSQL engines sharing
the database never take the same row and never wait for each other; on SQLite the write lock makes it atomic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.engine import Connection

from martinet.domain.fairness import fair_shares
from martinet.domain.lanes import Lane
from martinet.domain.status import State
from martinet.domain.valueclass import valueclass
from martinet.store.bulk import ListStatement
from martinet.store.schema import accounts, in_state, messages

#: Dispatch order: strict priority.
LANE_ORDER = (Lane.OTP, Lane.NOTIFICATION, Lane.MARKETING)

#: Accounts considered per lane and cycle; more are served in later cycles (the scan starts after the last one).
MAX_ACCOUNTS_PER_CYCLE = 200


@valueclass
class ClaimedMessage:
    id: int
    send_id: str
    account_id: int
    msisdn: str
    country: str | None
    lane: str
    expires_at: int | None
    attempts: int
    text: str | None = None  # a personalised message's own text and sender (None: its send's)
    sender: str | None = None


# Loose index scan over ix_messages_lane: each step seeks the next account with queued messages in the lane.
# Written with ORDER BY … LIMIT 1 rather than MIN(): PostgreSQL plans MIN() as an aggregate over the whole
# backlog until the table has statistics.
_ACTIVE_ACCOUNTS = text(
    """
    WITH RECURSIVE active(account_id) AS (
        SELECT (
            SELECT account_id FROM messages
            WHERE state = 'queued' AND lane = :lane AND account_id > :after
            ORDER BY account_id LIMIT 1
        )
        UNION ALL
        SELECT (
            SELECT m.account_id FROM messages m
            WHERE m.state = 'queued' AND m.lane = :lane AND m.account_id > active.account_id
            ORDER BY m.account_id LIMIT 1
        )
        FROM active WHERE active.account_id IS NOT NULL
    )
    SELECT account_id FROM active WHERE account_id IS NOT NULL LIMIT :limit
    """
)

_RETURNED = (
    messages.c.id,
    messages.c.send_id,
    messages.c.account_id,
    messages.c.msisdn,
    messages.c.country,
    messages.c.lane,
    messages.c.expires_at,
    messages.c.attempts,
    messages.c.text,
    messages.c.sender,
)


@dataclass(slots=True)
class ClaimCursor:
    """Where each lane's account scan resumes, and whose turn the rounding remainder is; kept by the caller
    between cycles so that fairness holds over time, not just within one cycle."""

    after: dict[str, int]
    rotation: int = 0

    @classmethod
    def new(cls) -> ClaimCursor:
        return cls(after={})


def claim(
    conn: Connection,
    *,
    owner: str,
    now: int,
    lease_ms: int,
    budgets: Mapping[str, int],
    shared_budget: int,
    cursor: ClaimCursor,
) -> list[ClaimedMessage]:
    """Claim up to `budgets[lane]` messages per lane, the non-OTP lanes together at most `shared_budget`."""
    claimed: list[ClaimedMessage] = []
    shared_left = shared_budget
    cursor.rotation += 1
    for lane in LANE_ORDER:
        limit = budgets.get(lane, 0)
        if lane != Lane.OTP:
            limit = min(limit, shared_left)
        if limit <= 0:
            continue
        taken = _claim_lane(conn, lane, owner, now, lease_ms, limit, cursor)
        claimed.extend(taken)
        if lane != Lane.OTP:
            shared_left -= len(taken)
    return claimed


def most_claimed(budgets: Mapping[str, int], shared_budget: int) -> int:
    """The most messages `claim` can take with these budgets: OTP's own, and the others' within the shared one."""
    others = sum(budget for lane, budget in budgets.items() if lane != Lane.OTP)
    return budgets.get(Lane.OTP, 0) + max(0, min(others, shared_budget))


def _claim_lane(
    conn: Connection, lane: str, owner: str, now: int, lease_ms: int, limit: int, cursor: ClaimCursor
) -> list[ClaimedMessage]:
    active = _active_accounts(conn, lane, cursor.after.get(lane, 0))
    if not active and cursor.after.get(lane, 0):
        cursor.after[lane] = 0  # the scan reached the end: start again from the first account
        active = _active_accounts(conn, lane, 0)
    if not active:
        return []
    # Resume after the last account seen when the list was cut, so accounts beyond the cut get their turn.
    cursor.after[lane] = active[-1] if len(active) == MAX_ACCOUNTS_PER_CYCLE else 0
    weights = _weights(conn, active)
    shares = fair_shares([weights.get(a, 1) for a in active], limit, cursor.rotation)
    claimed: list[ClaimedMessage] = []
    hungry: list[int] = []  # accounts that used their whole share and may have more
    for account_id, share in zip(active, shares, strict=True):
        if share <= 0:
            continue
        taken = _claim_account(conn, lane, account_id, owner, now, lease_ms, share)
        claimed.extend(taken)
        if len(taken) == share:
            hungry.append(account_id)
    left = limit - len(claimed)
    if left > 0 and hungry:  # what quiet accounts did not use goes to the busy ones, again by weight
        extra = fair_shares([weights.get(a, 1) for a in hungry], left, cursor.rotation)
        for account_id, share in zip(hungry, extra, strict=True):
            if share > 0:
                claimed.extend(_claim_account(conn, lane, account_id, owner, now, lease_ms, share))
    return claimed


def _active_accounts(conn: Connection, lane: str, after: int) -> list[int]:
    rows = conn.execute(
        _ACTIVE_ACCOUNTS,
        {"lane": lane, "after": after, "limit": MAX_ACCOUNTS_PER_CYCLE},
    )
    return [int(row[0]) for row in rows]


# Built once: every claim of a lane reads its accounts' weights.
_WEIGHTS = ListStatement(
    select(accounts.c.id, accounts.c.weight).where(accounts.c.id.in_(bindparam("ids", expanding=True)))
)


def _weights(conn: Connection, account_ids: Sequence[int]) -> dict[int, int]:
    rows = _WEIGHTS.execute(conn, {"ids": list(account_ids)})
    return {row.id: max(1, int(row.weight)) for row in rows}


_CANDIDATES = (
    select(messages.c.id)
    .where(
        in_state(State.QUEUED),
        messages.c.lane == bindparam("lane_"),
        messages.c.account_id == bindparam("account_"),
        messages.c.due_at <= bindparam("now_"),
    )
    .order_by(messages.c.due_at, messages.c.id)
    .limit(bindparam("limit_"))
    .with_for_update(skip_locked=True)
)

_CLAIM = (
    update(messages)
    .where(messages.c.id.in_(_CANDIDATES.scalar_subquery()))
    .values(
        state=State.SUBMITTING,
        lease_owner=bindparam("owner_"),
        lease_until=bindparam("until_"),
        attempts=messages.c.attempts + 1,
    )
    .returning(*_RETURNED)
)


def _claim_account(
    conn: Connection, lane: str, account_id: int, owner: str, now: int, lease_ms: int, limit: int
) -> list[ClaimedMessage]:
    rows = conn.execute(
        _CLAIM,
        {
            "lane_": lane,
            "account_": account_id,
            "now_": now,
            "limit_": limit,
            "owner_": owner,
            "until_": now + lease_ms,
        },
    )
    return sorted([ClaimedMessage(*row) for row in rows.all()], key=lambda m: m.id)


def take_back_abandoned(conn: Connection, now: int, limit: int = 10000) -> int:
    """Return to the queue the messages whose lease ran out (their engine died or stalled).

    They keep their attempts and go back under lane and account fairness like any other queued message.
    """
    stale = (
        select(messages.c.id)
        .where(in_state(State.SUBMITTING), messages.c.lease_until < now)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    result = conn.execute(
        update(messages)
        .where(messages.c.id.in_(stale.scalar_subquery()))
        .values(state=State.QUEUED, lease_owner=None, lease_until=None, due_at=now)
    )
    return int(result.rowcount or 0)
