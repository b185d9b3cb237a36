"""Waking the dispatcher when work arrives, without polling where the database can tell us.

On PostgreSQL the acceptance transaction ends with `pg_notify(CHANNEL)` (delivered at commit, coalesced by the
server) and every engine LISTENs on a connection of its own, so a one-time password accepted by any HTTP worker
on any node wakes the dispatchers at once. SQLite has no such channel: there the dispatcher polls at
`engine.poll_interval`, a cheap indexed query.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from martinet.store.acceptance import QUEUE_CHANNEL as CHANNEL

log = logging.getLogger(__name__)


def notifies(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


async def listen(url: str, wake: Callable[[str], None], stop: asyncio.Event, *, retry: float = 2.0) -> None:
    """Call `wake(lanes)` on every notification until `stop` (`lanes`: the comma-separated lanes of the queued
    messages); reconnects when the connection drops. Returns at once on a database without notifications."""
    if not notifies(url):
        return
    import asyncpg  # PostgreSQL installs only

    while not stop.is_set():
        connection: Any = None
        try:
            connection = await asyncpg.connect(url)
            lost = asyncio.Event()
            connection.add_termination_listener(lambda _c, lost=lost: lost.set())
            await connection.add_listener(CHANNEL, lambda _c, _pid, _channel, lanes: wake(lanes))
            wake("")  # anything accepted while we were not listening
            await _first(stop, lost)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("listening for queue notifications failed (%s); polling meanwhile", exc)
        finally:
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.close()
        if not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), retry)


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
