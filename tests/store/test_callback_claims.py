"""The notifier's store side: claiming callbacks, with the results of earlier deliveries in the same transaction."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from martinet.store.callbacks import (
    _DETAILS,
    _REPLY_DETAILS,
    DELIVERED,
    FAILED,
    PENDING,
    CallbackResult,
    CallbackStore,
    _ReplyRow,
    _StatusRow,
)
from martinet.store.database import Database
from martinet.store.schema import accounts, callbacks, messages, status_history
from tests.store.support import queue_send

NOW = 1_700_000_000_000
URL = "https://hooks.example.com/dlr?x=1"


def _clock() -> int:
    return NOW


def test_the_rows_read_by_position_name_the_columns_of_their_query() -> None:
    assert _StatusRow._fields == tuple(_DETAILS.selected_columns.keys())
    assert _ReplyRow._fields == tuple(_REPLY_DETAILS.selected_columns.keys())


async def _report(conn: AsyncConnection, message_id: int, account_id: int, state: str, code: int) -> int:
    """A status change of one message and its pending callback; the history row's id."""
    added = await conn.execute(insert(status_history).values(message_id=message_id, at=NOW, state=state, code=code))
    history_id: int = added.inserted_primary_key[0]  # type: ignore[index]
    await conn.execute(
        insert(callbacks).values(
            account_id=account_id,
            kind="status",
            history_id=history_id,
            order_key=f"m:{message_id}",
            url=URL,
            state=PENDING,
            created_at=NOW,
            next_at=NOW,
        )
    )
    return history_id


async def _two_reports_of_one_phone(db: Database) -> list[int]:
    """Two pending status callbacks of one recipient (one order key), the older one first; their history ids."""
    await queue_send(db, _clock, ["33612345678"])
    async with db.write() as conn:
        message = (await conn.execute(select(messages.c.id, messages.c.account_id))).one()
        return [
            await _report(conn, message.id, message.account_id, state, code)
            for state, code in (("sent", 13), ("delivered", 11))
        ]


async def test_results_given_to_a_claim_are_written_before_it_claims(db: Database) -> None:
    h1, h2 = await _two_reports_of_one_phone(db)
    store = CallbackStore(db, _clock)
    first = await store.claim("node:1", lease_ms=60_000, limit=10)
    assert [c.event for c in first] == [f"h{h1}"]  # the later report waits for the earlier one
    assert first[0].params["statut"] == "13" and first[0].params["numero"] == "33612345678"
    assert await store.claim("node:1", lease_ms=60_000, limit=10) == []

    # The first one delivered, recorded with the next claim: that same claim takes the next report.
    second = await store.claim(
        "node:1", lease_ms=60_000, limit=10, outcomes=[CallbackResult(first[0].id, DELIVERED, True, status=200)]
    )
    assert [c.event for c in second] == [f"h{h2}"]
    async with db.reader.connect() as conn:
        rows = (await conn.execute(select(callbacks.c.history_id, callbacks.c.state, callbacks.c.attempts))).all()
    assert sorted(tuple(r) for r in rows) == [(h1, DELIVERED, 1), (h2, PENDING, 0)]


async def test_results_of_callbacks_held_by_another_owner_are_not_written(db: Database) -> None:
    await _two_reports_of_one_phone(db)
    store = CallbackStore(db, _clock)
    first = await store.claim("node:1", lease_ms=60_000, limit=10)
    taken = await store.claim(
        "node:2", lease_ms=60_000, limit=10, outcomes=[CallbackResult(first[0].id, DELIVERED, True, status=200)]
    )
    assert taken == []
    async with db.reader.connect() as conn:
        states = (await conn.execute(select(callbacks.c.state).order_by(callbacks.c.id))).scalars().all()
    assert states == [PENDING, PENDING]


async def test_a_callback_whose_event_is_gone_fails_for_good_and_the_others_are_claimed(db: Database) -> None:
    await queue_send(db, _clock, ["33612345678", "33698765432"])
    async with db.write() as conn:
        gone, kept = [
            await _report(conn, m.id, m.account_id, "sent", 13)
            for m in (await conn.execute(select(messages.c.id, messages.c.account_id).order_by(messages.c.id))).all()
        ]
        await conn.execute(delete(status_history).where(status_history.c.id == gone))  # purged meanwhile
        await conn.execute(update(accounts).values(webhook_secret="s" * 64))  # signed already: only the purge is odd
    store = CallbackStore(db, _clock)

    due = await store.claim("node:1", lease_ms=60_000, limit=10)

    assert [c.event for c in due] == [f"h{kept}"]
    async with db.reader.connect() as conn:
        rows = (
            await conn.execute(
                select(callbacks.c.history_id, callbacks.c.state, callbacks.c.lease_owner, callbacks.c.last_error)
            )
        ).all()
    assert sorted(tuple(r) for r in rows) == [(gone, FAILED, None, "event not found"), (kept, PENDING, "node:1", None)]
