"""The per-account token buckets, on a clock the tests move by hand."""

from __future__ import annotations

import random

import pytest

from martinet.services.rate_limits import RateLimited, RateLimiter, effective_rate
from tests.clocks import ManualClock

pytestmark = pytest.mark.unit


def allowed(limiter: RateLimiter, account_id: int, own: float | None) -> bool:
    try:
        limiter.check(account_id, own)
    except RateLimited:
        return False
    return True


def test_no_limit_when_the_account_has_none_and_the_default_is_zero() -> None:
    limiter = RateLimiter(0, clock=ManualClock(1000.0))
    assert all(allowed(limiter, 1, None) for _ in range(10_000))


def test_an_account_at_zero_is_unlimited_whatever_the_default() -> None:
    limiter = RateLimiter(1, clock=ManualClock(1000.0))
    assert all(allowed(limiter, 1, 0.0) for _ in range(1_000))
    assert allowed(limiter, 2, None)
    assert not allowed(limiter, 2, None)  # the default applies to accounts without their own value


def test_effective_rate_prefers_the_account_value() -> None:
    assert effective_rate(None, 3) == 3.0
    assert effective_rate(0.0, 3) == 0.0
    assert effective_rate(7.5, 3) == 7.5


def test_a_burst_of_one_second_then_refill_at_the_rate() -> None:
    clock = ManualClock(1000.0)
    limiter = RateLimiter(0, clock=clock)
    assert [allowed(limiter, 1, 5) for _ in range(6)] == [True] * 5 + [False]
    clock.now += 0.1
    assert not allowed(limiter, 1, 5)  # half a token
    clock.now += 0.1
    assert allowed(limiter, 1, 5)
    assert not allowed(limiter, 1, 5)


def test_refused_calls_take_nothing() -> None:
    clock = ManualClock(1000.0)
    limiter = RateLimiter(0, clock=clock)
    assert allowed(limiter, 1, 0.5)
    for _ in range(100):
        clock.now += 0.01
        assert not allowed(limiter, 1, 0.5)
    clock.now += 1.01  # two seconds since the accepted call: one token, however many were refused meanwhile
    assert allowed(limiter, 1, 0.5)


def test_below_one_per_second_still_lets_one_send_through() -> None:
    clock = ManualClock(1000.0)
    limiter = RateLimiter(0.2, clock=clock)
    assert allowed(limiter, 1, None)
    clock.now += 4.9
    assert not allowed(limiter, 1, None)
    clock.now += 0.1
    assert allowed(limiter, 1, None)


@pytest.mark.parametrize("rate", [1.0, 2.0, 10.0, 250.0])
def test_a_steady_client_at_the_limit_is_never_refused(rate: float) -> None:
    clock = ManualClock(1000.0)
    limiter = RateLimiter(0, clock=clock)
    for _ in range(2_000):
        assert allowed(limiter, 1, rate)
        clock.now += 1 / rate


@pytest.mark.parametrize("rate", [2.0, 10.0, 250.0])
def test_jitter_around_the_limit_is_absorbed(rate: float) -> None:
    """Calls due every 1/rate seconds arrive up to half an interval early or late: none is refused."""
    clock = ManualClock(1000.0)
    limiter = RateLimiter(0, clock=clock)
    jitter = random.Random(7)
    start = clock.now
    for index in range(2_000):
        clock.now = start + index / rate + jitter.uniform(-0.5, 0.5) / rate
        assert allowed(limiter, 1, rate)


def test_a_client_over_the_limit_gets_the_limit_on_average() -> None:
    clock = ManualClock(1000.0)
    limiter = RateLimiter(0, clock=clock)
    accepted = 0
    for _ in range(10_000):  # 100 s at 100 calls per second against a limit of 20
        accepted += allowed(limiter, 1, 20)
        clock.now += 0.01
    assert 20 * 100 <= accepted <= 20 * 100 + 20  # the limit, plus the first second's burst


def test_each_worker_enforces_its_share() -> None:
    clock = ManualClock(1000.0)
    limiter = RateLimiter(0, share=4, clock=clock)
    assert [allowed(limiter, 1, 10) for _ in range(3)] == [True, True, False]  # 2.5 per second here
    clock.now += 0.4
    assert allowed(limiter, 1, 10)
    assert not allowed(limiter, 1, 10)


def test_accounts_have_their_own_buckets() -> None:
    limiter = RateLimiter(1, clock=ManualClock(1000.0))
    assert allowed(limiter, 1, None)
    assert not allowed(limiter, 1, None)
    assert allowed(limiter, 2, None)


def test_a_changed_limit_applies_from_the_next_call() -> None:
    clock = ManualClock(1000.0)
    limiter = RateLimiter(0, clock=clock)
    assert [allowed(limiter, 1, 100) for _ in range(3)] == [True] * 3
    assert allowed(limiter, 1, 1)  # lowered: the bucket shrinks to one token, which this call takes
    assert not allowed(limiter, 1, 1)
    clock.now += 0.105
    assert [allowed(limiter, 1, 100) for _ in range(10)] == [True] * 10  # raised: 0.1 s refills 10 tokens
    assert not allowed(limiter, 1, 100)
    assert all(allowed(limiter, 1, 0) for _ in range(100))  # lifted


def test_the_refusal_says_which_limit() -> None:
    limiter = RateLimiter(0, clock=ManualClock(1000.0))
    limiter.check(5, 0.5)
    with pytest.raises(RateLimited) as refused:
        limiter.check(5, 0.5)
    assert (refused.value.account_id, refused.value.rate) == (5, 0.5)


def test_share_must_be_positive() -> None:
    with pytest.raises(ValueError, match="share"):
        RateLimiter(1, share=0)
