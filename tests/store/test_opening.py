"""Opening a SQLite database that another connection is writing."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from sqlalchemy.engine import Connection

from martinet.store.database import open_database


async def test_a_new_database_opened_while_another_connection_writes_it_waits_for_that_write(tmp_path: Path) -> None:
    """Two commands creating the same new database at once: the second's switch to WAL mode is refused at once while
    the first writes (SQLite's busy handler is not asked), so it asks again until the write is committed."""
    path = tmp_path / "new.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)  # still in its first journal mode
    other.execute("CREATE TABLE t (x INTEGER)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")
    committed = threading.Timer(0.3, other.execute, ("COMMIT",))
    committed.start()
    db = open_database(f"sqlite:///{path}")
    try:
        count = await db.run_read(lambda conn: conn.exec_driver_sql("SELECT count(*) FROM t").scalar())
        mode = await db.run_read(lambda conn: conn.exec_driver_sql("PRAGMA journal_mode").scalar())
    finally:
        committed.join()
        await db.dispose()
        other.close()
    assert count == 1  # read once the other's write was committed, not refused before it
    assert mode == "wal"


async def test_a_null_parameter_is_bound_through_the_adapter_the_store_registers(tmp_path: Path) -> None:
    """`sqlite3` adapts every parameter that is not an int, a float or a str, None included; the store gives it an
    adapter for None (docs/benchmarks-history.md: 163 ns a NULL without it, 66 ns with it), which must still bind NULL."""
    db = open_database(f"sqlite:///{tmp_path / 'nulls.db'}")
    try:
        adapter = sqlite3.adapters.get((type(None), sqlite3.PrepareProtocol))
        assert adapter is not None and adapter(None) is None

        def write(conn: Connection) -> None:
            conn.exec_driver_sql("CREATE TABLE t (a, b TEXT, c INTEGER)")
            conn.exec_driver_sql("INSERT INTO t VALUES (?, ?, ?)", [(None, None, 1), (2, None, None)])

        await db.run_write(write)
        rows = await db.run_read(
            lambda conn: conn.exec_driver_sql("SELECT a IS NULL, b IS NULL, c IS NULL, typeof(a) FROM t").all()
        )
    finally:
        await db.dispose()
    assert [tuple(row) for row in rows] == [(1, 1, 0, "null"), (0, 1, 1, "integer")]
