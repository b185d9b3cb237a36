"""Who is calling: access tokens and login/password, with a short cache in front of the store.

Every API request authenticates, so the lookup must not cost a query (or an scrypt) each time. Results are
cached for a few seconds, keyed by a hash of the secret (the secret itself is never kept), so a revoked key
stops working within `cache_seconds`. The cached account carries its settings (language, lane, rate limit):
a change made with `martinet account update` reaches the door within `cache_seconds` too. Unknown secrets are
cached too, so a flood of bad tokens does not become a flood of queries.

Refused secrets are counted per client address and per login (`martinet.services.auth_failures`); past the
limit every attempt is refused at once (`TooManyFailures`) without a lookup. A password is checked in a worker
thread, a few at a time, so that scrypt never stalls the event loop, and a login that does not exist costs the
same scrypt as one that does.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace

from martinet.batching import SharedLookups
from martinet.domain.keys import UNLIMITED, KeyLimits, limits_from_text
from martinet.domain.valueclass import valueclass
from martinet.services.auth_failures import FailureLimits
from martinet.services.credentials import UNUSABLE_HASH, token_hash, verify_password
from martinet.store.accounts import Account, AccountStore

#: Secrets longer than these cannot be right (tokens are 32 characters, passwords are typed by people): refused
#: without hashing megabytes.
MAX_TOKEN, MAX_LOGIN, MAX_PASSWORD = 512, 256, 1024
#: Passwords checked at the same time per process: scrypt takes a core and 16 MiB for tens of milliseconds.
PASSWORD_CHECKS = 2


class TooManyFailures(Exception):
    """The client address (or the login) failed too often lately: refused without looking at the secret."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed authentications; retry in {retry_after:.0f} s")
        self.retry_after = retry_after


@valueclass
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
        *,
        failures: FailureLimits | None = None,
    ) -> None:
        """`failures`: the limits on refused secrets; None counts nothing (tests, tools)."""
        self._accounts = accounts
        self._failures = failures
        self._password_checks = asyncio.Semaphore(PASSWORD_CHECKS)
        self._ttl = cache_seconds
        self._clock = clock
        self._max_entries = max_entries
        # Least recently used first: a full cache forgets its oldest entry, not all of them.
        self._cache: OrderedDict[str, tuple[float, Caller | None]] = OrderedDict()
        self._lookups: SharedLookups[str, Caller | None] = SharedLookups()

    def retry_after(self, address: str | None) -> float:
        """Seconds the client address must wait before it may authenticate again (0: it may now).

        Doors ask first, so that a client over the limit costs nothing more: no body read, no lookup."""
        return 0.0 if self._failures is None else self._failures.wait(address)

    async def by_token(self, token: str, address: str | None = None) -> Caller | None:
        """The caller of an API key (the same keys serve `accessToken` and `X-Api-Key`), None when unknown;
        raises TooManyFailures when `address` failed too often lately."""
        self._check_limits(address, None)
        caller = await self._token_caller(token) if token and len(token) <= MAX_TOKEN else None
        if caller is None:
            self._failed(address, None)
        return caller

    async def by_password(self, login: str, password: str, address: str | None = None) -> Caller | None:
        """The caller of a login and password, None when they do not match; raises TooManyFailures when the
        address or the login failed too often lately."""
        login = login[: MAX_LOGIN + 1]
        self._check_limits(address, login or None)
        caller = None
        if login and password and len(login) <= MAX_LOGIN and len(password) <= MAX_PASSWORD:
            caller = await self._password_caller(login, password)
        if caller is None:
            self._failed(address, login or None)
        return caller

    async def _token_caller(self, token: str) -> Caller | None:
        key = "t:" + token_hash(token)
        hit = self._cached(key)
        if hit is not None:
            return hit[1]
        # Every request in flight with this key missed at once (its entry expired): one query answers them all.
        return await self._lookups.run(key, functools.partial(self._look_up_token, key))

    async def _look_up_token(self, key: str) -> Caller | None:
        found = await self._accounts.key_by_hash(key[2:])
        caller = None
        if found is not None:
            account, lanes, networks = found
            limits = limits_from_text(lanes, networks)
            caller = Caller(replace(account, lane=limits.default_lane(account.lane)), limits)
        self._remember(key, caller)
        return caller

    async def _password_caller(self, login: str, password: str) -> Caller | None:
        secret = f"{login}\0{password}".encode("utf-8", errors="surrogatepass")
        key = "p:" + hashlib.sha256(secret).hexdigest()
        hit = self._cached(key)
        if hit is not None:
            return hit[1]
        # As for tokens: the requests in flight with this login and password share one lookup and one scrypt.
        return await self._lookups.run(key, functools.partial(self._check_password, key, login, password))

    async def _check_password(self, key: str, login: str, password: str) -> Caller | None:
        found = await self._accounts.by_login(login, live=True)
        stored = found[1] if found is not None else None
        # Unknown logins and accounts without a password cost the same scrypt as a real check.
        matches = await self._verify(password, stored or UNUSABLE_HASH)
        caller = Caller(found[0]) if found is not None and stored is not None and matches else None
        self._remember(key, caller)
        return caller

    async def _verify(self, password: str, stored: str) -> bool:
        async with self._password_checks:
            return await asyncio.to_thread(verify_password, password, stored)

    def _check_limits(self, address: str | None, login: str | None) -> None:
        if self._failures is None:
            return
        wait = self._failures.wait(address, login)
        if wait > 0:
            raise TooManyFailures(wait)

    def _failed(self, address: str | None, login: str | None) -> None:
        if self._failures is not None:
            self._failures.failed(address, login)

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
