"""Shared by the voice tests: the system tools they need, a callback receiver, reading a message's history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from sqlalchemy import select

from martinet.store.database import Database
from martinet.store.schema import messages, status_history
from tests.programs import require


def require_speech() -> None:
    require(("espeak-ng", "espeak-ng"), ("sox", "sox"))


@dataclass
class Callbacks:
    """An HTTP server on loopback recording the query of every status callback."""

    received: list[dict[str, str]] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/cb", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cb"

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append(dict(request.query))
        return web.Response(text="OK")

    def statuses(self, number: str) -> list[str]:
        return [c["statut"] for c in self.received if c.get("numero") == number]


async def history(db: Database, msisdn: str) -> list[Any]:
    """(state, code, detail) rows of the message to `msisdn`, oldest first."""
    async with db.reader.connect() as conn:
        rows = await conn.execute(
            select(status_history.c.state, status_history.c.code, status_history.c.detail)
            .join(messages, messages.c.id == status_history.c.message_id)
            .where(messages.c.msisdn == msisdn)
            .order_by(status_history.c.id)
        )
        return list(rows)
