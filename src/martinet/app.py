"""The composition root: the only place that chooses concrete parts and wires them together.

Everything else receives its dependencies as arguments, so tests build the same objects around a temporary
database, and a new door or connector is added here and nowhere else.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tomllib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from martinet.api.legacy.app import PREFIX as LEGACY_PREFIX
from martinet.api.legacy.app import LegacyDoor
from martinet.api.legacy.endpoints import LegacyServices
from martinet.clock import now_ms
from martinet.config import SandboxConnectorConfig, Settings, SmppConnectorConfig
from martinet.connectors.base import Connector
from martinet.connectors.sandbox import SandboxConnector
from martinet.domain.ids import new_send_id
from martinet.domain.pricing import PriceTable, load_default_price_table, parse_price_table
from martinet.engine.dispatcher import DispatchSettings
from martinet.engine.runner import Engine
from martinet.services.accept import SendService
from martinet.services.accounts import AccountService
from martinet.services.auth import Authenticator
from martinet.services.reports import ReportService
from martinet.store.acceptance import AcceptanceWriter
from martinet.store.accounts import AccountStore
from martinet.store.database import Database, open_database
from martinet.store.inbound import InboundStore
from martinet.store.queue import QueueStore
from martinet.store.reports import ReportStore


def open_store(settings: Settings) -> Database:
    return open_database(
        settings.database.url,
        sqlite_synchronous=settings.database.sqlite_synchronous,
        pool_size=settings.database.pool_size,
    )


def price_table(settings: Settings) -> PriceTable:
    """The built-in table, or the operator's file, with per-country overrides from the configuration."""
    if settings.pricing.file:
        table = parse_price_table(tomllib.loads(Path(settings.pricing.file).read_text(encoding="utf-8")))
    else:
        table = load_default_price_table()
    if settings.pricing.prices:
        overrides = parse_price_table({"prices": {k: str(v) for k, v in settings.pricing.prices.items()}})
        table = PriceTable({**table.prices, **overrides.prices})
    return table


def account_service(settings: Settings, db: Database) -> AccountService:
    return AccountService(AccountStore(db, now_ms), settings.accounts)


@dataclass
class HttpParts:
    db: Database
    writer: AcceptanceWriter
    legacy: LegacyDoor


def http_parts(settings: Settings, db: Database) -> HttpParts:
    accounts = AccountStore(db, now_ms)
    writer = AcceptanceWriter(db)
    sends = SendService(
        writer,
        price_table(settings),
        stop_mention=settings.accounts.stop_mention,
        now_ms=now_ms,
        new_id=new_send_id,
    )
    reports = ReportService(ReportStore(db, now_ms), accounts)
    auth = Authenticator(accounts, settings.accounts.token_cache_seconds)
    legacy = LegacyDoor(LegacyServices(sends, reports), auth, max_body_bytes=settings.http.max_body_bytes)
    return HttpParts(db, writer, legacy)


def http_app(settings: Settings) -> ASGIApp:
    """The ASGI application of one HTTP worker. The database is opened inside the worker's own event loop."""
    parts: HttpParts | None = None

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        nonlocal parts
        db = open_store(settings)
        parts = http_parts(settings, db)
        await parts.writer.start()
        try:
            yield
        finally:
            await parts.writer.stop()
            await db.dispose()

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "pid": os.getpid()})

    others = Starlette(routes=[Route("/healthz", healthz)], lifespan=lifespan)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        # The smsmode door is served first and directly (see martinet.api.legacy.app); the rest by Starlette.
        if scope["type"] == "http" and scope["path"].startswith(LEGACY_PREFIX) and parts is not None:
            await parts.legacy(scope, receive, send)
        else:
            await others(scope, receive, send)

    return app


def connector(config: SandboxConnectorConfig | SmppConnectorConfig) -> Connector:
    if isinstance(config, SmppConnectorConfig):
        from martinet.connectors.smpp.connector import SmppConnector  # only installs that use SMPP load it

        return SmppConnector(config)
    return SandboxConnector(config.name, operator_delay=config.operator_delay, handset_delay=config.handset_delay)


def engine(settings: Settings, db: Database) -> Engine:
    queue = QueueStore(db, now_ms)
    node = settings.engine.node or socket.gethostname()
    dispatch = DispatchSettings(
        node=node,
        owner=f"{node}:{os.getpid()}",
        batch_size=settings.engine.batch_size,
        lease_ms=int(settings.engine.lease_seconds * 1000),
        retry_delay_ms=int(settings.engine.retry_delay * 1000),
        max_attempts=settings.engine.max_attempts,
    )
    return Engine(
        queue,
        InboundStore(db),
        [connector(c) for c in settings.connectors],
        dispatch,
        now_ms,
        poll_interval=settings.engine.poll_interval,
        dispatchers=settings.engine.dispatchers,
    )
