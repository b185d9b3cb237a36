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
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

from martinet.domain.keys import UNLIMITED, KeyLimits, limits_from_text
from martinet.services.credentials import token_hash, verify_password
from martinet.store.accounts import Account, AccountStore


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling and what the key allows. `account.lane` is already the lane of a send that names none
    (the account's when the key allows it, else the key's first lane)."""

    account: Account
    limits: KeyLimits = UNLIMITED


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
        # Least recently used first: a full cache forgets its oldest entry, not all of them.
        self._cache: OrderedDict[str, tuple[float, Caller | None]] = OrderedDict()

    async def by_token(self, token: str) -> Caller | None:
        """The caller of an API key (the same keys serve `accessToken` and `X-Api-Key`)."""
        if not token:
            return None
        key = "t:" + token_hash(token)
        hit = self._cached(key)
        if hit is not None:
            return hit[1]
        found = await self._accounts.key_by_hash(key[2:])
        caller = None
        if found is not None:
            account, lanes, networks = found
            limits = limits_from_text(lanes, networks)
            caller = Caller(replace(account, lane=limits.default_lane(account.lane)), limits)
        self._remember(key, caller)
        return caller

    async def by_password(self, login: str, password: str) -> Caller | None:
        if not login or not password:
            return None
        key = "p:" + hashlib.sha256(f"{login}\0{password}".encode()).hexdigest()
        hit = self._cached(key)
        if hit is not None:
            return hit[1]
        found = await self._accounts.by_login(login)
        caller = None
        if found is not None and found[1] is not None and verify_password(password, found[1]):
            caller = Caller(found[0])
        self._remember(key, caller)
        return caller

    def _cached(self, key: str) -> tuple[float, Caller | None] | None:
        entry = self._cache.get(key)
        if entry is None or entry[0] < self._clock():
            return None
        self._cache.move_to_end(key)
        return entry

    def _remember(self, key: str, account: Caller | None) -> None:
        if self._ttl <= 0:
            return
        self._cache[key] = (self._clock() + self._ttl, account)
        self._cache.move_to_end(key)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)
