"""The disk drill's rows in docs/benchmarks.md: a message the carrier received twice counts against the drill,
within the at-least-once bound a crash has (the window of the one bind)."""

from __future__ import annotations

from typing import Any

import pytest

from bench import faults

pytestmark = pytest.mark.unit


def _disk(**figures: Any) -> dict[str, Any]:
    return {
        "drill": "disk",
        "rate": 100.0,
        "full_seconds": 15.0,
        "size_mib": 64,
        "answers_while_full": {"31": 140, "0": 10},
        "readyz": [(5.1, 503, "not ready (store: …)")],
        "not_ready_after_s": 5.1,
        "refused_numbers_in_store": 0,
        "sends_missing_messages": 0,
        "first_accepted_after_free_s": 0.06,
        "ready_after_free_s": 2.2,
        "all_final_after_load_s": 0.6,
        "accepted": 1600,
        "lost": 0,
        **figures,
    }


def _last(d: dict[str, Any]) -> tuple[str, str, str, str]:
    return faults._disk_rows(d)[-1]


def test_messages_sent_twice_are_shown_and_judged_against_the_window() -> None:
    assert _last(_disk(sent_twice=0)) == (
        "  accepted / lost / received twice by the carrier",
        "1,600 / 0 / 0",
        f"0 lost, ≤ {faults.WINDOW} twice",
        "met",
    )
    assert _last(_disk(sent_twice=faults.WINDOW + 1))[3] == "**not met**"
    assert _last(_disk(sent_twice=0, lost=1))[3] == "**not met**"
