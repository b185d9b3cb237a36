"""How many failed authentications a client address, and a login, may make before it has to wait.

Access tokens are too long to guess, but passwords are chosen by people, and every refused attempt still costs a
lookup (and for a password an scrypt): without a limit a client can try passwords online as fast as the door
answers. Each address and each login has a token bucket holding `per_minute` failures, refilled at `per_minute`
a minute; a failure takes one token, and while a bucket is empty every attempt is refused at once, before any
lookup or hashing, whether its secret is right or not (otherwise the limit would not stop a guesser).

The buckets live in the memory of each HTTP worker process, like the send rate limits: sharing them would cost a
database round trip on every request. Each worker enforces its share of the limit (`per_minute / share`), so
that the limit holds in total when the kernel spreads connections over the workers. IPv6 clients are counted
per /64, the block a single host usually holds. At most `max_tracked` buckets are kept (the least recently
used are forgotten first), so that random addresses and logins cannot grow the worker's memory.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

#: Logins longer than this are counted by their first characters: no account has such a login anyway.
MAX_LOGIN_KEY = 256


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class _Buckets:
    """Failure buckets keyed by a string, refilled lazily, the least recently used forgotten first."""

    def __init__(self, per_minute: float, max_tracked: int, clock: Callable[[], float]) -> None:
        self._capacity = max(1.0, per_minute)
        self._rate = per_minute / 60.0  # tokens per second
        self._max = max_tracked
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self._rate > 0

    def wait(self, key: str) -> float:
        """Seconds until `key` may try again (0: now)."""
        if not self.enabled:
            return 0.0
        bucket = self._refilled(key)
        if bucket is None or bucket.tokens >= 1.0:
            return 0.0
        return (1.0 - bucket.tokens) / self._rate

    def fail(self, key: str) -> None:
        if not self.enabled:
            return
        bucket = self._refilled(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self._capacity, self._clock())
            if len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        bucket.tokens = max(0.0, bucket.tokens - 1.0)

    def _refilled(self, key: str) -> _Bucket | None:
        bucket = self._buckets.get(key)
        if bucket is None:
            return None
        now = self._clock()
        bucket.tokens = min(self._capacity, bucket.tokens + max(0.0, now - bucket.updated) * self._rate)
        bucket.updated = now
        if bucket.tokens >= self._capacity:
            del self._buckets[key]  # full again: nothing to remember
            return None
        self._buckets.move_to_end(key)
        return bucket


class FailureLimits:
    """Failed authentications allowed per client address and per login, in one HTTP worker process."""

    def __init__(
        self,
        per_address_per_minute: float,
        per_login_per_minute: float,
        *,
        share: int = 1,
        max_tracked: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """0 per minute: no limit of that kind. `share`: how many HTTP workers divide the limit."""
        if share < 1:
            raise ValueError(f"share must be at least 1, not {share}")
        self._addresses = _Buckets(per_address_per_minute / share, max_tracked, clock)
        self._logins = _Buckets(per_login_per_minute / share, max_tracked, clock)

    def wait(self, address: str | None, login: str | None = None) -> float:
        """Seconds before the address (and the login, when given) may try again; 0 when it may now."""
        waits = [self._addresses.wait(address_key(address))]
        if login is not None:
            waits.append(self._logins.wait(login[:MAX_LOGIN_KEY]))
        return max(waits)

    def failed(self, address: str | None, login: str | None = None) -> None:
        """Count a refused secret against the address, and against the login it named, if any."""
        self._addresses.fail(address_key(address))
        if login is not None:
            self._logins.fail(login[:MAX_LOGIN_KEY])


@functools.lru_cache(maxsize=4096)
def address_key(address: str | None) -> str:
    """What a client is counted by: its IPv4 address, or the /64 of its IPv6 address (memoised: it runs on every
    authenticated request, and parsing an address costs more than the rest of the check)."""
    if not address:
        return ""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def retry_after_header(seconds: float) -> bytes:
    """A `Retry-After` value: whole seconds, at least one."""
    return str(max(1, math.ceil(seconds))).encode("ascii")
