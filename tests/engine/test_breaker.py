"""The circuit breaker: rests a failing connector, lets one probe through, closes again on success."""

from __future__ import annotations

import pytest

from martinet.engine.breaker import MAX_REST, BreakerState, CircuitBreaker
from tests.clocks import ManualClock

pytestmark = pytest.mark.unit


def test_opens_after_consecutive_failures_only() -> None:
    breaker = CircuitBreaker(failures=3, rest=30, clock=ManualClock(1000.0))
    breaker.failed()
    breaker.failed()
    breaker.succeeded()  # a success in between starts the count again
    breaker.failed()
    breaker.failed()
    assert breaker.state is BreakerState.CLOSED and breaker.allows()
    breaker.failed()
    assert breaker.state is BreakerState.OPEN and not breaker.allows()


def test_one_probe_after_the_rest_and_closed_by_its_success() -> None:
    clock = ManualClock(1000.0)
    breaker = CircuitBreaker(failures=1, rest=30, clock=clock)
    breaker.failed()
    clock.now += 29.9
    assert not breaker.allows()
    clock.now += 0.2
    assert breaker.allows()  # the probe
    assert breaker.state is BreakerState.HALF_OPEN
    assert not breaker.allows()  # nothing else until the probe is answered
    breaker.succeeded()
    assert breaker.state is BreakerState.CLOSED
    assert all(breaker.allows() for _ in range(10))


def test_a_failed_probe_rests_longer_each_time_up_to_a_ceiling() -> None:
    clock = ManualClock(1000.0)
    breaker = CircuitBreaker(failures=1, rest=30, clock=clock)
    rests = []
    breaker.failed()
    for _ in range(6):
        waited = 0.0
        while not breaker.allows():
            clock.now += 1
            waited += 1
        rests.append(waited)
        breaker.failed()  # the probe fails
    assert rests[:4] == [30, 60, 120, 240]
    assert max(rests) == MAX_REST
