"""SQLite's memory statistics turned off in a process of its own (the setting is the whole process's, and the
test process has connections open): off only while nothing of SQLite's is open, and SQLite working after."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from martinet.store import sqlite_library

pytestmark = pytest.mark.skipif(
    sqlite_library.loaded_library() is None, reason="sqlite3 carries SQLite inside its module here: nothing to set"
)


def _run(script: str, tmp_path: Path) -> dict[str, Any]:
    program = textwrap.dedent(
        """
        import json, sqlite3, sys
        from martinet.store import sqlite_library as library
        database = sys.argv[1]
        facts = {}
        """
    ) + textwrap.dedent(script)
    done = subprocess.run(
        [sys.executable, "-c", program, str(tmp_path / "test.db")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(done.stdout))


def test_a_fresh_process_turns_them_off_and_sqlite_works_as_before(tmp_path: Path) -> None:
    facts = _run(
        """
        facts["counting_before"] = library._counting(library.loaded_library())
        facts["quieted"] = library.quiet_memory_statistics()
        conn = sqlite3.connect(database)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, text TEXT)")
        conn.executemany("INSERT INTO t (text) VALUES (?)", [(f"message {i}",) for i in range(5000)])
        conn.commit()
        facts["used_with_a_connection"] = library.memory_used()
        facts["rows"] = conn.execute("SELECT count(*), max(text) FROM t").fetchone()
        facts["again"] = library.quiet_memory_statistics()  # already off: nothing is shut down under the connection
        facts["rows_after"] = conn.execute("SELECT count(*) FROM t").fetchone()[0]
        print(json.dumps(facts))
        """,
        tmp_path,
    )
    assert facts["counting_before"] is True
    assert facts["quieted"] is True
    assert facts["used_with_a_connection"] == 0  # counted no more
    assert facts["rows"] == [5000, "message 999"]
    assert facts["again"] is True
    assert facts["rows_after"] == 5000


def test_nothing_changes_while_a_connection_is_open(tmp_path: Path) -> None:
    facts = _run(
        """
        conn = sqlite3.connect(database)
        conn.execute("CREATE TABLE t (x)")
        facts["used_before"] = library.memory_used()
        facts["quieted"] = library.quiet_memory_statistics()
        facts["counting_after"] = library._counting(library.loaded_library())
        conn.execute("INSERT INTO t VALUES (1)")
        conn.commit()
        facts["rows"] = conn.execute("SELECT count(*) FROM t").fetchone()[0]
        conn.close()
        facts["used_once_closed"] = library.memory_used()
        facts["quieted_once_closed"] = library.quiet_memory_statistics()
        print(json.dumps(facts))
        """,
        tmp_path,
    )
    assert facts["used_before"] > 0
    assert facts["quieted"] is False
    assert facts["counting_after"] is True
    assert facts["rows"] == 1
    assert facts["used_once_closed"] == 0
    assert facts["quieted_once_closed"] is True


def test_the_library_found_is_the_one_sqlite3_uses() -> None:
    """An allocation made by `sqlite3` itself (a connection) shows in the found library's count."""
    library = sqlite_library.loaded_library()
    assert library is not None
    program = textwrap.dedent(
        """
        import sqlite3
        from martinet.store import sqlite_library as library
        before = library.memory_used()
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE TABLE t (x)")
        print(before, library.memory_used())
        """
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True)
    before, during = (int(word) for word in done.stdout.split())
    assert before == 0
    assert during > 0
