"""Waiting longer after each failure, with jitter: one formula for every retry loop of the gateway.

Callbacks to client URLs, messages no connector took, SMPP binds reconnecting after an outage and the SDK's
retries all double a first delay after each failure up to a cap; jitter keeps the many waiters one outage
failed together from coming back at the same instant. Each caller keeps its own units (seconds or
milliseconds) and its own jitter; only the formula is shared.
"""

from __future__ import annotations

import random

__all__ = ["backoff", "doubling", "jittered"]

#: More doublings than this overflow a float (2.0**1024); any cap is reached long before.
_FLOAT_DOUBLINGS = 1000


def doubling(failures: int, first: float, cap: float, *, most: int | None = None) -> float:
    """`first` after the first failure, twice as long after each further one (at most `most` doublings, so
    the power stays small), never more than `cap`."""
    doublings = min(max(0, failures - 1), _FLOAT_DOUBLINGS if most is None else most)
    return min(cap, first * 2.0**doublings)


def jittered(delay: float, rng: random.Random | None = None, spread: float = 0.2) -> float:
    """`delay` moved at random by up to ±`spread` (a fraction of it)."""
    factor: float = (rng or random).uniform(1 - spread, 1 + spread)
    return delay * factor


def backoff(failures: int, first: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds before the next try after `failures` failed tries: `first`, then doubled, ±20 % jitter, capped."""
    return min(cap, jittered(doubling(failures, first, cap), rng))
