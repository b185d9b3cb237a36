"""Learning how a carrier writes message IDs in its receipts, from its traffic (sans-I/O, a moved clock)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from martinet.connectors.smpp.id_learning import ReadingLearner
from martinet.connectors.smpp.message_ids import IdFormat, Reading, normalise, readings

pytestmark = pytest.mark.unit


def _carrier(
    learner: ReadingLearner,
    *,
    count: int,
    resp: Callable[[int], str],
    receipt: Callable[[int], str],
    receipt_first: bool = False,
    handsets: bool = True,
    start: int = 1,
) -> int:
    """Play `count` submissions (1 ms apart) each followed (or preceded) by its receipt; returns how many
    submissions it took the learner to decide."""
    now = 0.0
    for number in range(start, start + count):
        now += 0.001
        destination = f"3361{number:07d}"
        handset = destination if handsets else None
        submitted = normalise(resp(number), IdFormat.AUTO)
        forms = readings(receipt(number), IdFormat.AUTO)
        if receipt_first and len(forms) > 1:
            learner.observe(forms, handset, now)
        learner.submitted(submitted, destination, now)
        if not receipt_first and len(forms) > 1:
            learner.observe(forms, handset, now)
        if learner.reading is not None:
            return number - start + 1
    return count


@pytest.mark.parametrize("receipt_first", [False, True])
@pytest.mark.parametrize("handsets", [True, False])
def test_a_decimal_counter_repeated_faithfully_is_literal(receipt_first: bool, handsets: bool) -> None:
    learner = ReadingLearner()
    _carrier(learner, count=5000, resp=str, receipt=str, receipt_first=receipt_first, handsets=handsets)
    assert learner.reading is Reading.LITERAL
    assert learner.votes[Reading.DECIMAL] == 0 and learner.votes[Reading.HEX] == 0


@pytest.mark.parametrize("receipt_first", [False, True])
def test_hex_responses_and_decimal_receipts_are_learned(receipt_first: bool) -> None:
    learner = ReadingLearner()
    _carrier(learner, count=5000, resp=lambda n: f"{n:08X}", receipt=str, receipt_first=receipt_first)
    assert learner.reading is Reading.DECIMAL


def test_decimal_responses_and_hex_receipts_are_learned() -> None:
    learner = ReadingLearner()
    _carrier(learner, count=5000, resp=str, receipt=lambda n: f"{n:x}")
    assert learner.reading is Reading.HEX


def test_zero_padded_hex_repeated_in_another_case_is_literal() -> None:
    learner = ReadingLearner()
    _carrier(learner, count=5000, resp=lambda n: f"{n:08X}", receipt=lambda n: f"{n:08x}", handsets=False)
    assert learner.reading is Reading.LITERAL


def test_nothing_is_decided_on_a_handful_of_receipts() -> None:
    learner = ReadingLearner()
    _carrier(learner, count=30, resp=lambda n: f"{n:08X}", receipt=str)
    assert learner.reading is None  # the first receipts are judged a second after they arrive


def test_learning_stops_remembering_once_decided() -> None:
    learner = ReadingLearner(memory=2000)  # a second of this traffic, and some
    taken = _carrier(learner, count=5000, resp=str, receipt=str, start=10_000)
    assert learner.reading is Reading.LITERAL and taken < 5000
    learner.submitted("123", "33612345678", 100.0)
    assert learner._recent == {}
