"""The shared backoff formula: doubling from a first delay, capped, with a bounded number of doublings."""

import random

from martinet.domain.backoff import doubling, jittered


def test_doubling_starts_at_first_doubles_and_stops_at_the_cap() -> None:
    assert [doubling(n, 5, 60) for n in range(0, 7)] == [5, 5, 10, 20, 40, 60, 60]


def test_doubling_counts_at_most_the_doublings_asked() -> None:
    assert doubling(10, 1, 10_000, most=3) == 8
    assert doubling(5000, 1, 10_000) == 10_000  # no overflow: the cap wins long before


def test_jitter_stays_within_its_spread() -> None:
    rng = random.Random(7)
    values = [jittered(100, rng) for _ in range(500)]
    assert all(80 <= v <= 120 for v in values)
    assert max(values) - min(values) > 20  # it does move
