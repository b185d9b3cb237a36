"""Opening a database: URLs, drivers, and the SQLite settings that make it safe under several processes.

Both databases are used through SQLAlchemy's asyncio layer (aiosqlite, asyncpg) so repositories are written
once. SQLite gets two engines: a writer whose transactions start with `BEGIN IMMEDIATE` (taking the write lock
up front, so two processes never deadlock upgrading a read lock) and a reader with plain deferred transactions.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import enum
import fcntl
import functools
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from martinet import metrics
from martinet.domain.valueclass import valueclass

T = TypeVar("T")

log = logging.getLogger(__name__)

#: The write turn a task holds (`Database.write_turn`): its database, and the task itself, so that a task started
#: inside the block (it inherits the context) is not taken for the holder and waits for its own turn.
_HELD: contextvars.ContextVar[tuple[object, asyncio.Task[Any] | None] | None] = contextvars.ContextVar(
    "martinet_write_turn", default=None
)


class Turn(enum.IntEnum):
    """Which writers of one process go first when several wait for the database (SQLite), best first."""

    URGENT = 0  # claiming one-time passwords, recording submissions
    PROMPT = 1  # applying receipts: a carrier sends no more while its window of unacknowledged ones is full
    NORMAL = 2


#: What a waiter of `WriteTurns.acquire` is given when the turn is its own (rather than its work's result).
YOUR_TURN: Any = object()


@dataclass(eq=False, slots=True)
class _Waiter:
    """One writer waiting for its process's turn; `work` if the turn's holder may run it in its own transaction."""

    future: asyncio.Future[Any]
    work: Callable[[Connection], Any] | None = None
    taken: bool = False  # its work is being run by the holder: its future gets the result once committed


class WriteTurns:
    """The write turns of one process: a lock whose waiters are served by `Turn`, each kind in order.

    A small write waiting here may instead be carried by the writer holding the turn (`take_riders`): run in the
    holder's transaction, committed with it. On SQLite every transaction is a commit (an fsync) made while the
    node's other processes wait, so the writes that queue up during one are better made in the next together.
    """

    def __init__(self) -> None:
        self._held = False
        self._waiting: tuple[collections.deque[_Waiter], ...] = tuple(collections.deque() for _ in Turn)

    @contextlib.asynccontextmanager
    async def turn(self, kind: Turn = Turn.NORMAL) -> AsyncIterator[None]:
        await self.acquire(kind)
        try:
            yield
        finally:
            self.release()

    async def acquire(self, kind: Turn, work: Callable[[Connection], Any] | None = None) -> Any:
        """Wait for the turn, and return `YOUR_TURN` once it is the caller's (it then calls `release`); or, if a
        holder took `work` meanwhile, return its result once committed (or raise its error)."""
        if not self._held:
            self._held = True
            return YOUR_TURN
        waiter = _Waiter(asyncio.get_running_loop().create_future(), work)
        self._waiting[kind].append(waiter)
        try:
            return await asyncio.shield(waiter.future)  # shielded: a holder may still settle it after a cancel
        except asyncio.CancelledError:
            self._forget(kind, waiter)
            raise

    def _forget(self, kind: Turn, waiter: _Waiter) -> None:
        """A cancelled waiter leaves the queue, passes on the turn handed to it as it was cancelled, or, if a
        holder runs its work, lets it commit or fail without it."""
        future = waiter.future
        if not future.done():
            if waiter.taken:
                future.add_done_callback(_retrieve)
                return
            with contextlib.suppress(ValueError):
                self._waiting[kind].remove(waiter)
            future.cancel()
        elif not future.cancelled() and future.exception() is None and future.result() is YOUR_TURN:
            self.release()

    def take_riders(self) -> list[tuple[asyncio.Future[Any], Callable[[Connection], Any]]]:
        """The waiting works, most pressing first, taken out of the queue for the holder to run; it sets each
        one's future once its transaction has ended."""
        riders: list[tuple[asyncio.Future[Any], Callable[[Connection], Any]]] = []
        for queue in self._waiting:
            if not any(waiter.work is not None for waiter in queue):
                continue
            kept = [waiter for waiter in queue if waiter.work is None]
            for waiter in queue:
                if waiter.work is not None and not waiter.future.done():
                    waiter.taken = True
                    riders.append((waiter.future, waiter.work))
            queue.clear()
            queue.extend(kept)
        return riders

    def release(self) -> None:
        for queue in self._waiting:
            while queue:
                waiter = queue.popleft()
                if not waiter.future.done():
                    waiter.future.set_result(YOUR_TURN)  # the turn passes on; the lock stays held
                    return
        self._held = False


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark an abandoned future's exception as seen: its caller was cancelled, and the error is the holder's too."""
    if not future.cancelled():
        future.exception()


#: Rows up to which a hot path's write counts as small (`Database.run_write`): a few milliseconds of work.
SMALL_WRITE = 1000

#: How long SQLite waits for its own lock, held by a program that does not take Martinet's (ms).
BUSY_TIMEOUT_MS = 30_000


#: SQLite's primary result codes of a database that cannot take writes for now: busy or locked by another
#: program, read-only, out of memory, an I/O error, full, not openable, the lock protocol.
_PASSING_SQLITE = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
    }
)
#: PostgreSQL's SQLSTATE classes of a server that cannot take writes for now: the connection (08), its resources,
#: a full disk among them (53), an administrator's shutdown (57), the system, an I/O error (58).
_PASSING_CLASSES = frozenset({"08", "53", "57", "58"})
#: And single states: a read-only transaction (a standby after a failover, or a full managed database), a
#: serialization failure, a deadlock.
_PASSING_STATES = frozenset({"25006", "40001", "40P01"})


def cannot_write_now(exc: BaseException) -> bool:
    """Whether a write failed for the database's condition (full, read-only, unreachable, locked by another
    program), which passes, rather than for what was written, which would fail the same way again.

    For a caller holding facts that must be written (what a carrier answered): it keeps trying those, and gives
    up early on the others. SQLite is judged by its result code: its `OperationalError` also covers statements
    that can never run (`no such table`)."""
    if isinstance(exc, OSError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    code = getattr(exc.orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _PASSING_SQLITE  # the primary code of an extended one (SQLITE_IOERR_FSYNC…)
    state = getattr(exc.orig, "sqlstate", None)
    if isinstance(state, str):
        return state[:2] in _PASSING_CLASSES or state in _PASSING_STATES
    return isinstance(exc, OperationalError)  # a driver that says neither


class _Busy:
    """`_run_unless_busy`'s answer when SQLite's lock is held by another program: nothing was run."""


_BUSY = _Busy()


def _run(engine: Engine, work: Callable[[Connection], T]) -> T:
    with engine.begin() as conn:
        return work(conn)


def _run_unless_busy(engine: Engine, work: Callable[[Connection], T]) -> T | _Busy:
    """Run `work` in a transaction on this thread if SQLite's write lock can be taken at once, else `_BUSY`.

    Martinet's own writers queue on the advisory lock first, so SQLite's lock is free once that is taken, unless
    a program outside Martinet writes (an `sqlite3` shell, a script): waiting for it here, SQLite's busy handler
    would stop the event loop, and `/readyz` with it, for up to `BUSY_TIMEOUT_MS`.
    """
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert raw is not None
        raw.execute("PRAGMA busy_timeout=0")
        try:
            transaction = conn.begin()
        except OperationalError as exc:
            if getattr(exc.orig, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY:
                raise
            return _BUSY
        finally:
            raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        with transaction:
            return work(conn)


class _Interrupted(Exception):
    """The write carrying a rider was cancelled (the process stops) as it ran: it may or may not have committed."""


@valueclass
class _Failed:
    """A work of a shared transaction that raised: its savepoint was rolled back, the others' were kept."""

    error: Exception


def _each_in_savepoint(works: list[Callable[[Connection], Any]], conn: Connection) -> list[Any]:
    """Run several writers' works in one transaction, each in a savepoint: an error undoes that work alone.

    SQLite ends the whole transaction itself on some errors (a full disk, an I/O error); the works after it would
    then run outside any transaction, so that ends the shared one too: every work fails, nothing is kept.
    """
    outcomes: list[Any] = []
    for work in works:
        try:
            with conn.begin_nested():
                outcomes.append(work(conn))
        except Exception as exc:
            if not _sqlite_in_transaction(conn):
                raise
            outcomes.append(_Failed(exc))
    return outcomes


def _sqlite_in_transaction(conn: Connection) -> bool:
    raw = conn.connection.driver_connection
    return bool(getattr(raw, "in_transaction", False))


def _settle(future: asyncio.Future[Any], outcome: Any) -> None:
    """Give a rider its work's result or error, unless it stopped waiting (`WriteTurns._forget` saw to it)."""
    if future.done():
        return
    if isinstance(outcome, _Failed):
        future.set_exception(outcome.error)
    else:
        future.set_result(outcome)


async def _in_thread(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` in a worker thread. A thread cannot be stopped: when the caller is cancelled it still
    waits for the thread to end (keeping its write turn, so that the next writer of this process neither takes
    the connection the thread uses nor the lock it takes), then is cancelled."""
    running = asyncio.ensure_future(asyncio.to_thread(function, *args))
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        while not running.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(running)
        raise


#: The exit status of a process whose sync of the SQLite log failed (sysexits' EX_IOERR).
EXIT_SYNC_FAILED = 74


def sync_log(path: Path, datasync: Callable[[int], None] = os.fdatasync) -> None:
    """Bring the SQLite log (`-wal`) at `path` to the disk, or end the process if the disk refuses.

    Called once the write lock is released, before the writers of the transaction just committed learn it
    succeeded (`Database.log_to_sync`). If the sync fails they have already been given their results, which only
    leave at the event loop's next step, and the kernel may have dropped the pages it could not write, so a second
    sync could succeed without them: ending the process here, before the loop runs again, sends none of those
    answers, and the supervisor starts it again (PostgreSQL stops on a failed fsync for the same reason). No
    log means no database in WAL mode, whose commits sync themselves (`_configure_sqlite`).
    """
    try:
        # Opened for each sync rather than kept: SQLite deletes the log when a database's last connection closes
        # and starts a new file after, which a kept descriptor would go on syncing in its place.
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    started = time.perf_counter()
    try:
        datasync(fd)
    except OSError as exc:
        log.critical("syncing the SQLite log %s failed (%s): stopping before anything is acknowledged", path, exc)
        logging.shutdown()
        os._exit(EXIT_SYNC_FAILED)
    finally:
        os.close(fd)
    metrics.sqlite_log_synced(time.perf_counter() - started)


async def _take_write_lock(fd: int) -> None:
    """The advisory write lock of the database: at once when it is free, else from a worker thread (the kernel
    queues the waiters of every process and wakes the next one as soon as it is released)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    try:
        await _in_thread(fcntl.flock, fd, fcntl.LOCK_EX)
    except asyncio.CancelledError:
        fcntl.flock(fd, fcntl.LOCK_UN)  # the thread took it all the same
        raise


@dataclass
class Database:
    """The engines of one database: `write()` for transactions that write, `reader` for queries.

    `log_to_sync`: on SQLite with `sqlite_synchronous = "full"`, the log (`-wal`) that `sync_writer`'s commits
    leave unsynced and that is synced each time this process releases the write lock, before the writers of that
    transaction go on (`_write_lock`). The other processes of the node write while it syncs, instead of waiting for
    a sync that is not theirs.
    """

    url: str
    writer: AsyncEngine
    reader: AsyncEngine
    write_lock_path: Path | None = None
    sync_writer: Engine | None = None
    sync_reader: Engine | None = None
    log_to_sync: Path | None = None
    _local: WriteTurns = field(default_factory=lambda: WriteTurns())
    _lock_fd: int | None = None
    _log_unsynced: bool = False  # `sync_writer` wrote while the lock was held: the log is synced at its release

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction, committed on exit.

        On SQLite only one writer can hold the database; when several processes compete, SQLite's own busy
        handler makes the losers sleep in growing steps (up to 100 ms) and retry, which wastes most of the
        time under load. Writers therefore queue on an advisory file lock first: the kernel wakes the next
        one the moment the lock is released, and each process keeps batching while it waits.
        """
        async with self._turn_and_lock(Turn.NORMAL), self.writer.begin() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def write_turn(self, turn: Turn = Turn.NORMAL) -> AsyncIterator[None]:
        """This process's turn at the database and SQLite's write lock, held through the block: the writes the
        task makes in it (`run_write`, `write`) take neither again.

        For a group commit: it enters the block before taking its batch, so that what queued while the lock was
        waited for (milliseconds, when the node's other processes write) goes into the transaction that follows
        instead of waiting for the next one. Nothing to hold on PostgreSQL, whose writers do not queue.
        """
        if self.sync_writer is None or self._holds_turn():
            yield
            return
        async with self._turn_and_lock(turn):
            token = _HELD.set((self, asyncio.current_task()))
            try:
                yield
            finally:
                _HELD.reset(token)

    def _holds_turn(self) -> bool:
        held = _HELD.get()
        return held is not None and held[0] is self and held[1] is asyncio.current_task()

    @contextlib.asynccontextmanager
    async def _turn_and_lock(self, turn: Turn) -> AsyncIterator[None]:
        """The turn and the lock a write needs, unless its task holds them already (`write_turn`)."""
        if self._holds_turn():
            yield
            return
        async with self._local.turn(turn), self._write_lock():
            yield

    async def run_write(self, work: Callable[[Connection], T], *, turn: Turn = Turn.NORMAL, small: bool = False) -> T:
        """Run `work` in one write transaction, as plain synchronous SQLAlchemy code.

        Hot paths (acceptance, dispatch, receipts) write many rows per transaction. Through the asyncio layer
        every statement is a round trip between the event loop and the driver's thread; on SQLite the whole
        transaction instead runs on a synchronous connection (at most one hop per batch), and on PostgreSQL it
        runs through `run_sync` on the asyncpg connection. Same code, both databases.

        On SQLite the writers of one process take turns, the more pressing kinds (`Turn`) before those
        already waiting. A `small` work (at most `SMALL_WRITE` rows, a few milliseconds) runs on the event loop's
        own thread once the write lock is taken; any other in a worker thread, so that a campaign's acceptance
        or a contact import does not stop the loop for seconds. Every process of a SQLite node waits for that
        lock, and a worker thread held it about a quarter longer for the same work under the Kannel comparison's
        load (docs/benchmarks-history.md), likely while being woken and winning the GIL back from the loop after each
        call into SQLite.

        On SQLite a small work that finds another writer of its process holding the turn waits as a rider
        (`WriteTurns`): the next holder runs it in its own transaction, after its own work, each in a savepoint of
        its own (an error undoes that work only), and commits them together. Under load the engine's receipts,
        recorded submissions and claims then share one commit instead of taking one each.
        """
        if self.sync_writer is None:
            async with self.writer.begin() as conn:
                return await conn.run_sync(work)
        if self._holds_turn():
            return await self._run_with_riders(work, small)
        done = await self._local.acquire(turn, work if small else None)  # a large work never rides
        if done is not YOUR_TURN:
            return cast(T, done)
        try:
            async with self._write_lock():
                return await self._run_with_riders(work, small)
        finally:
            self._local.release()

    async def _run_with_riders(self, work: Callable[[Connection], T], small: bool) -> T:
        """Run `work` with the riders waiting for this process's turn, the turn and the lock held."""
        assert self.sync_writer is not None
        riders = self._local.take_riders()
        if not riders:
            return await self._run_held(work, small)
        try:
            outcomes = await self._run_held(
                functools.partial(_each_in_savepoint, [work, *(rider for _, rider in riders)]), small
            )
        except BaseException as exc:  # the riders learn what their carrier learnt
            error = exc if isinstance(exc, Exception) else _Interrupted()
            for future, _ in riders:
                _settle(future, _Failed(error))
            raise
        for (future, _), outcome in zip(riders, outcomes[1:], strict=True):
            _settle(future, outcome)
        own = outcomes[0]
        if isinstance(own, _Failed):
            raise own.error
        return cast(T, own)

    async def _run_held(self, work: Callable[[Connection], T], small: bool) -> T:
        assert self.sync_writer is not None
        self._log_unsynced = True  # whatever it commits, its writers go on only after the sync
        if small:
            done = _run_unless_busy(self.sync_writer, work)
            if not isinstance(done, _Busy):
                return done
            # else another program writes: wait for it beside the loop, not on it
        return await _in_thread(_run, self.sync_writer, work)

    async def run_read(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in one read transaction, as plain synchronous SQLAlchemy code, outside the write lock.

        For what a hot path reads just after its write commits (the details of the callbacks a claim leased, say):
        read inside the write transaction, it would hold every other writer of the node back meanwhile. On SQLite
        it runs on a synchronous connection in a worker thread (a read takes no lock a writer waits for), on
        PostgreSQL through `run_sync` on a pooled connection. It sees everything committed before it starts.
        """
        if self.sync_reader is None:
            async with self.reader.connect() as conn:
                return await conn.run_sync(work)
        return await _in_thread(_run, self.sync_reader, work)

    @contextlib.asynccontextmanager
    async def _write_lock(self) -> AsyncIterator[None]:
        """The advisory write lock, held by this process's current writer (its turn taken); the time it was
        waited for and held is counted (`martinet_sqlite_write_lock_seconds`).

        Once it is released, the log is synced (`log_to_sync`) before the block's writer goes on, if `sync_writer`
        wrote in it (`Database.write`'s connection syncs its own commit). Nothing between
        the commit and the sync lets the event loop run, so the results the writer handed out inside the block
        (to riders, to a group commit's waiters) reach no one before their transaction is on disk.
        """
        fd = self._acquire_fd()
        asked = time.perf_counter()
        if fd is not None:
            await _take_write_lock(fd)
        taken = time.perf_counter()
        try:
            yield
        finally:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
                metrics.sqlite_write_lock(taken - asked, time.perf_counter() - taken)
            if self.log_to_sync is not None and self._log_unsynced:
                self._log_unsynced = False
                sync_log(self.log_to_sync)

    def _acquire_fd(self) -> int | None:
        if self.write_lock_path is None:
            return None
        if self._lock_fd is None:
            self._lock_fd = os.open(self.write_lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._lock_fd

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.sync_writer is not None:
            self.sync_writer.dispose()
        if self.sync_reader is not None:
            self.sync_reader.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def is_postgresql(url: str) -> bool:
    """Whether `url` names a PostgreSQL database (else SQLite: the configuration accepts no third kind)."""
    return url.startswith(("postgresql://", "postgres://"))


def on_postgresql(conn: Connection) -> bool:
    """Whether `conn` talks to PostgreSQL: the one test for the few statements written per database."""
    return conn.dialect.name == "postgresql"


def dialect_insert(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT in `conn`'s dialect, for the upserts both databases spell alike (`on_conflict_do_nothing`,
    `on_conflict_do_update`), which SQLAlchemy offers only per dialect."""
    return postgresql.insert(table) if on_postgresql(conn) else sqlite.insert(table)


def async_url(url: str) -> str:
    """`sqlite:///x.db` / `postgresql://…` → the same URL naming the asyncio driver."""
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url.removeprefix(prefix)
    return url


def sqlite_path(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def open_database(url: str, *, sqlite_synchronous: str = "full", pool_size: int = 5) -> Database:
    """Engines with `hide_parameters`: a statement's values (message texts, secrets) never reach error messages."""
    path = sqlite_path(url)
    if path is None:
        engine = create_async_engine(async_url(url), pool_size=pool_size, max_overflow=pool_size, hide_parameters=True)
        return Database(url, engine, engine)
    _private_file(path)
    _bind_null_directly()
    # With "full", the hot path's commits (`sync_writer`, `run_write`) are synced after the write lock is released
    # rather than inside it (`Database.log_to_sync`); the other connections sync their own commits.
    sync_after_lock = sqlite_synchronous == "full"
    writer = _sqlite_engine(url, immediate=True, synchronous=sqlite_synchronous, pool_size=1)
    reader = _sqlite_engine(url, immediate=False, synchronous=sqlite_synchronous, pool_size=pool_size)
    sync_writer = _sync_sqlite_engine(
        url, immediate=True, synchronous=sqlite_synchronous, pool_size=1, sync_after_lock=sync_after_lock
    )
    sync_reader = _sync_sqlite_engine(url, immediate=False, synchronous=sqlite_synchronous, pool_size=2)
    return Database(
        url,
        writer,
        reader,
        write_lock_path=path.with_name(path.name + ".write-lock"),
        sync_writer=sync_writer,
        sync_reader=sync_reader,
        log_to_sync=path.with_name(path.name + "-wal") if sync_after_lock else None,
    )


def _pass_null(value: None) -> None:
    return value


def _bind_null_directly() -> None:
    """Give `sqlite3` an adapter for None, so that a NULL parameter is bound without the search that fails.

    Python 3.11's `sqlite3` binds `int`, `float` and `str` as they are and adapts every other value, None included:
    it looks for an adapter in its registry, then asks its protocol type for `__adapt__`, which raises an
    `AttributeError` whose message is formatted and thrown away, then asks the value for `__conform__`. A NULL
    parameter cost 163 ns that way against 66 ns with this adapter found at once (a 10-column insert of NULLs,
    docs/benchmarks-history.md); an accepted send of one recipient binds eleven of them (its unset options), a recorded
    submission two. The registry belongs to the `sqlite3` module, shared by the process: registering the same
    function again changes nothing, and the adapter gives back None, which `sqlite3` binds as NULL as before.
    """
    sqlite3.register_adapter(type(None), _pass_null)


def _private_file(path: Path) -> None:
    """Create the database file (and its folder) readable by its owner only, before SQLite creates it with the
    umask's permissions (usually world-readable): it holds webhook secrets, texts and numbers. SQLite gives its
    -wal and -shm files the database file's permissions."""
    path = path.with_name(path.name.partition("?")[0])  # sqlite:///x.db?mode=… names x.db
    if path.name in ("", ":memory:") or path.exists():
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))


def _sqlite_engine(url: str, *, immediate: bool, synchronous: str, pool_size: int) -> AsyncEngine:
    engine = create_async_engine(
        async_url(url), pool_size=pool_size, max_overflow=0, connect_args={"timeout": 30}, hide_parameters=True
    )
    _configure_sqlite(engine.sync_engine, immediate=immediate, synchronous=synchronous)
    return engine


def _sync_sqlite_engine(
    url: str, *, immediate: bool, synchronous: str, pool_size: int, sync_after_lock: bool = False
) -> Engine:
    """A synchronous engine, its connections usable from whichever thread runs the work (one at a time)."""
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        connect_args={"timeout": 30, "check_same_thread": False},
        hide_parameters=True,
    )
    _configure_sqlite(engine, immediate=immediate, synchronous=synchronous, sync_after_lock=sync_after_lock)
    return engine


def _ask_for_wal(cursor: Any) -> bool:
    """Ask for WAL mode (a file keeps it once set); whether the database is in it.

    A database still in its first journal mode while another connection writes it (two commands creating the
    same new file at once) refuses the switch at once, without waiting in SQLite's busy handler: SQLite returns
    "database is locked" to one of two connections holding read locks rather than let them wait for each other.
    So the switch is asked again until the writer is done, for as long as a busy writer is waited for.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return str(cursor.fetchone()[0]).lower() == "wal"
        except Exception as exc:  # the driver's OperationalError (sqlite3's, or aiosqlite's adapter's)
            if "database is locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(0.01)


def _configure_sqlite(engine: Engine, *, immediate: bool, synchronous: str, sync_after_lock: bool = False) -> None:
    """`sync_after_lock`: the connections commit without syncing the log (NORMAL), their writer syncing it once the
    write lock is released (`Database.log_to_sync`). Only in WAL mode, where a commit is appended to the log: a
    database SQLite could not put in WAL mode keeps `synchronous` as it is."""
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the driver so that the "begin" hook below decides the mode.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        in_wal = _ask_for_wal(cursor)
        level = "NORMAL" if sync_after_lock and in_wal else synchronous.upper()
        cursor.execute(f"PRAGMA synchronous={level}")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql(begin)
