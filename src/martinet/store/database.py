"""Opening a database: URLs, drivers, and the SQLite settings that make it safe under several processes.

Both databases are used through SQLAlchemy's asyncio layer (aiosqlite, asyncpg) so repositories are written
once. SQLite gets two engines: a writer whose transactions start with `BEGIN IMMEDIATE` (taking the write lock
up front, so two processes never deadlock upgrading a read lock) and a reader with plain deferred transactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry


@dataclass(frozen=True)
class Database:
    """The engines of one database. `writer` for transactions that write, `reader` for queries."""

    url: str
    writer: AsyncEngine
    reader: AsyncEngine

    @property
    def is_sqlite(self) -> bool:
        return self.writer.dialect.name == "sqlite"

    async def dispose(self) -> None:
        await self.writer.dispose()
        if self.reader is not self.writer:
            await self.reader.dispose()


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
    path = sqlite_path(url)
    if path is None:
        engine = create_async_engine(async_url(url), pool_size=pool_size, max_overflow=pool_size)
        return Database(url, engine, engine)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = _sqlite_engine(url, immediate=True, synchronous=sqlite_synchronous, pool_size=1)
    reader = _sqlite_engine(url, immediate=False, synchronous=sqlite_synchronous, pool_size=pool_size)
    return Database(url, writer, reader)


def _sqlite_engine(url: str, *, immediate: bool, synchronous: str, pool_size: int) -> AsyncEngine:
    engine = create_async_engine(async_url(url), pool_size=pool_size, max_overflow=0, connect_args={"timeout": 30})
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the driver so that the "begin" hook below decides the mode.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql(begin)

    return engine
