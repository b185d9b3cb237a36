"""Readiness fails while the store cannot be written, though it still answers queries.

The fault is a real one on each database (`tests.faults`: a full disk under SQLite, a read-only database under
PostgreSQL). And a write lock held by another client: the probe answers "not ready" after its 2 s
instead of hanging, shares one waiting write among concurrent probes, and recovers when the lock is released.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import select

from martinet.cli.status import gather, render
from martinet.store.schema import store_probes
from tests.faults import store_fault
from tests.gateway import Gateway, running_gateway, wait_for


async def _readyz(gw: Gateway, status: int) -> dict[str, Any] | None:
    async with httpx.AsyncClient(base_url=gw.admin, timeout=10) as http:
        reply = await http.get("/readyz")
    return reply.json() if reply.status_code == status else None  # type: ignore[no-any-return]


async def _send(gw: Gateway) -> str:
    async with gw.client() as api:
        reply = await api.post("/sendSMS.do", data={"accessToken": gw.token, "message": "hi", "numero": "0612345678"})
    return reply.text


async def test_readyz_fails_while_the_store_cannot_commit_and_recovers_after(database_url: str, tmp_path: Path) -> None:
    async with (
        store_fault(database_url, tmp_path) as fault,
        running_gateway(fault.url, admin={"write_probe_seconds": 0.1}, engine={"heartbeat": 0.2}) as gw,
    ):
        await wait_for(lambda: _readyz(gw, 200))
        await fault.cannot_write()

        async def unwritable() -> dict[str, Any] | None:
            body = await _readyz(gw, 503)
            return body if body and fault.reason in body["checks"]["store"].get("reason", "") else None

        body = await wait_for(unwritable, timeout=20)
        assert "store" in body["failed"]
        assert body["checks"]["store"]["reason"].startswith("the database answers but cannot commit a write")
        # What the probe saw is what a send meets: it is refused, nothing half-written.
        assert (await _send(gw)).startswith("31 | ")

        async def said() -> str | None:  # what `martinet status` prints, its store check a write of its own
            text = render(await gather(gw.db, gw.settings))
            return text if fault.reason in text else None

        text = await wait_for(said, timeout=20)
        assert "martinet: NOT READY" in text
        assert "  store       FAILED: the database answers but cannot commit a write (sends are answered 31" in text

        await fault.can_write()
        await wait_for(lambda: _readyz(gw, 200), timeout=20)
        assert (await _send(gw)).startswith("0 | ")


async def test_a_scrape_storm_writes_once_per_interval(database_url: str) -> None:
    async with running_gateway(database_url, admin={"write_probe_seconds": 60}) as gw:

        async def written() -> list[int]:
            async with gw.db.reader.connect() as conn:
                return list((await conn.execute(select(store_probes.c.written_at))).scalars())

        await wait_for(lambda: _readyz(gw, 200))
        [first] = await written()
        await asyncio.gather(*(_readyz(gw, 200) for _ in range(30)))
        assert await written() == [first]  # thirty probes later, the same single write


@contextlib.asynccontextmanager
async def write_lock_held(url: str) -> AsyncIterator[None]:
    """Another client holds the write lock the probe needs: SQLite's database lock, or PostgreSQL's lock on the
    probe's table (a long transaction of another process, a migration)."""
    if url.startswith("sqlite"):
        holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    conn = await asyncpg.connect(url, timeout=5)
    try:
        transaction = conn.transaction()
        await transaction.start()
        await conn.execute("LOCK TABLE store_probes IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            await transaction.rollback()
    finally:
        await conn.close()


async def test_a_write_that_waits_answers_not_ready_in_bounded_time(database_url: str) -> None:
    async with running_gateway(database_url, admin={"write_probe_seconds": 0}) as gw:
        await wait_for(lambda: _readyz(gw, 200))
        async with write_lock_held(database_url):
            started = time.monotonic()
            bodies = await asyncio.gather(*(_readyz(gw, 503) for _ in range(5)))
            waited = time.monotonic() - started
        # Five probes share the one write waiting for the lock, and each answers after the 2 s it is given.
        assert waited < 4, waited
        for body in bodies:
            assert body is not None and body["failed"] == ["store"], body
            assert body["checks"]["store"]["reason"].endswith("no commit within 2s")
        await wait_for(lambda: _readyz(gw, 200))  # the waiting write commits once the lock is released
