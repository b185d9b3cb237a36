"""A real gateway for tests: the HTTP app under uvicorn on a loopback port, and the engine, in the test's loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from martinet.app import account_service, engine, http_app, open_store
from martinet.config import Settings
from martinet.domain.credits import to_milli
from martinet.server import bind, http_config, with_admin_port
from martinet.store.database import Database
from martinet.store.migrate import upgrade
from tests.conftest import free_port


@dataclass
class Gateway:
    base: str
    token: str
    settings: Settings
    db: Database
    admin: str = ""  # the admin listener: /healthz, /readyz, /metrics

    @property
    def legacy(self) -> str:
        return f"{self.base}/http/1.6"

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.legacy, timeout=30)


def test_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database": {"url": database_url, "sqlite_synchronous": "normal"},
        "http": {"host": "127.0.0.1", "port": free_port(), "workers": 1},
        # Scrapes read the queue and outbox counts afresh: tests compare them right after a change.
        "admin": {"host": "127.0.0.1", "port": 0, "counts_max_age": 0},
        "engine": {"poll_interval": 0.01, "retry_delay": 0.2},
        "accounts": {"lane": "notification", "token_cache_seconds": 0},
        "connectors": [{"name": "sandbox", "type": "sandbox", "operator_delay": 0.05, "handset_delay": 0.1}],
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(values.get(key), dict):
            values[key] = {**values[key], **value}
        else:
            values[key] = value
    return Settings(**values)


@contextlib.asynccontextmanager
async def running_gateway(
    database_url: str,
    *,
    credits: int = 1000,
    with_engine: bool = True,
    with_notifier: bool = True,
    password: str | None = "secret",
    **overrides: Any,
) -> AsyncIterator[Gateway]:
    settings = test_settings(database_url, **overrides)
    db = open_store(settings)
    await upgrade(db)
    created = await account_service(settings, db).create("acme", credits=to_milli(credits), password=password)
    # Both listeners of a worker, as `martinet serve` binds them (the admin one on a port the kernel picks).
    sockets = [bind(settings.http.host, settings.http.port), bind(settings.admin.host, settings.admin.port)]
    for sock in sockets:
        # The test's loop is asyncio's, which leaves Nagle's algorithm on for these sockets (uvloop, which
        # `martinet serve` runs, turns it off): an answer's body would wait ~40 ms for the head's ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    settings = with_admin_port(settings, sockets[1])
    server = uvicorn.Server(http_config(settings, http_app(settings)))
    server_task = asyncio.create_task(server.serve(sockets=sockets))
    stop = asyncio.Event()
    engine_task = (
        asyncio.create_task(engine(settings, db, with_notifier=with_notifier).run(stop)) if with_engine else None
    )
    try:
        while not server.started:
            if server_task.done():
                server_task.result()
            await asyncio.sleep(0.01)
        admin = f"http://{settings.admin.host}:{settings.admin.port}"
        yield Gateway(f"http://{settings.http.host}:{settings.http.port}", created.token, settings, db, admin)
    finally:
        stop.set()
        server.should_exit = True
        await server_task
        if engine_task is not None:
            await engine_task
        await db.dispose()
        for sock in sockets:
            sock.close()


async def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll an async predicate until it returns something truthy; fail the test on timeout."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await predicate()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(interval)
