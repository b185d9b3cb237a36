"""With `sqlite_synchronous = "full"`, a commit reaches the disk after the node's write lock is released and before
its writer goes on: the other processes write while it syncs, and nobody learns of a write before it is durable.

What the process asks of the kernel is read with strace (Debian package `strace`), on a real SQLite file: the
commit's frames written to the log under the lock, the lock released, then the log synced, then the writer's next
step (a line on stdout). A group commit (`GroupCommitter` in its write turn) answers its waiters only after it, and a
write that rode in another's transaction returns only after it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.programs import require

#: Written for each case, each between two marks on stdout: a plain write, a group commit's, and a small write that
#: rides in the transaction of the writer holding its process's turn.
WRITER = """
import asyncio, os, sys
from martinet.batching import GroupCommitter
from martinet.store.database import open_database

def mark(text):
    os.write(1, f"MARK {text}\\n".encode())

async def main(path, synchronous):
    db = open_database(f"sqlite:///{path}", sqlite_synchronous=synchronous)
    await db.run_write(lambda conn: conn.exec_driver_sql("CREATE TABLE t (a INTEGER)"), small=True)
    mark("write")
    await db.run_write(lambda conn: conn.exec_driver_sql("INSERT INTO t VALUES (1)"), small=True)
    mark("written")

    async def commit(items):
        await db.run_write(lambda conn: conn.exec_driver_sql("INSERT INTO t VALUES (2)"), small=True)
        return items

    committer = GroupCommitter(commit, turn=db.write_turn)
    committer.start()
    mark("submit")
    await committer.submit(1)
    mark("answered")
    await committer.stop()

    async def holder():
        async with db.write_turn():
            for _ in range(3):  # steps of the loop in which the rider starts and queues for the turn
                await asyncio.sleep(0)
            await db.run_write(lambda conn: conn.exec_driver_sql("INSERT INTO t VALUES (3)"), small=True)

    async def rider():
        await db.run_write(lambda conn: conn.exec_driver_sql("INSERT INTO t VALUES (4)"), small=True)
        mark("rode")

    mark("ride")
    holding = asyncio.create_task(holder())
    await asyncio.sleep(0)
    await asyncio.gather(holding, rider())
    await db.dispose()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""

_CALL = re.compile(r"^\d+\s+(\w+)\((.*)\)\s+=\s+(-?\d+)")


@dataclass(frozen=True)
class Call:
    name: str
    file: str  # what the call's descriptor names: "log", "lock", "stdout" or ""
    args: str


def _trace(tmp_path: Path, synchronous: str) -> list[Call]:
    """The process's calls on the database's files and stdout, in order, each named by the file it touched."""
    database, trace = tmp_path / "x.db", tmp_path / "trace.txt"
    subprocess.run(
        ["strace", "-f", "-qq", "-o", str(trace), "-e", "trace=openat,close,pwrite64,fdatasync,fsync,flock,write",
         sys.executable, "-c", WRITER, str(database), synchronous],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    files: dict[str, str] = {"1": "stdout"}
    calls: list[Call] = []
    for line in trace.read_text().splitlines():
        found = _CALL.match(line)
        if found is None:
            continue  # a call split between threads' lines ("unfinished", "resumed"): none of the writer's own
        name, args, result = found.groups()
        if name == "openat":
            path = args.split('"')[1]
            kind = "log" if path.endswith("x.db-wal") else "lock" if path.endswith("x.db.write-lock") else ""
            files[result] = kind
            continue
        fd = args.split(",")[0].strip()
        if name == "close":
            files.pop(fd, None)
            continue
        calls.append(Call(name, files.get(fd, ""), args))
    return calls


def _between(calls: list[Call], first: str, last: str) -> list[Call]:
    marks = [i for i, call in enumerate(calls) if call.file == "stdout" and "MARK" in call.args]
    start = next(i for i in marks if f"MARK {first}" in calls[i].args)
    end = next(i for i in marks if f"MARK {last}" in calls[i].args)
    return calls[start + 1 : end]


def _syncs(calls: list[Call]) -> list[int]:
    return [i for i, call in enumerate(calls) if call.name in ("fdatasync", "fsync")]


@pytest.mark.parametrize(("first", "last"), [("write", "written"), ("submit", "answered"), ("ride", "rode")])
def test_the_log_is_synced_once_the_write_lock_is_released_before_the_writer_goes_on(
    tmp_path: Path, first: str, last: str
) -> None:
    require(("strace", "strace"))
    calls = _between(_trace(tmp_path, "full"), first, last)
    frames = [i for i, call in enumerate(calls) if call.name == "pwrite64" and call.file == "log"]
    released = [
        i for i, call in enumerate(calls) if call.name == "flock" and call.file == "lock" and "LOCK_UN" in call.args
    ]
    assert frames, "the commit wrote no frame to the log"
    assert len(released) == 1 and frames[-1] < released[0]  # the frames are written under the lock
    syncs = _syncs(calls)
    assert syncs, "nothing was synced before the writer went on"
    assert all(released[0] < i for i in syncs), "a sync was made while the write lock was held"
    assert [calls[i].file for i in syncs] == ["log"]  # the log, once; its writer's next step comes after


def test_synchronous_normal_syncs_nothing_on_commit(tmp_path: Path) -> None:
    """`normal` keeps its documented meaning: the commit survives the process, not the machine."""
    require(("strace", "strace"))
    calls = _between(_trace(tmp_path, "normal"), "write", "written")
    assert any(call.name == "pwrite64" and call.file == "log" for call in calls)
    assert _syncs(calls) == []


FAILING_SYNC = """
import errno, os, sys
from martinet.store.database import sync_log

def refused(fd):
    raise OSError(errno.EIO, "Input/output error")

sync_log(sys.argv[1], refused)
os.write(1, b"went on\\n")
"""


def test_a_failed_sync_ends_the_process_before_it_goes_on(tmp_path: Path) -> None:
    """A disk that refuses the sync (an I/O error, which no test can cause on a real disk: the call is replaced) stops
    the process at once, with its reason on stderr, before any answer the transaction's writers were given leaves."""
    log = tmp_path / "x.db-wal"
    log.write_bytes(b"frames")
    done = subprocess.run([sys.executable, "-c", FAILING_SYNC, str(log)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 74
    assert "went on" not in done.stdout
    assert "syncing the SQLite log" in done.stderr and "Input/output error" in done.stderr
