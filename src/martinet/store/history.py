"""Appending to the status history: every status change of a message is a row, and the reportable ones queue
their callbacks in the same transaction (`martinet.store.outbox`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from martinet.store.outbox import REPORTED_STATES, enqueue_status, latest_history_id
from martinet.store.schema import status_history

#: (message id, at, state, code, part seq, detail)
HistoryRow = tuple[int, int, str, int, int | None, str | None]


def append_history(conn: Connection, rows: Sequence[HistoryRow]) -> None:
    """Append status changes, and queue the callbacks that report them."""
    before = latest_history_id(conn)
    conn.execute(
        insert(status_history),
        [
            {"message_id": mid, "at": at, "state": state, "code": code, "part_seq": seq, "detail": detail}
            for mid, at, state, code, seq, detail in rows
        ],
    )
    reported = {mid for mid, _at, state, *_ in rows if state in REPORTED_STATES}
    if reported:
        enqueue_status(conn, reported, before, max(at for _mid, at, *_ in rows))
