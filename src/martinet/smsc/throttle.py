"""A token bucket: the way a carrier's SMSC limits an account's submissions per second."""

from __future__ import annotations

__all__ = ["TokenBucket"]


class TokenBucket:
    """``rate`` tokens per second, at most ``capacity`` saved up; time is passed in, so tests and
    the simulator share one clock and nothing sleeps."""

    __slots__ = ("_capacity", "_rate", "_tokens", "_updated")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("rate must be positive and capacity at least 1")
        self._rate = rate
        self._capacity = capacity
        self._tokens = capacity
        self._updated = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one (refilling for the time elapsed first)."""
        tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            return True
        self._tokens = tokens
        return False
