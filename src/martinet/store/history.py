"""Appending to the status history: every status change of a message is a row, and the reportable ones queue
their callbacks in the same transaction (`martinet.store.outbox`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from martinet.store.bulk import insert_rows
from martinet.store.outbox import REPORTED_STATES, enqueue_status, latest_history_id
from martinet.store.schema import status_history

#: (message id, at, state, code, part seq, detail)
HistoryRow = tuple[int, int, str, int, int | None, str | None]
_COLUMNS = ("message_id", "at", "state", "code", "part_seq", "detail")


def append_history(conn: Connection, rows: Sequence[HistoryRow]) -> None:
    """Append status changes, and queue the callbacks that report them."""
    before = latest_history_id(conn)
    # Tuples straight to the driver: every receipt and submission batch of the engine lands here.
    insert_rows(
        conn,
        status_history,
        _COLUMNS,
        [(mid, at, str(state), code, seq, detail) for mid, at, state, code, seq, detail in rows],
        copy=False,
    )
    reported = {mid for mid, _at, state, *_ in rows if state in REPORTED_STATES}
    if reported:
        enqueue_status(conn, reported, before, max(at for _mid, at, *_ in rows))
