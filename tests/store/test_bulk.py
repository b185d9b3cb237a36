"""Statements run at driver speed (store/bulk.py): the same rows as SQLAlchemy would write, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import Boolean, bindparam, cast, create_engine, literal, select, update
from sqlalchemy.engine import Connection

from martinet.domain.status import State
from martinet.store.bulk import ListStatement, ManyRows, insert_rows
from martinet.store.database import Database
from martinet.store.schema import messages, status_history
from tests.store.support import queue_send

NOW = 1_700_000_000_000


async def test_many_rows_update_each_row_and_history_goes_in_as_tuples(db: Database) -> None:
    await queue_send(db, lambda: NOW, ["33612345678", "33612345679", "33612345680"])
    async with db.reader.connect() as conn:
        ids = list((await conn.execute(select(messages.c.id).order_by(messages.c.id))).scalars())
    statement = ManyRows(
        update(messages)
        .where(messages.c.id == bindparam("mid"))
        .values(state=bindparam("state_"), code=bindparam("code_"), error=bindparam("error_")),
        ("mid", "state_", "code_", "error_"),
    )

    def work(conn: Connection) -> None:
        statement.execute(conn, [(ids[0], str(State.SENT), 2, None), (ids[2], str(State.FAILED), 3599, "gone")])
        statement.execute(conn, [])  # nothing to do: no statement sent
        insert_rows(
            conn,
            status_history,
            ("message_id", "at", "state", "code", "part_seq", "detail"),
            [(ids[1], NOW, "sent", 2, None, "x")],
            copy=False,
        )

    await db.run_write(work)
    async with db.reader.connect() as conn:
        rows = (
            await conn.execute(select(messages.c.state, messages.c.code, messages.c.error).order_by(messages.c.id))
        ).all()
        history = (
            (await conn.execute(select(status_history.c.detail).where(status_history.c.message_id == ids[1])))
            .scalars()
            .all()
        )
    assert [tuple(r) for r in rows] == [("sent", 2, None), ("queued", rows[1].code, None), ("failed", 3599, "gone")]
    assert "x" in history


async def test_a_value_not_given_by_name_is_refused_rather_than_frozen(db: Database) -> None:
    statement = ManyRows(update(messages).where(messages.c.id == bindparam("mid")).values(updated_at=NOW), ("mid",))
    with pytest.raises(ValueError, match="updated_at"):
        await db.run_write(lambda conn: statement.execute(conn, [(1,)]))


async def test_a_list_statement_reads_the_rows_sqlalchemy_would(db: Database) -> None:
    """Several IN lists (given, and written in the statement), of varying lengths, an empty one, a literal: the
    rows are those SQLAlchemy's own expansion gives, on both databases."""
    await queue_send(db, lambda: NOW, ["33612345678", "33612345679", "33612345680"])
    async with db.reader.connect() as conn:
        ids = list((await conn.execute(select(messages.c.id).order_by(messages.c.id))).scalars())
    query = (
        select(messages.c.id, messages.c.msisdn.label("phone"), literal("x").label("mark"))
        .where(
            messages.c.id.in_(bindparam("ids", expanding=True)),
            messages.c.msisdn.in_(bindparam("phones", expanding=True)),
            messages.c.state.in_([str(State.QUEUED), str(State.SENT)]),
            messages.c.id > bindparam("after"),
        )
        .order_by(messages.c.id)
    )
    statement = ListStatement(query)
    cases = [
        {"ids": ids, "phones": ["33612345678", "33612345680"], "after": 0},
        {"ids": ids[1:], "phones": ["33612345678", "33612345679", "33612345680"], "after": ids[1]},
        {"ids": [ids[0]], "phones": ["33612345678"], "after": 0},
        {"ids": [], "phones": ["33612345678"], "after": 0},
    ]

    def work(conn: Connection) -> list[tuple[list[tuple[object, ...]], list[tuple[object, ...]]]]:
        return [
            (
                [(r.id, r.phone, r.mark) for r in statement.execute(conn, params)],
                [(r.id, r.phone, r.mark) for r in conn.execute(query, params)],
            )
            for params in cases
        ]

    results = await db.run_write(work)
    for ours, theirs in results:
        assert ours == theirs
    assert [len(ours) for ours, _ in results] == [2, 1, 1, 0]


def test_a_list_statement_refuses_a_value_needing_type_processing() -> None:
    """SQLite only: other databases take SQLAlchemy's usual path. Refused when first compiled, before any SQL."""
    statement = ListStatement(
        select(messages.c.id).where(messages.c.id.in_(bindparam("ids", expanding=True)), bindparam("on", type_=Boolean))
    )
    with create_engine("sqlite://").connect() as conn, pytest.raises(ValueError, match="type processing"):
        statement.execute(conn, {"ids": [1], "on": True})


def test_a_list_statement_refuses_a_column_needing_type_processing() -> None:
    statement = ListStatement(
        select(cast(messages.c.id, Boolean).label("flag")).where(messages.c.id.in_(bindparam("ids", expanding=True)))
    )
    with (
        create_engine("sqlite://").connect() as conn,
        pytest.raises(ValueError, match="columns needing type processing"),
    ):
        statement.execute(conn, {"ids": [1]})
