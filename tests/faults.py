"""Real faults of a gateway's database.

`store_fault`, one per database: it cannot take writes, then it can again. SQLite: the database lives on a small
tmpfs that a file fills to the last byte, so the commits get ENOSPC from the kernel, as on a full disk (mounting
needs root, as in CI; a test using it is skipped elsewhere). PostgreSQL: the database is made read-only for new
sessions (`default_transaction_read_only`, what managed PostgreSQL services do when their storage is full, and
what a gateway meets when a failover leaves it on a standby) and its sessions are ended, so the gateway
reconnects into read-only ones.

`postgres_outage`: the PostgreSQL server goes away (stopped, restarting, the network between cut), then comes
back. The gateway reaches the server through a loopback TCP relay the test owns (`bench.relay`): cut, it resets
every connection it carries and refuses new ones, as a stopped server's host does; mended, it listens again.

`missing_tables`: tables the gateway reads are renamed away (a restore or a manual migration gone wrong), on
either database: every statement naming it fails, reads included, which the other faults leave working.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
from bench.relay import Relay
from sqlalchemy import text

from martinet.store.database import open_database
from tests.conftest import POSTGRES


@dataclass
class Fault:
    url: str  # where the gateway's database is
    cannot_write: Callable[[], Awaitable[None]]
    can_write: Callable[[], Awaitable[None]]
    reason: str  # what the database says to a commit meanwhile


@contextlib.asynccontextmanager
async def full_disk(tmp_path: Path) -> AsyncIterator[Fault]:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"a tmpfs cannot be mounted here (root only): {mounted.stderr.decode().strip()}")
    filler = disk / "filler"

    async def fill() -> None:
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == 28  # ENOSPC
        finally:
            os.close(fd)

    async def free() -> None:
        filler.unlink()

    try:
        yield Fault(f"sqlite:///{disk / 'martinet.db'}", fill, free, "database or disk is full")
    finally:
        subprocess.run(["umount", "--lazy", str(disk)], check=True)


@contextlib.asynccontextmanager
async def read_only_database(url: str) -> AsyncIterator[Fault]:
    name = url.rsplit("/", 1)[1]

    async def read_only(on: bool) -> None:
        conn = await asyncpg.connect(f"{POSTGRES}/postgres", timeout=5)
        try:
            setting = "SET default_transaction_read_only = on" if on else "RESET default_transaction_read_only"
            await conn.execute(f'ALTER DATABASE "{name}" {setting}')
            await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        finally:
            await conn.close()

    try:
        yield Fault(url, lambda: read_only(True), lambda: read_only(False), "read-only transaction")
    finally:
        await read_only(False)


@contextlib.asynccontextmanager
async def store_fault(database_url: str, tmp_path: Path) -> AsyncIterator[Fault]:
    if database_url.startswith("sqlite"):
        async with full_disk(tmp_path) as fault:
            yield fault
    else:
        async with read_only_database(database_url) as fault:
            yield fault


@dataclass
class Outage:
    url: str  # the database through the relay: what the gateway is given
    cut: Callable[[], Awaitable[None]]
    mend: Callable[[], Awaitable[None]]


@contextlib.asynccontextmanager
async def postgres_outage(url: str) -> AsyncIterator[Outage]:
    """`url` (a PostgreSQL database) reached through a loopback relay that the test can cut and mend."""
    target = urlsplit(url)
    relay = Relay(target.hostname or "127.0.0.1", target.port or 5432)
    await relay.start()
    try:
        yield Outage(
            target._replace(netloc=f"{target.username}@127.0.0.1:{relay.port}").geturl(), relay.cut, relay.mend
        )
    finally:
        await relay.cut()


@contextlib.asynccontextmanager
async def missing_tables(url: str, *tables: str) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """`tables` of the database at `url`, renamed away by the callable yielded, and given back at the end."""
    db = open_database(url)
    renamed = False

    async def rename(back: bool = False) -> None:
        nonlocal renamed
        async with db.writer.begin() as conn:
            for table in tables:
                old, new = (f"{table}_away", table) if back else (table, f"{table}_away")
                await conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))
        renamed = not back

    try:
        yield rename
    finally:
        if renamed:
            await rename(back=True)
        await db.dispose()
