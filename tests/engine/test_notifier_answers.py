"""What the notifier reads of a receiver's answer: its status, and at most 64 KiB of its body.

A receiver that streams a body without end (here 50 MB each, to 50 callbacks at once) must cost the notifier a
bounded amount of memory: the callback counts as delivered on its 2xx status and the connection is dropped
after the first 64 KiB. Measured with tracemalloc around a real notifier, a real outbox (both databases) and an
aiohttp server on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web
from sqlalchemy import func, select, update

from martinet.app import notifier, open_store
from martinet.config import Settings
from martinet.domain.status import FINAL_STATES
from martinet.store.database import Database
from martinet.store.schema import callbacks, messages
from tests.conftest import free_port
from tests.gateway import running_gateway, wait_for

RECIPIENTS = 50
BODY = 50 * 1024 * 1024
CHUNK = b"x" * (64 * 1024)
#: Peak growth allowed while the 50 callbacks stream (about 11 MiB measured, the receiver's side included):
#: asyncio reads up to 256 KiB from a socket at a time, plus aiohttp's buffer, per connection; never bodies.
MEMORY_BOUND = 24 * 1024 * 1024


@dataclass
class Streamer:
    """Answers 200 and a chunked body of `BODY` bytes, written as fast as the client takes it."""

    port: int
    answered: int = 0
    gone: int = 0  # answers the client stopped reading before their end
    concurrent: int = 0
    most_concurrent: int = 0
    events: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.events.append(request.headers.get("X-Martinet-Event-Id", ""))
        self.concurrent += 1
        self.most_concurrent = max(self.most_concurrent, self.concurrent)
        answer = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
        try:
            await answer.prepare(request)
            for _ in range(BODY // len(CHUNK)):
                await answer.write(CHUNK)
            await answer.write_eof()
            self.answered += 1
        except (ConnectionError, asyncio.CancelledError):
            self.gone += 1
        finally:
            self.concurrent -= 1
        return answer


@contextlib.asynccontextmanager
async def streaming(port: int) -> AsyncIterator[Streamer]:
    streamer = Streamer(port)
    app = web.Application()
    app.router.add_get("/dlr", streamer.handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield streamer
    finally:
        await runner.cleanup()


async def _pending_callbacks(db: Database) -> int:
    """How many callbacks wait, once every message is final (else 0)."""
    async with db.reader.connect() as conn:
        states = (await conn.execute(select(messages.c.state))).scalars().all()
        if len(states) < RECIPIENTS or any(s not in FINAL_STATES for s in states):
            return 0
        return int(await conn.scalar(select(func.count()).where(callbacks.c.state == "pending")) or 0)


async def _states(db: Database) -> dict[str, int]:
    async with db.reader.connect() as conn:
        rows = await conn.execute(select(callbacks.c.state, func.count()).group_by(callbacks.c.state))
        return {state: count for state, count in rows}


async def _queue_callbacks(database_url: str, port: int) -> Settings:
    """Send to RECIPIENTS numbers with a notification URL nothing listens on yet: their callbacks wait (an hour,
    once tried), and the gateway stops."""
    config = {"allow_private_networks": True, "retry_first": 3600, "retry_max": 3600, "timeout": 20}
    async with running_gateway(database_url, callbacks=config) as gw:
        numbers = ",".join(f"06{i:08d}" for i in range(RECIPIENTS))
        async with gw.client() as http:
            answer = await http.post(
                "/sendSMS.do",
                data={
                    "accessToken": gw.token,
                    "numero": numbers,
                    "message": "x",
                    "notification_url": f"http://127.0.0.1:{port}/dlr",
                },
            )
        assert answer.text.startswith("0 | "), answer.text
        await wait_for(lambda: _pending_callbacks(gw.db), timeout=30)
        settings = gw.settings
    return settings.model_copy(
        update={"callbacks": settings.callbacks.model_copy(update={"concurrency_per_host": RECIPIENTS})}
    )


async def test_endless_answers_are_delivered_without_buffering_their_bodies(database_url: str) -> None:
    port = free_port()
    settings = await _queue_callbacks(database_url, port)
    db = open_store(settings)
    try:
        async with db.write() as conn:  # due again now, as if the receiver had just come back
            await conn.execute(update(callbacks).values(next_at=0, lease_owner=None, lease_until=None))
        expected = await _pending_callbacks(db)
        assert expected >= RECIPIENTS
        async with streaming(port) as streamer:
            stop = asyncio.Event()
            tracemalloc.start()
            try:
                baseline = tracemalloc.get_traced_memory()[0]
                run = asyncio.create_task(notifier(settings, db, owner="test:1", node="test").run(stop))
                states = await wait_for(lambda: _all_delivered(db, expected), timeout=60)
                peak = tracemalloc.get_traced_memory()[1] - baseline
            finally:
                tracemalloc.stop()
                stop.set()
            await run
    finally:
        await db.dispose()
    assert peak < MEMORY_BOUND, f"memory grew by {peak / 2**20:.1f} MiB"
    assert states == {"delivered": expected}
    assert len(streamer.events) == expected  # each delivered at its first try
    assert streamer.most_concurrent >= RECIPIENTS // 2  # the bodies really streamed side by side
    assert streamer.answered == 0  # no body was read to its end


async def _all_delivered(db: Database, expected: int) -> dict[str, int] | None:
    states = await _states(db)
    return states if states.get("delivered", 0) == expected else None
