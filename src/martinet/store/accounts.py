"""Accounts, their API keys and their credit ledger."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Final

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from martinet import metrics
from martinet.domain.valueclass import valueclass
from martinet.store.database import Database
from martinet.store.schema import accounts, api_keys, ledger


class LoginTaken(Exception):
    """An account with that login exists already (smsmode code 41)."""


class UnknownAccount(LookupError):
    """No account has that login (or id): the one exception for it, whichever part of the store looked."""


class InsufficientCredit(Exception):
    pass


@valueclass
class Account:
    id: int
    login: str
    language: str
    timezone: str
    lane: str
    non_gsm: str
    parent_id: int | None
    sandbox: bool = False
    weight: int = 1  # share of its lane's capacity against other accounts (fair queuing)
    rate_limit: float | None = None  # sends/s accepted; None: the configured default (0 = unlimited)
    callback_url: str | None = None  # delivery reports of sends that name no notification_url
    reply_url: str | None = None  # replies to sends that name no notification_url_reponse, and unanswered ones
    operator: bool = False  # manages every account (docs/resellers.md)
    callback_statuses: str = "all"  # "all" status changes are called back, or only "final" ones


@valueclass
class ApiKey:
    """A key as listed to its operator: never the key itself, which is shown once and stored hashed."""

    id: int
    label: str
    lanes: str | None
    networks: str | None
    created_at: int
    revoked_at: int | None
    expires_at: int | None = None


class Keep(enum.Enum):
    """The type of KEEP: a setting `AccountStore.update` leaves as it is (None already means "the default")."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP


_ACCOUNT_COLUMNS = (
    accounts.c.id,
    accounts.c.login,
    accounts.c.language,
    accounts.c.timezone,
    accounts.c.lane,
    accounts.c.non_gsm,
    accounts.c.parent_id,
    accounts.c.sandbox,
    accounts.c.weight,
    accounts.c.rate_limit,
    accounts.c.callback_url,
    accounts.c.reply_url,
    accounts.c.operator,
    accounts.c.callback_statuses,
)


def _account(row: Sequence[Any]) -> Account:
    """An Account from a row that starts with `_ACCOUNT_COLUMNS` (more columns may follow).

    SQLite may hand a REAL holding a whole number back as an int: the rate limit is made a float again.
    """
    account = Account(*row[: len(_ACCOUNT_COLUMNS)])
    if account.rate_limit is None or isinstance(account.rate_limit, float):
        return account
    return replace(account, rate_limit=float(account.rate_limit))


class AccountStore:
    def __init__(self, db: Database, now_ms: Callable[[], int]) -> None:
        self._db = db
        self._now_ms = now_ms

    async def create(
        self,
        login: str,
        *,
        password_hash: str | None,
        language: str,
        timezone: str,
        lane: str,
        non_gsm: str,
        parent_id: int | None = None,
        sandbox: bool = False,
        weight: int = 1,
        rate_limit: float | None = None,
        callback_url: str | None = None,
        reply_url: str | None = None,
        callback_statuses: str = "all",
    ) -> Account:
        values = {
            "login": login,
            "password_hash": password_hash,
            "language": language,
            "timezone": timezone,
            "lane": lane,
            "non_gsm": non_gsm,
            "parent_id": parent_id,
            "sandbox": sandbox,
            "weight": weight,
            "rate_limit": rate_limit,
            "callback_url": callback_url,
            "reply_url": reply_url,
            "callback_statuses": callback_statuses,
            "created_at": self._now_ms(),
            "balance": 0,
        }
        try:
            async with self._db.write() as conn:
                result = await conn.execute(insert(accounts).values(values).returning(accounts.c.id))
                account_id = result.scalar_one()
        except IntegrityError:
            raise LoginTaken(login) from None
        return Account(
            account_id,
            login,
            language,
            timezone,
            lane,
            non_gsm,
            parent_id,
            sandbox,
            weight,
            rate_limit,
            callback_url,
            reply_url,
            callback_statuses=callback_statuses,
        )

    async def update(
        self,
        login: str,
        *,
        lane: str | Keep = KEEP,
        weight: int | Keep = KEEP,
        rate_limit: float | Keep | None = KEEP,
        sandbox: bool | Keep = KEEP,
        callback_url: str | Keep | None = KEEP,
        reply_url: str | Keep | None = KEEP,
        callback_statuses: str | Keep = KEEP,
    ) -> Account:
        """Change the given settings of an account and return it as stored; raise UnknownAccount.

        Workers see the change when their authentication cache expires (`accounts.token_cache_seconds`).
        """
        changes: dict[str, Any] = {
            name: value
            for name, value in (
                ("lane", lane),
                ("weight", weight),
                ("rate_limit", rate_limit),
                ("sandbox", sandbox),
                ("callback_url", callback_url),
                ("reply_url", reply_url),
                ("callback_statuses", callback_statuses),
            )
            if value is not KEEP
        }
        if not changes:
            found = await self.by_login(login)
            if found is None:
                raise UnknownAccount(login)
            return found[0]
        statement = update(accounts).where(accounts.c.login == login).values(changes).returning(*_ACCOUNT_COLUMNS)
        async with self._db.write() as conn:
            row = (await conn.execute(statement)).first()
        if row is None:
            raise UnknownAccount(login)
        return _account(row)

    async def add_api_key(
        self,
        account_id: int,
        token_hash: str,
        label: str = "",
        *,
        lanes: str | None = None,
        networks: str | None = None,
        expires_at: int | None = None,
    ) -> int:
        """Store a key (its hash and limits, see `martinet.domain.keys`) and return its id."""
        async with self._db.write() as conn:
            result = await conn.execute(
                insert(api_keys)
                .values(
                    account_id=account_id,
                    token_hash=token_hash,
                    label=label,
                    created_at=self._now_ms(),
                    lanes=lanes,
                    networks=networks,
                    expires_at=expires_at,
                )
                .returning(api_keys.c.id)
            )
            return int(result.scalar_one())

    async def key_by_hash(self, token_hash: str) -> tuple[Account, str | None, str | None] | None:
        """The account of a live key and the key's limits as stored (lanes, networks)."""
        query = (
            select(*_ACCOUNT_COLUMNS, api_keys.c.lanes, api_keys.c.networks)
            .join(api_keys, api_keys.c.account_id == accounts.c.id)
            .where(api_keys.c.token_hash == token_hash, *self._live_key())
        )
        async with self._db.reader.connect() as conn:
            row = (await conn.execute(query)).first()
        return (_account(row), row.lanes, row.networks) if row else None

    def _live_key(self) -> tuple[ColumnElement[bool], ...]:
        """A key that authenticates: not revoked, not expired, of an account that is not closed."""
        return (
            api_keys.c.revoked_at.is_(None),
            or_(api_keys.c.expires_at.is_(None), api_keys.c.expires_at > self._now_ms()),
            accounts.c.closed_at.is_(None),
        )

    async def api_keys(self, account_id: int) -> list[ApiKey]:
        query = (
            select(
                api_keys.c.id,
                api_keys.c.label,
                api_keys.c.lanes,
                api_keys.c.networks,
                api_keys.c.created_at,
                api_keys.c.revoked_at,
                api_keys.c.expires_at,
            )
            .where(api_keys.c.account_id == account_id)
            .order_by(api_keys.c.id)
        )
        async with self._db.reader.connect() as conn:
            return [ApiKey(*row) for row in await conn.execute(query)]

    async def api_key_account(self, key_id: int) -> int | None:
        """The account a key (live or not) belongs to, None when there is no such key."""
        async with self._db.reader.connect() as conn:
            value = await conn.scalar(select(api_keys.c.account_id).where(api_keys.c.id == key_id))
        return None if value is None else int(value)

    async def revoke_api_key(self, key_id: int) -> bool:
        """Revoke a live key; False when there is no such live key. Workers forget it within their cache time."""
        async with self._db.write() as conn:
            result = await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=self._now_ms())
            )
        return bool(result.rowcount)

    async def by_token_hash(self, token_hash: str) -> Account | None:
        query = (
            select(*_ACCOUNT_COLUMNS)
            .join(api_keys, api_keys.c.account_id == accounts.c.id)
            .where(api_keys.c.token_hash == token_hash, *self._live_key())
        )
        async with self._db.reader.connect() as conn:
            row = (await conn.execute(query)).first()
        return _account(row) if row else None

    async def by_login(self, login: str, *, live: bool = False) -> tuple[Account, str | None] | None:
        """The account and its password hash, for the legacy `pseudo`/`pass` authentication (`live`: None for a
        closed account)."""
        query = select(*_ACCOUNT_COLUMNS, accounts.c.password_hash).where(accounts.c.login == login)
        if live:
            query = query.where(accounts.c.closed_at.is_(None))
        async with self._db.reader.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return _account(row), row[-1]

    async def console_session(self, login: str) -> tuple[Account, int] | None:
        """The live account `login` and the generation of its console sessions, in the one query a console page
        makes anyway to find who is signed in; None for an unknown or closed account."""
        query = select(*_ACCOUNT_COLUMNS, accounts.c.console_generation).where(
            accounts.c.login == login, accounts.c.closed_at.is_(None)
        )
        async with self._db.reader.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return _account(row), int(row[-1])

    async def console_generation(self, account_id: int) -> int:
        """The generation a console session signed now carries."""
        async with self._db.reader.connect() as conn:
            value = await conn.scalar(select(accounts.c.console_generation).where(accounts.c.id == account_id))
        if value is None:
            raise UnknownAccount(account_id)
        return int(value)

    async def end_console_sessions(self, account_id: int) -> None:
        """Void every console session of the account signed so far (signing out), on every worker and node:
        each page compares its cookie's generation with the account's."""
        statement = (
            update(accounts)
            .where(accounts.c.id == account_id)
            .values(console_generation=accounts.c.console_generation + 1)
        )
        async with self._db.write() as conn:
            await conn.execute(statement)

    async def balance(self, account_id: int) -> int:
        async with self._db.reader.connect() as conn:
            value = await conn.scalar(select(accounts.c.balance).where(accounts.c.id == account_id))
        if value is None:
            raise UnknownAccount(account_id)
        return int(value)

    async def ledger_sum(self, account_id: int) -> int:
        """The balance recomputed from the ledger: what the cached `accounts.balance` must always equal."""
        async with self._db.reader.connect() as conn:
            value = await conn.scalar(
                select(func.coalesce(func.sum(ledger.c.amount), 0)).where(ledger.c.account_id == account_id)
            )
        return int(value or 0)

    async def post(self, account_id: int, amount: int, reason: str, note: str | None = None) -> int:
        """Add a ledger row (positive = credit) and return the new balance.

        A debit that would take the balance below zero is refused: operators remove credits they granted,
        they do not create debts by accident.
        """
        async with self._db.write() as conn:
            current = await conn.scalar(select(accounts.c.balance).where(accounts.c.id == account_id).with_for_update())
            if current is None:
                raise UnknownAccount(account_id)
            if current + amount < 0:
                raise InsufficientCredit(account_id)
            await conn.execute(
                insert(ledger).values(account_id=account_id, at=self._now_ms(), amount=amount, reason=reason, note=note)
            )
            await conn.execute(
                update(accounts).where(accounts.c.id == account_id).values(balance=accounts.c.balance + amount)
            )
        metrics.credits_moved("topup" if amount > 0 else "withdrawal", abs(amount))
        return int(current + amount)


async def set_password_hash(db: Database, login: str, password_hash: str) -> bool:
    """Give an account a (new) password hash; False when there is no such account."""
    async with db.write() as conn:
        result = await conn.execute(
            update(accounts).where(accounts.c.login == login).values(password_hash=password_hash)
        )
    return bool(result.rowcount)
