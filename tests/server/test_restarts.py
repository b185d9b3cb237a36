"""When `martinet serve`'s supervisor starts a dead child again: at once after a long run, later after each quick
death in a row (`martinet.restarts`), so that a child that cannot start is not started several times a second."""

from __future__ import annotations

import pytest

from martinet.restarts import FIRST_S, MOST_S, QUICK_S, Restarts
from tests.clocks import ManualClock

pytestmark = pytest.mark.unit


def test_quick_deaths_in_a_row_double_the_wait_up_to_a_cap_and_a_long_run_starts_the_count_again() -> None:
    clock = ManualClock(100.0)
    restarts = Restarts(clock)
    waits = []
    for _ in range(9):
        restarts.started("engine")
        clock.now += 1.0  # dies a second after its start
        waits.append(restarts.died("engine"))
        clock.now += waits[-1]
    assert waits == [FIRST_S, 1.0, 2.0, 4.0, 8.0, 16.0, MOST_S, MOST_S, MOST_S]

    restarts.started("engine")
    clock.now += QUICK_S  # ran long enough: killed, not failing to start
    assert restarts.died("engine") == 0.0
    restarts.started("engine")
    clock.now += 1.0
    assert restarts.died("engine") == FIRST_S


def test_each_child_has_its_own_count() -> None:
    clock = ManualClock(100.0)
    restarts = Restarts(clock)
    for name in ("engine", "notifier"):
        restarts.started(name)
    clock.now += 1.0
    assert restarts.died("engine") == FIRST_S
    restarts.started("engine")
    clock.now += 1.0
    assert restarts.died("engine") == 1.0
    assert restarts.died("notifier") == FIRST_S
