"""A clock a test moves by hand, for the code that takes its clock as a function (`Callable[[], float]`)."""

from __future__ import annotations


class ManualClock:
    """Returns `now`, which the test sets or advances; time passes only when the test says so."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
