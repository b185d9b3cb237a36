"""Who is calling: access tokens and login/password, with a short cache in front of the store.

Every API request authenticates, so the lookup must not cost a query (or an scrypt) each time. Results are
cached for a few seconds, keyed by a hash of the secret (the secret itself is never kept), so a revoked key
stops working within `cache_seconds`. The cached account carries its settings (language, lane, rate limit):
a change made with `martinet account update` reaches the door within `cache_seconds` too. Unknown secrets are
cached too, so a flood of bad tokens does not become a flood of queries.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from martinet.services.credentials import token_hash, verify_password
from martinet.store.accounts import Account, AccountStore


class Authenticator:
    def __init__(
        self,
        accounts: AccountStore,
        cache_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 100_000,
    ) -> None:
        self._accounts = accounts
        self._ttl = cache_seconds
        self._clock = clock
        self._max_entries = max_entries
        self._cache: dict[str, tuple[float, Account | None]] = {}

    async def by_token(self, token: str) -> Account | None:
        if not token:
            return None
        key = "t:" + token_hash(token)
        hit = self._cached(key)
        if hit is not None:
            return hit[1]
        account = await self._accounts.by_token_hash(key[2:])
        self._remember(key, account)
        return account

    async def by_password(self, login: str, password: str) -> Account | None:
        if not login or not password:
            return None
        key = "p:" + hashlib.sha256(f"{login}\0{password}".encode()).hexdigest()
        hit = self._cached(key)
        if hit is not None:
            return hit[1]
        found = await self._accounts.by_login(login)
        account = None
        if found is not None and found[1] is not None and verify_password(password, found[1]):
            account = found[0]
        self._remember(key, account)
        return account

    def _cached(self, key: str) -> tuple[float, Account | None] | None:
        entry = self._cache.get(key)
        if entry is None or entry[0] < self._clock():
            return None
        return entry

    def _remember(self, key: str, account: Account | None) -> None:
        if self._ttl <= 0:
            return
        if len(self._cache) >= self._max_entries:
            self._cache.clear()
        self._cache[key] = (self._clock() + self._ttl, account)
