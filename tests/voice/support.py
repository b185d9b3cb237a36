"""Shared by the voice tests: the system tools they need, a callback receiver, reading a message's history, sipp
as a trunk."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select

from martinet.connectors.sip.connector import SipConnector
from martinet.domain.inbound import InboundMessage
from martinet.domain.receipts import Receipt
from martinet.store.database import Database
from martinet.store.schema import messages, status_history
from tests.conftest import free_port
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


SCENARIOS = Path(__file__).parent / "sipp"


@dataclass
class Sipp:
    port: int
    process: asyncio.subprocess.Process
    trace: Path

    async def finished(self, timeout: float = 60) -> int:
        return await asyncio.wait_for(self.process.wait(), timeout)

    def received(self) -> list[str]:
        """The first line of every message sipp received, in order (its -trace_msg log)."""
        lines = self.trace.read_text(errors="replace").splitlines() if self.trace.exists() else []
        found = []
        for i, line in enumerate(lines):
            if "message received" in line:
                following = next((t for t in lines[i + 1 : i + 4] if t.strip()), "")
                found.append(following.split(" ")[0] if not following.startswith("SIP/") else following)
        return found


@contextlib.asynccontextmanager
async def sipp(scenario: str, tmp_path: Path, *, port: int | None = None, tcp: bool = False) -> AsyncIterator[Sipp]:
    """sipp as a trunk answering one call with `scenario`, on `port` (a fresh one by default)."""
    require(("sipp", "sip-tester"))
    port, media = port or free_port(), free_port()
    trace = tmp_path / f"{scenario}-{port}-{time.monotonic_ns()}.log"
    process = await asyncio.create_subprocess_exec(
        "sipp", "-sf", str(SCENARIOS / f"{scenario}.xml"), "-i", "127.0.0.1", "-p", str(port), "-mp", str(media),
        "-rtp_echo", "-m", "1", "-nostdin", "-trace_msg", "-message_file", str(trace), "-timeout", "90",
        *(["-t", "t1"] if tcp else []),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await asyncio.sleep(0.3)  # sipp binds before its first read
    try:
        yield Sipp(port, process, trace)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def start_connector(connector: SipConnector) -> list[Receipt]:
    """Start `connector`; the list it returns fills with the receipts the connector reports (a SIP trunk sends no
    replies: one would fail the test)."""
    receipts: list[Receipt] = []

    async def record(batch: Sequence[Receipt]) -> None:
        receipts.extend(batch)

    async def no_replies(batch: Sequence[InboundMessage]) -> None:
        raise AssertionError("a SIP trunk sends no replies")

    await connector.start(record, no_replies)
    return receipts
