"""The account tree: parents and sub-accounts, their inherited limits, credit transfers and closing.

A credit movement between two accounts is one transaction: both account rows are locked (in id order, as the
acceptance writer locks them, so the two never deadlock), the giver's balance is checked inside it, and each
side gets its ledger row and its cached balance together. A send accepted at the same moment sees the balance
before or after the transfer, never between.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Select, bindparam, insert, literal, select, update
from sqlalchemy.engine import Connection

from martinet import metrics
from martinet.domain.status import State
from martinet.domain.valueclass import valueclass
from martinet.store.accounts import KEEP, InsufficientCredit, Keep, UnknownAccount
from martinet.store.database import Database
from martinet.store.reports import cancel_messages
from martinet.store.schema import accounts, api_keys, ledger, messages, sends

TRANSFER_IN, TRANSFER_OUT = "transfer_in", "transfer_out"


class AccountClosed(Exception):
    """The account was deleted: it can no longer send, receive credits or be changed."""


class HasSubAccounts(Exception):
    """An account with open sub-accounts cannot be closed: its sub-accounts are closed first."""


@valueclass
class TreeAccount:
    """An account as its managers see it: where it sits in the tree, its balance and the limits set on it."""

    id: int
    login: str
    parent_id: int | None
    operator: bool
    closed_at: int | None
    balance: int  # millicredits
    created_at: int
    lane: str
    rate_limit: float | None
    allowed_lanes: str | None
    allowed_countries: str | None
    sender_policy: str
    profile: str | None  # JSON
    timezone: str = "Europe/Paris"

    @property
    def profile_fields(self) -> dict[str, str]:
        if not self.profile:
            return {}
        loaded = json.loads(self.profile)
        return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


_COLUMNS = (
    accounts.c.id,
    accounts.c.login,
    accounts.c.parent_id,
    accounts.c.operator,
    accounts.c.closed_at,
    accounts.c.balance,
    accounts.c.created_at,
    accounts.c.lane,
    accounts.c.rate_limit,
    accounts.c.allowed_lanes,
    accounts.c.allowed_countries,
    accounts.c.sender_policy,
    accounts.c.profile,
    accounts.c.timezone,
)


def _tree_account(row: Sequence[Any]) -> TreeAccount:
    values = list(row[: len(_COLUMNS)])
    values[3] = bool(values[3])
    values[5] = int(values[5])
    values[8] = None if values[8] is None else float(values[8])
    return TreeAccount(*values)


@valueclass
class Transfer:
    giver: int
    receiver: int
    amount: int  # millicredits
    giver_balance: int  # after the transfer
    receiver_balance: int
    at: int


def _lineage() -> Select[Any]:
    """The recursive query of `AccountTree.lineage`, built once: the HTTP worker asks it whenever an account's
    cached rules expire, and building a recursive CTE costs more than running it."""
    start = select(accounts.c.id, accounts.c.parent_id, literal(0).label("depth"))
    chain = start.where(accounts.c.id == bindparam("account_id")).cte("chain", recursive=True)
    step = select(accounts.c.id, accounts.c.parent_id, (chain.c.depth + 1).label("depth")).where(
        accounts.c.id == chain.c.parent_id, chain.c.depth < 64
    )
    chain = chain.union_all(step)
    return select(*_COLUMNS).join(chain, chain.c.id == accounts.c.id).order_by(chain.c.depth)


_LINEAGE = _lineage()


class AccountTree:
    def __init__(self, db: Database, now_ms: Callable[[], int]) -> None:
        self._db = db
        self._now_ms = now_ms

    async def get(self, account_id: int) -> TreeAccount | None:
        async with self._db.reader.connect() as conn:
            row = (await conn.execute(select(*_COLUMNS).where(accounts.c.id == account_id))).first()
        return _tree_account(row) if row else None

    async def by_login(self, login: str) -> TreeAccount | None:
        async with self._db.reader.connect() as conn:
            row = (await conn.execute(select(*_COLUMNS).where(accounts.c.login == login))).first()
        return _tree_account(row) if row else None

    async def lineage(self, account_id: int) -> list[TreeAccount]:
        """The account and its ancestors, itself first and the root last (one recursive query)."""
        async with self._db.reader.connect() as conn:
            return [_tree_account(row) for row in await conn.execute(_LINEAGE, {"account_id": account_id})]

    async def children(self, account_id: int) -> list[TreeAccount]:
        query = select(*_COLUMNS).where(accounts.c.parent_id == account_id).order_by(accounts.c.id)
        async with self._db.reader.connect() as conn:
            return [_tree_account(row) for row in await conn.execute(query)]

    async def set_limits(
        self,
        account_id: int,
        *,
        rate_limit: float | Keep | None = KEEP,
        allowed_lanes: str | Keep | None = KEEP,
        allowed_countries: str | Keep | None = KEEP,
        sender_policy: str | Keep = KEEP,
    ) -> TreeAccount:
        changes = {
            name: value
            for name, value in (
                ("rate_limit", rate_limit),
                ("allowed_lanes", allowed_lanes),
                ("allowed_countries", allowed_countries),
                ("sender_policy", sender_policy),
            )
            if value is not KEEP
        }
        if changes:
            async with self._db.write() as conn:
                result = await conn.execute(
                    update(accounts).where(accounts.c.id == account_id, accounts.c.closed_at.is_(None)).values(changes)
                )
                if not result.rowcount:
                    raise AccountClosed(account_id)
        found = await self.get(account_id)
        if found is None:
            raise UnknownAccount(account_id)
        return found

    async def set_profile(self, account_id: int, profile: Mapping[str, str]) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                update(accounts).where(accounts.c.id == account_id).values(profile=json.dumps(dict(profile)))
            )

    async def set_operator(self, account_id: int, operator: bool) -> None:
        async with self._db.write() as conn:
            await conn.execute(update(accounts).where(accounts.c.id == account_id).values(operator=operator))

    async def transfer(
        self, giver: int, receiver: int, amount: int, *, reference: str | None = None, note: str | None = None
    ) -> Transfer:
        """Move `amount` millicredits (> 0) from `giver` to `receiver`; raises InsufficientCredit, AccountClosed
        or UnknownAccount, moving nothing."""
        if amount <= 0 or giver == receiver:
            raise ValueError("a transfer moves a positive amount between two accounts")
        now = self._now_ms()
        moved = await self._db.run_write(lambda conn: _move(conn, giver, receiver, amount, now, reference, note))
        metrics.credits_moved("transfer", amount)
        return moved

    async def close(self, account_id: int) -> int:
        """Close a sub-account: its keys revoked, its balance given back to its parent (recorded on both sides);
        returns the millicredits given back. Raises HasSubAccounts, AccountClosed, UnknownAccount."""
        now = self._now_ms()
        returned, refunded = await self._db.run_write(lambda conn: _close(conn, account_id, now))
        if refunded:
            metrics.credits_moved("refund", refunded)
        if returned:
            metrics.credits_moved("transfer", returned)
        return returned


def _lock(conn: Connection, ids: Sequence[int]) -> dict[int, Any]:
    rows = conn.execute(
        select(accounts.c.id, accounts.c.balance, accounts.c.closed_at, accounts.c.parent_id)
        .where(accounts.c.id.in_(sorted(ids)))
        .order_by(accounts.c.id)
        .with_for_update()
    )
    return {row.id: row for row in rows}


def _move(
    conn: Connection, giver: int, receiver: int, amount: int, now: int, reference: str | None, note: str | None
) -> Transfer:
    locked = _lock(conn, (giver, receiver))
    for account_id in (giver, receiver):
        if account_id not in locked:
            raise UnknownAccount(account_id)
    # A deleted account receives nothing; it may still give, for a refund that reached it after its deletion.
    if locked[receiver].closed_at is not None:
        raise AccountClosed(receiver)
    if locked[giver].balance < amount:
        raise InsufficientCredit(giver)
    _post_pair(conn, giver, receiver, amount, now, reference, note)
    return Transfer(
        giver, receiver, amount, int(locked[giver].balance - amount), int(locked[receiver].balance + amount), now
    )


def _post_pair(
    conn: Connection, giver: int, receiver: int, amount: int, now: int, reference: str | None, note: str | None
) -> None:
    conn.execute(
        insert(ledger),
        [
            {
                "account_id": giver,
                "at": now,
                "amount": -amount,
                "reason": TRANSFER_OUT,
                "reference": reference,
                "counterparty_id": receiver,
                "note": note,
            },
            {
                "account_id": receiver,
                "at": now,
                "amount": amount,
                "reason": TRANSFER_IN,
                "reference": reference,
                "counterparty_id": giver,
                "note": note,
            },
        ],
    )
    conn.execute(update(accounts).where(accounts.c.id == giver).values(balance=accounts.c.balance - amount))
    conn.execute(update(accounts).where(accounts.c.id == receiver).values(balance=accounts.c.balance + amount))


def _close(conn: Connection, account_id: int, now: int) -> tuple[int, int]:
    own = conn.execute(select(accounts.c.parent_id).where(accounts.c.id == account_id)).first()
    if own is None:
        raise UnknownAccount(account_id)
    parent = own.parent_id
    if parent is None:
        raise ValueError("only a sub-account can be closed")
    locked = _lock(conn, (account_id, parent))
    if locked[account_id].closed_at is not None:
        raise AccountClosed(account_id)
    open_children = conn.execute(
        select(accounts.c.id).where(accounts.c.parent_id == account_id, accounts.c.closed_at.is_(None)).limit(1)
    ).first()
    if open_children is not None:
        raise HasSubAccounts(account_id)
    # Its scheduled sends are cancelled and refunded first, so that what they cost goes back up with the rest:
    # a deleted account sends nothing more, and nobody could cancel them once its keys are revoked.
    scheduled = conn.execute(
        select(messages.c.id, messages.c.cost, messages.c.send_id)
        .join(sends, sends.c.id == messages.c.send_id)
        .where(sends.c.account_id == account_id, messages.c.state == State.SCHEDULED)
        .with_for_update(of=messages)
    ).all()
    refunded = cancel_messages(conn, account_id, scheduled, now, "sub-account deleted") if scheduled else 0
    balance = int(locked[account_id].balance) + refunded
    conn.execute(update(accounts).where(accounts.c.id == account_id).values(closed_at=now))
    live_keys = (api_keys.c.account_id == account_id) & api_keys.c.revoked_at.is_(None)
    conn.execute(update(api_keys).where(live_keys).values(revoked_at=now))
    if balance > 0:
        _post_pair(conn, account_id, parent, balance, now, None, "sub-account deleted")
    return balance, refunded
