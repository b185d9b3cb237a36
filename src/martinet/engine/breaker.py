"""Circuit breakers: a connector that keeps failing is rested instead of being handed every message first.

Closed: traffic flows, consecutive temporary failures are counted. After `failures` in a row the breaker opens
and the router skips the connector for `rest` seconds (doubling while probes keep failing, up to `MAX_REST`).
Then it is half-open: one message goes through as a probe; success closes the breaker, failure opens it again.
Permanent refusals (an invalid destination) are the carrier working as it should and count as successes.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from prometheus_client import Gauge

from martinet import metrics

#: Longest rest after repeated failed probes, in seconds (unless the configured rest is longer).
MAX_REST = 300.0


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


#: `martinet_breaker_state`'s value for each state (higher is worse, so several processes aggregate by max).
GAUGE_VALUE = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


class CircuitBreaker:
    """`name` (the connector's) makes the breaker report its state as `martinet_breaker_state`; an unnamed one
    can be named later (`report_as`), which the dispatcher does with the names it knows the breakers by."""

    def __init__(self, failures: int, rest: float, clock: Callable[[], float], *, name: str | None = None) -> None:
        self._threshold = failures
        self._rest = rest
        self._clock = clock
        self._failures = 0
        self._opened = 0  # consecutive openings, for the growing rest
        self._open_until = 0.0
        self._probing = False
        self._state = BreakerState.CLOSED
        self._gauge: Gauge | None = None
        self.name: str | None = None
        if name is not None:
            self.report_as(name)

    def report_as(self, name: str) -> None:
        self.name = name
        self._gauge = metrics.BREAKER_STATE.labels(name)
        self._gauge.set(GAUGE_VALUE[self._state])

    @property
    def state(self) -> BreakerState:
        return self._state

    @state.setter
    def state(self, state: BreakerState) -> None:
        if state is not self._state and self._gauge is not None:
            self._gauge.set(GAUGE_VALUE[state])
        self._state = state

    def allows(self) -> bool:
        """Whether one more message may be given to the connector now; call it only when about to give one
        (in the half-open state the first `True` is the probe, and later calls say no until it is answered)."""
        if self._state is BreakerState.CLOSED:
            return True
        if self._state is BreakerState.OPEN:
            if self._clock() < self._open_until:
                return False
            self.state = BreakerState.HALF_OPEN
            self._probing = False
        if self._probing:
            return False
        self._probing = True
        return True

    def succeeded(self) -> None:
        self._failures = 0
        self._opened = 0
        self._probing = False
        self.state = BreakerState.CLOSED

    def failed(self) -> None:
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or self._failures >= self._threshold:
            self._open()

    def _open(self) -> None:
        rest = min(self._rest * (2 ** min(self._opened, 10)), max(self._rest, MAX_REST))
        self._opened += 1
        self._open_until = self._clock() + rest
        self._probing = False
        self.state = BreakerState.OPEN
