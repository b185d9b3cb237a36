"""A doorbell for SQLite: HTTP workers tell the engine, on the same machine, that work was queued.

PostgreSQL has `LISTEN/NOTIFY`; SQLite has nothing of the kind, and polling the queue often enough for one-time
passwords costs a query every few milliseconds. A SQLite database lives on one machine, so its writers and its
engine can share a Unix datagram socket beside the database file: after a commit that queued messages, the writer
sends one datagram naming their lanes; the engine, bound to the socket, wakes the dispatcher. A datagram is
fire-and-forget: when no engine listens (or its buffer is full) it is dropped, and the engine's poll at
`engine.poll_interval` finds the work anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Iterable
from pathlib import Path

log = logging.getLogger(__name__)

#: Longest path a Unix socket address may have on Linux (108 bytes with the terminating zero).
MAX_PATH = 107


def doorbell_path(database: Path) -> Path:
    return database.with_name(database.name + ".doorbell")


class Doorbell:
    """The writer's side: `ring(lanes)` after a commit that queued messages in `lanes`."""

    def __init__(self, path: Path) -> None:
        self._address = str(path)
        self._socket: socket.socket | None = None

    def ring(self, lanes: Iterable[str]) -> None:
        if len(self._address.encode()) > MAX_PATH:
            return
        if self._socket is None:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._socket.setblocking(False)
        with contextlib.suppress(OSError):  # no engine listening, or its buffer is full: it will poll
            self._socket.sendto(",".join(sorted(set(lanes))).encode(), self._address)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


async def listen_doorbell(path: Path, wake: Callable[[str], None], stop: asyncio.Event) -> None:
    """Bind the doorbell and call `wake(lanes)` for each ring until `stop`. One engine per database: a socket
    left by an engine that did not stop cleanly is replaced. When the socket cannot be bound, the engine
    relies on polling (logged)."""
    address = str(path)
    if len(address.encode()) > MAX_PATH:
        log.warning("the doorbell path %s is too long for a Unix socket; the engine polls instead", address)
        return
    with contextlib.suppress(FileNotFoundError):
        os.unlink(address)
    bell = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        bell.bind(address)
    except OSError as exc:
        bell.close()
        log.warning("cannot bind the doorbell %s (%s); the engine polls instead", address, exc)
        return
    bell.setblocking(False)

    def ring() -> None:
        # Drain everything that arrived: several rings between two wake-ups are one wake-up.
        lanes: set[str] = set()
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while True:
                lanes.update(bell.recv(1024).decode(errors="replace").split(","))
        wake(",".join(sorted(lane for lane in lanes if lane)))

    loop = asyncio.get_running_loop()
    loop.add_reader(bell.fileno(), ring)  # add_reader, not a datagram endpoint: every event loop supports it
    try:
        await stop.wait()
    finally:
        loop.remove_reader(bell.fileno())
        bell.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(address)
