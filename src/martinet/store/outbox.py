"""Writing status callbacks into the outbox, in the transaction of the status change they report.

Every history row of a reportable state whose send has a `notification_url` (or whose account has a default
`callback_url`) gets one `callbacks` row, so a change is committed together with its report or not at all: a
crash between the two cannot lose a callback. The notifier (`martinet.engine.notifier`) delivers them.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import BigInteger, Select, String, and_, bindparam, cast, func, literal, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from martinet.domain.status import FINAL_STATES, State
from martinet.store.bulk import ListStatement
from martinet.store.schema import accounts, callbacks, messages, sends, status_history

#: States whose changes are reported to the client (acceptance, scheduling and claiming are not).
REPORTED_STATES = (
    State.SENT,
    State.DELIVERED,
    State.UNDELIVERED,
    State.FAILED,
    State.EXPIRED,
    State.CANCELLED,
)

#: Those reported to an account whose `callback_statuses` is "final".
FINAL_REPORTED_STATES = tuple(s for s in REPORTED_STATES if s in FINAL_STATES)


#: The newest history row: one statement object for every call, so SQLAlchemy's cache key is computed once.
_LATEST_HISTORY_ID = select(func.max(status_history.c.id))


def latest_history_id(conn: Connection) -> int:
    """The newest history row visible now; call before inserting the rows `enqueue_status` will look at."""
    return int(conn.scalar(_LATEST_HISTORY_ID) or 0)


def _status_callbacks() -> Select[tuple[object, ...]]:
    """The outbox rows reporting the history rows newer than `:after` of the messages `:ids`, queued at `:now`.

    Built once with bound parameters: the engine queues callbacks in every receipt and submission batch, and
    building the statement and its cache key per batch cost more than running it.
    """
    url = func.coalesce(sends.c.notification_url, accounts.c.callback_url)
    now = bindparam("now", type_=BigInteger)
    return (
        select(
            messages.c.account_id,
            literal("status"),
            status_history.c.id,
            literal("m:") + cast(messages.c.id, String),
            url,
            literal("pending"),
            now,
            now,
        )
        .select_from(
            status_history.join(messages, messages.c.id == status_history.c.message_id)
            .join(sends, sends.c.id == messages.c.send_id)
            .join(accounts, accounts.c.id == messages.c.account_id)
        )
        .where(
            and_(
                status_history.c.id > bindparam("after"),
                status_history.c.message_id.in_(bindparam("ids", expanding=True)),
                status_history.c.state.in_([s.value for s in REPORTED_STATES]),
                or_(
                    accounts.c.callback_statuses != "final",
                    status_history.c.state.in_([s.value for s in FINAL_REPORTED_STATES]),
                ),
                url.is_not(None),
            )
        )
        .order_by(status_history.c.id)
    )


_STATUS_CALLBACKS = _status_callbacks()
_OUTBOX_COLUMNS = ["account_id", "kind", "history_id", "order_key", "url", "state", "created_at", "next_at"]
# A row another transaction already queued (it committed between our two statements) is left alone.
_ENQUEUE: dict[str, ListStatement] = {
    "postgresql": ListStatement(
        postgresql.insert(callbacks).from_select(_OUTBOX_COLUMNS, _STATUS_CALLBACKS).on_conflict_do_nothing()
    ),
    "sqlite": ListStatement(
        sqlite.insert(callbacks).from_select(_OUTBOX_COLUMNS, _STATUS_CALLBACKS).on_conflict_do_nothing()
    ),
}


def enqueue_status(conn: Connection, message_ids: Collection[int], after_history_id: int, now: int) -> None:
    """Queue a status callback for each reportable history row of `message_ids` newer than `after_history_id`."""
    if not message_ids:
        return
    _ENQUEUE[conn.dialect.name].execute(conn, {"after": after_history_id, "ids": list(message_ids), "now": now})
