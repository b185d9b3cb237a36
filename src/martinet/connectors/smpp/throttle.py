"""A token bucket for a connector's throughput (parts per second), shared by all its binds.

`take()` waits until a token is available instead of sleeping a fixed time per part, so bursts up to `burst`
leave at once and the long-run rate never exceeds `rate`. When the carrier answers ESME_RTHROTTLED the
connector calls `slow_down()`: the rate is cut for a while, then restored, which is what carriers expect
from a well-behaved ESME.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate < 0:
            raise ValueError("rate must be positive, or 0 for unlimited")
        self._nominal = rate
        self._rate = rate
        self._burst = burst if burst is not None else max(1.0, rate / 10)
        self._tokens = self._burst
        self._clock = clock
        self._updated = clock()
        self._restore_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def rate(self) -> float:
        return self._rate

    async def take(self) -> None:
        """Wait for one token. Unlimited (rate 0) never waits."""
        if self._nominal == 0:
            return
        async with self._lock:  # first come, first served
            while True:
                self._refill()
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self._rate)

    def slow_down(self, factor: float = 0.5, seconds: float = 5.0) -> None:
        """Cut the rate by `factor` for `seconds` (called on ESME_RTHROTTLED / ESME_RMSGQFUL)."""
        if self._nominal == 0:
            return
        self._refill()
        self._rate = max(self._nominal * 0.05, self._rate * factor)
        self._tokens = min(self._tokens, 0.0)
        self._restore_at = self._clock() + seconds

    def _refill(self) -> None:
        now = self._clock()
        if self._restore_at and now >= self._restore_at:
            self._rate, self._restore_at = self._nominal, 0.0
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
