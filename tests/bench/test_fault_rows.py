"""The disk and outage drills' rows in docs/benchmarks.md. Disk: a message the carrier received twice fails the
drill, since the engine holds what a carrier accepted while the disk is full, for longer than the drill keeps it
full; the batches it held are shown beside. Outage: any answer but `31` or an acceptance while the server is gone
fails it (a bare `500` is no answer an smsmode client reads)."""

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
        "answers_during": {"31": 140, "0": 10},
        "readyz": [(5.1, 503, "not ready (store: …)")],
        "not_ready_after_s": 5.1,
        "refused_numbers_in_store": 0,
        "sends_missing_messages": 0,
        "first_accepted_after_mend_s": 0.06,
        "ready_after_mend_s": 2.2,
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


def _outage(**figures: Any) -> dict[str, Any]:
    """Figures of an outage drill as `faults.outage_drill` records them (those of a run, with code before the door
    answered `31` for a store failure while it looked up the credentials)."""
    return {
        "drill": "outage",
        "rate": 100.0,
        "outage_seconds": 15.0,
        "answers_during": {"31": 1, "Internal Server Error": 149},
        "refused_numbers_in_store": 0,
        "sends_missing_messages": 0,
        "first_accepted_after_mend_s": 0.03,
        "ready_after_mend_s": 2.18,
        "all_final_after_load_s": 0.81,
        "accepted": 1500,
        "lost": 0,
        "sent_twice": 0,
        "log_tracebacks": {"uvicorn.error": 149, "martinet.engine.notifier": 145},
        **figures,
    }


def test_an_outage_answered_with_anything_but_31_or_an_acceptance_fails_the_drill() -> None:
    answers, _half, timings, sent, tracebacks = faults._outage_rows(_outage())
    assert answers[1:] == ("1 × `31`, 0 accepted, 149 × Internal Server Error", "`31` (or accepted)", "**not met**")
    assert tracebacks[1] == "294"
    assert timings[1] == "0.03 s / 2.18 s; 0.81 s"
    clean = faults._outage_rows(_outage(answers_during={"31": 150}, log_tracebacks={"martinet.engine.notifier": 1}))
    assert clean[0][1:] == ("150 × `31`, 0 accepted, nothing else", "`31` (or accepted)", "met")
    assert sent[1:] == ("1,500 / 0 / 0", "0 lost, 0 twice", "met")
    assert faults._outage_rows(_outage(sent_twice=2))[3][3] == "**not met**"
