"""Creating accounts and moving credits, for the CLI now and the sub-account API later."""

from __future__ import annotations

from dataclasses import dataclass

from martinet.config import AccountDefaults
from martinet.domain.ids import new_access_token
from martinet.services.credentials import hash_password, token_hash
from martinet.store.accounts import Account, AccountStore, UnknownAccount


@dataclass(frozen=True, slots=True)
class NewAccount:
    account: Account
    token: str


class AccountService:
    def __init__(self, accounts: AccountStore, defaults: AccountDefaults) -> None:
        self._accounts = accounts
        self._defaults = defaults

    async def create(
        self,
        login: str,
        *,
        credits: int = 0,
        password: str | None = None,
        lane: str | None = None,
        non_gsm: str | None = None,
        language: str | None = None,
        sandbox: bool = False,
        token: str | None = None,
    ) -> NewAccount:
        """Create an account with one API key (returned in clear, once) and an opening credit."""
        account = await self._accounts.create(
            login,
            password_hash=hash_password(password) if password else None,
            language=language or self._defaults.language,
            timezone=self._defaults.timezone,
            lane=lane or self._defaults.lane,
            non_gsm=non_gsm or self._defaults.non_gsm,
            sandbox=sandbox,
        )
        token = token or new_access_token()
        await self._accounts.add_api_key(account.id, token_hash(token), label="default")
        if credits:
            await self._accounts.post(account.id, credits, "topup", "opening credit")
        return NewAccount(account, token)

    async def credit(self, login: str, amount: int, note: str | None = None) -> int:
        """Add (or, negative, remove) credits in millicredits; returns the new balance."""
        found = await self._accounts.by_login(login)
        if found is None:
            raise UnknownAccount(login)
        reason = "topup" if amount >= 0 else "withdrawal"
        return await self._accounts.post(found[0].id, amount, reason, note)
