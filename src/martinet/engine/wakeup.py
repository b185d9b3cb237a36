"""Waking the dispatcher when work arrives, without polling where the database can tell us.

On PostgreSQL the acceptance transaction ends with `pg_notify(CHANNEL)` (delivered at commit, coalesced by the
server) and every engine LISTENs on a connection of its own, so a one-time password accepted by any HTTP worker
on any node wakes the dispatchers at once. SQLite has no such channel; its writers ring a doorbell instead, a
Unix datagram socket beside the database file (`martinet.store.doorbell`). Either way the dispatcher also polls
at `engine.poll_interval`, in case a wake-up is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from martinet.engine.waiting import first_of
from martinet.store.acceptance import QUEUE_CHANNEL as CHANNEL
from martinet.store.database import is_postgresql, sqlite_path
from martinet.store.doorbell import doorbell_path, listen_doorbell

log = logging.getLogger(__name__)


async def listen(url: str, wake: Callable[[str], None], stop: asyncio.Event, *, retry: float = 2.0) -> None:
    """Call `wake(lanes)` on every notification until `stop` (`lanes`: the comma-separated lanes of the queued
    messages); on PostgreSQL reconnects when the connection drops."""
    database = sqlite_path(url)
    if database is not None:
        try:
            await listen_doorbell(doorbell_path(database), wake, stop)
        except OSError as exc:  # wake-ups are an optimisation: the dispatcher polls anyway
            log.warning("the doorbell stopped (%s); the engine polls instead", exc)
        return
    if not is_postgresql(url):
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
            await first_of(stop, lost)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("listening for queue notifications failed (%s); polling meanwhile", exc)
        finally:
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.close()
        if not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), retry)
