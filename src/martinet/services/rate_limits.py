"""How many sends per second an account may have accepted: one token bucket per account, per process.

The check runs before a send is analysed or stored, so a client flooding the gateway costs a dictionary lookup
and a few float operations per refused call, never a query. Each HTTP worker process keeps its own buckets
(sharing them would cost a round trip to the database on the hottest path), so a worker enforces its share of
the limit: `rate / share`, `share` being the number of HTTP workers the kernel spreads connections across.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final


class RateLimited(Exception):
    """The account sent faster than its rate limit allows; nothing was stored (smsmode code 50)."""

    def __init__(self, account_id: int, rate: float) -> None:
        super().__init__(f"account {account_id} is limited to {rate:g} sends per second")
        self.account_id = account_id
        self.rate = rate


def effective_rate(own: float | None, default: float) -> float:
    """The limit that applies to an account: its own value, or the configured default when it has none.

    0 means no limit, for the account's own value as for the default.
    """
    return float(default if own is None else own)


#: The highest limit an account may be given, in sends per second. It is far above what any gateway accepts, so a
#: larger value can only be a typing mistake; and every door (REST, console, command line) refuses the same values.
MAX_RATE: Final = 1_000_000.0


def valid_rate(rate: float) -> bool:
    """Whether `rate` can be stored as a limit: from 0 (unlimited) to `MAX_RATE` (NaN compares false to both)."""
    return 0 <= rate <= MAX_RATE


@dataclass(slots=True)
class _Bucket:
    rate: float  # tokens added per second (this process's share of the account's limit)
    burst: float  # tokens the bucket holds at most
    tokens: float
    updated: float  # clock reading of the last refill


class RateLimiter:
    """Token buckets keyed by account, refilled lazily at each check.

    A bucket holds `max(1, rate)` tokens: at least one, so that a limit below one send per second still lets
    a send through, and otherwise a second's worth, so that a client sending steadily at its limit is not
    refused when some of its calls arrive closer together than their average spacing (network jitter: a call
    may come up to `(rate - 1) / rate` seconds early). The limit holds on average, with at most one second's
    worth accepted at once.
    """

    def __init__(
        self,
        default_rate: float,
        *,
        share: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if share < 1:
            raise ValueError(f"share must be at least 1, not {share}")
        self._default = default_rate
        self._share = share
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}

    def effective(self, own_rate: float | None) -> float:
        """The limit of an account whose stored limit is `own_rate` (None: the configured default)."""
        return effective_rate(own_rate, self._default)

    def check(self, account_id: int, own_rate: float | None) -> None:
        """Take one token for the account or raise RateLimited; `own_rate` is the account's stored limit."""
        rate = effective_rate(own_rate, self._default)
        if rate <= 0:
            self._buckets.pop(account_id, None)
            return
        if not self._take(account_id, rate / self._share):
            raise RateLimited(account_id, rate)

    def _take(self, account_id: int, rate: float) -> bool:
        now = self._clock()
        bucket = self._buckets.get(account_id)
        if bucket is None:
            bucket = self._buckets[account_id] = _Bucket(rate, max(1.0, rate), max(1.0, rate), now)
        elif bucket.rate != rate:
            # The limit was changed (`martinet account update`, seen once the authentication cache expires):
            # it applies from now on, the tokens saved under the old one kept up to the new burst.
            bucket.rate, bucket.burst = rate, max(1.0, rate)
        self._refill(bucket, now)
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    @staticmethod
    def _refill(bucket: _Bucket, now: float) -> None:
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(bucket.burst, bucket.tokens + elapsed * bucket.rate)
        bucket.updated = now
