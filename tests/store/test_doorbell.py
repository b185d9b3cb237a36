"""The SQLite doorbell: a datagram from the acceptance writer wakes the engine with the lanes of the new work."""

from __future__ import annotations

import asyncio
from pathlib import Path

from martinet.store.doorbell import Doorbell, listen_doorbell


async def test_a_ring_reaches_the_listener_with_its_lanes(tmp_path: Path) -> None:
    path = tmp_path / "martinet.db.doorbell"
    heard: asyncio.Queue[str] = asyncio.Queue()
    stop = asyncio.Event()
    listener = asyncio.create_task(listen_doorbell(path, heard.put_nowait, stop))
    while not path.exists():
        await asyncio.sleep(0.01)
    bell = Doorbell(path)
    bell.ring(["otp", "marketing", "otp"])
    assert await asyncio.wait_for(heard.get(), 2) == "marketing,otp"
    stop.set()
    await listener
    assert not path.exists()
    bell.ring(["otp"])  # nobody listens any more: dropped, not an error
    bell.close()


async def test_a_stale_socket_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "martinet.db.doorbell"
    path.write_bytes(b"")  # left behind by an engine killed with -9
    stop = asyncio.Event()
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = asyncio.create_task(listen_doorbell(path, heard.put_nowait, stop))
    await asyncio.sleep(0.1)
    Doorbell(path).ring(["notification"])
    assert await asyncio.wait_for(heard.get(), 2) == "notification"
    stop.set()
    await listener


def test_the_doorbell_works_on_uvloop_which_the_engine_runs_on(tmp_path: Path) -> None:
    import uvloop

    async def ring_once() -> str:
        path = tmp_path / "martinet.db.doorbell"
        heard: asyncio.Queue[str] = asyncio.Queue()
        stop = asyncio.Event()
        listener = asyncio.create_task(listen_doorbell(path, heard.put_nowait, stop))
        while not path.exists():
            await asyncio.sleep(0.01)
        Doorbell(path).ring(["otp"])
        try:
            return await asyncio.wait_for(heard.get(), 2)
        finally:
            stop.set()
            await listener

    assert uvloop.run(ring_once()) == "otp"
