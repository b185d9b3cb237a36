"""The store's stages run their statements once per message only where a message's state change needs one: the
count of SQL statements SQLite runs per message, by stage (`python -m bench.stages --statements`), on a real file.
A statement that starts running per message where it ran per batch (a lookup moved into a loop) fails here, on any
machine, where a timing would drown in the machine's drift."""

from __future__ import annotations

from typing import Any

import pytest

from bench import stages

MESSAGES, BATCH = 200, 100


@pytest.fixture(scope="module")
def counted() -> dict[str, Any]:
    return stages.statements_per_message(MESSAGES, BATCH)["stages"]


def _per_message(stage: dict[str, Any]) -> dict[str, float]:
    """The statements of a stage run once (or more) per message, by their text."""
    return {sql: n for sql, n in stage["most_run"].items() if n >= 1.0}


def _target(sql: str) -> str:
    """`INSERT INTO parts (…) VALUES …` → `INSERT INTO parts`; `UPDATE messages SET …` → `UPDATE messages`."""
    return sql.split(" (")[0].split(" SET")[0]


def test_recording_a_submission_updates_the_message_and_adds_its_part_and_history_row(counted: dict[str, Any]) -> None:
    stage = counted["record_submitted"]

    assert sorted(_target(sql) for sql in _per_message(stage)) == [
        "INSERT INTO parts",
        "INSERT INTO status_history",
        "UPDATE messages",
    ]
    assert stage["statements_per_message"] < 3.2  # the rest (callbacks, the transaction) once a batch


def test_each_receipt_updates_its_part_and_message_and_adds_one_history_row(counted: dict[str, Any]) -> None:
    stage = counted["apply_two_receipts"]

    assert len(_per_message(stage)) == 6  # two receipts, three statements each
    assert all(n == 1.0 for n in _per_message(stage).values())
    assert stage["statements_per_message"] < 6.3


def test_claiming_and_marking_callbacks_costs_one_update_per_callback_the_claim_one_per_batch(
    counted: dict[str, Any],
) -> None:
    stage = counted["claim_and_mark_callbacks"]

    assert list(_per_message(stage).values()) == [3.0]  # three status callbacks a message, each marked delivered
    assert next(iter(_per_message(stage))).startswith("UPDATE callbacks SET state='delivered'")
    assert stage["statements_per_message"] < 3.5
