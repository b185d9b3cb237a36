"""The disk drill's rows in docs/benchmarks.md: a message the carrier received twice fails the drill, since the
engine holds what a carrier accepted while the disk is full, for longer than the drill keeps it full; the batches
it held are shown beside."""

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


def test_messages_sent_twice_fail_the_drill_and_the_answers_held_are_shown() -> None:
    assert _last(_disk(sent_twice=0, outcomes_held=3)) == (
        "  accepted / lost / received twice by the carrier (batches of carriers' answers held until written)",
        "1,600 / 0 / 0 (3)",
        "0 lost, 0 twice",
        "met",
    )
    assert _last(_disk(sent_twice=1, outcomes_held=0))[3] == "**not met**"
    assert _last(_disk(sent_twice=0, outcomes_held=0, lost=1))[3] == "**not met**"


def test_a_drill_recorded_before_the_count_of_held_answers_is_shown_without_it() -> None:
    assert _last(_disk(sent_twice=0))[:2] == ("  accepted / lost / received twice by the carrier", "1,600 / 0 / 0")
