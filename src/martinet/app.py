"""The composition root: the only place that chooses concrete parts and wires them together.

Everything else receives its dependencies as arguments, so tests build the same objects around a temporary
database, and a new door or connector is added here and nowhere else.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from martinet import health, logs, metrics
from martinet.api.context import RequestContext
from martinet.api.legacy.app import PREFIXES as LEGACY_PREFIXES
from martinet.api.legacy.app import LegacyDoor
from martinet.api.legacy.endpoints import LegacyServices
from martinet.api.rest.app import PREFIXES as REST_PREFIXES
from martinet.api.rest.app import RestDoor
from martinet.api.rest.handlers import RestServices
from martinet.app_console import CONSOLE_PREFIX, console_door
from martinet.clock import now_ms
from martinet.config import SandboxConnectorConfig, Settings, SipConnectorConfig, SmppConnectorConfig, worker_count
from martinet.config.routes import operator_lookup, router_from_settings
from martinet.connectors.base import Connector
from martinet.connectors.sandbox import SandboxConnector
from martinet.domain.country_rules import (
    CountryRules,
    QuietHoursData,
    load_default_country_rules,
    loads_country_rules,
)
from martinet.domain.ids import new_send_id
from martinet.domain.lanes import Lane
from martinet.domain.opt_out import StopKeywords
from martinet.domain.pricing import PriceTable, load_default_price_table, loads_price_table
from martinet.domain.quiet_hours import QuietHours, window
from martinet.engine.breaker import CircuitBreaker
from martinet.engine.dispatcher import Dispatcher, DispatchSettings
from martinet.engine.notifier import Notifier, NotifierSettings
from martinet.engine.runner import Engine, EngineTimings
from martinet.identity import node_name, process_owner
from martinet.services.accept import SendService, SendWriter
from martinet.services.account_rules import AccountRulesCache
from martinet.services.accounts import AccountService
from martinet.services.auth import Authenticator
from martinet.services.auth_failures import FailureLimits
from martinet.services.callback_urls import CallbackUrlCheck
from martinet.services.contacts import ContactService
from martinet.services.destination_rules import DestinationRules
from martinet.services.idempotency import IdempotentSends
from martinet.services.rate_limits import RateLimiter
from martinet.services.replies import ReplyService
from martinet.services.reports import ReportService
from martinet.services.resellers import ResellerService
from martinet.services.voice_sends import VoiceRules
from martinet.store.acceptance import AcceptanceWriter
from martinet.store.account_tree import AccountTree
from martinet.store.accounts import AccountStore
from martinet.store.callbacks import CallbackStore, outbox_backlog
from martinet.store.contacts import ContactStore
from martinet.store.conversations import ConversationStore
from martinet.store.database import Database, open_database
from martinet.store.dispatch import DispatchStore
from martinet.store.idempotency import IdempotencyStore
from martinet.store.inbound import InboundStore
from martinet.store.ledger import LedgerStore
from martinet.store.messages import MessageStore
from martinet.store.nodes import NodeStore
from martinet.store.receipts import ReceiptStore
from martinet.store.reports import ReportStore
from martinet.store.scheduler import ScheduleStore, queue_depth
from martinet.store.senders import SenderStore
from martinet.voice.synthesis import Speech


def open_store(settings: Settings) -> Database:
    return open_database(
        settings.database.url,
        sqlite_synchronous=settings.database.sqlite_synchronous,
        pool_size=settings.database.pool_size,
    )


def price_table(settings: Settings) -> PriceTable:
    """The built-in table, or the operator's file, under the configuration's overrides (docs/pricing.md)."""
    if settings.pricing.file:
        path = Path(settings.pricing.file)
        table = loads_price_table(path.read_bytes(), origin=str(path))
    else:
        table = load_default_price_table()
    pricing = settings.pricing
    return table.with_overrides(pricing.prices, pricing.closed, pricing.accounts, pricing.voice)


def account_service(settings: Settings, db: Database) -> AccountService:
    url_check = CallbackUrlCheck(allow_private_networks=settings.callbacks.allow_private_networks)
    return AccountService(AccountStore(db, now_ms), settings.accounts, url_check)


def send_service(settings: Settings, db: Database, writer: SendWriter, *, workers: int | None = None) -> SendService:
    """The send service every door accepts through (the HTTP doors, the console, `martinet send`), so that a send
    gets the same rules, prices and address book whichever way it comes in.

    `workers`: the processes sharing each account's rate limit (None: as many as `martinet serve` starts).
    """
    tree, senders = AccountTree(db, now_ms), SenderStore(db, now_ms)
    prices = price_table(settings)
    return SendService(
        writer,
        prices,
        stop_mention=settings.accounts.stop_mention,
        now_ms=now_ms,
        new_id=new_send_id,
        validity={lane: settings.lanes.validity(lane) for lane in Lane},
        rate_limiter=RateLimiter(settings.accounts.rate_limit, share=workers or worker_count(settings)),
        marketing_stop=settings.marketing.stop_mention,
        url_check=CallbackUrlCheck(allow_private_networks=settings.callbacks.allow_private_networks),
        max_recipients=settings.http.max_recipients,
        spool_dir=settings.http.spool_dir,
        schedule_horizon_days=settings.accounts.schedule_horizon_days,
        contacts=ContactStore(db, now_ms),
        account_rules=AccountRulesCache(tree, senders, settings.accounts.token_cache_seconds),
        voice=voice_rules(settings, prices),
        destination_rules=DestinationRules(country_rules(settings), operator_lookup(settings)),
    )


@dataclass
class HttpParts:
    db: Database
    writer: AcceptanceWriter
    legacy: LegacyDoor
    rest: RestDoor
    console: ASGIApp | None = None  # the web console, unless `console.enabled` is false


def http_parts(settings: Settings, db: Database, *, workers: int | None = None) -> HttpParts:
    """The parts of one HTTP worker process.

    `workers` is the number of HTTP worker processes sharing the listening socket (default: as many as
    `martinet serve` starts for these settings): each enforces that share of every account's rate limit,
    since the kernel spreads connections (not calls) across them.
    """
    accounts = AccountStore(db, now_ms)
    tree, senders = AccountTree(db, now_ms), SenderStore(db, now_ms)
    resellers = ResellerService(accounts, tree, senders, LedgerStore(db), default_rate=settings.accounts.rate_limit)
    writer = AcceptanceWriter(db, opt_out_lanes=settings.optout.lanes)
    contacts = ContactService(ContactStore(db, now_ms))
    sends = send_service(settings, db, writer, workers=workers)
    reports = ReportService(ReportStore(db, now_ms), accounts)
    messages = MessageStore(db)
    replies = ReplyService(messages)
    failures = FailureLimits(
        settings.security.auth_failures_per_minute,
        settings.security.login_failures_per_minute,
        share=workers or worker_count(settings),
    )
    auth = Authenticator(accounts, settings.accounts.token_cache_seconds, failures=failures)
    legacy = LegacyDoor(
        LegacyServices(sends, reports, replies, contacts, resellers),
        auth,
        max_body_bytes=settings.http.max_body_bytes,
        max_upload_bytes=settings.http.max_upload_bytes,
        max_batch_rows=settings.http.max_recipients,
        tracebacks=logs.Tracebacks(time.monotonic),
    )
    rest = RestDoor(
        RestServices(
            sends,
            reports,
            messages,
            IdempotentSends(sends, IdempotencyStore(db, now_ms)),
            replies,
            contacts,
            resellers,
            account_service(settings, db),
        ),
        auth,
        max_body_bytes=settings.http.max_body_bytes,
        tracebacks=logs.Tracebacks(time.monotonic),
    )
    console = (
        console_door(settings, db, sends, reports, auth, router_from_settings(settings), contacts, resellers)
        if settings.console.enabled
        else None
    )
    return HttpParts(db, writer, legacy, rest, console)


def http_app(settings: Settings) -> ASGIApp:
    """The ASGI application of one HTTP worker. The database is opened inside the worker's own event loop.

    A worker listens on two sockets: the API port (`http.port`) and the admin listener (`admin.port`), and tells
    them apart by the local port of each connection (`scope["server"]`, which the server reads from the socket
    and no header can change). The API port serves the doors only; the admin listener serves `/healthz`,
    `/readyz` and `/metrics` only, so that they stay where only the operator reaches them (docs/security.md).
    """
    parts: HttpParts | None = None
    counts: metrics.StoreCounts | None = None
    readiness: health.Readiness | None = None

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        nonlocal parts, counts, readiness
        db = open_store(settings)
        parts = http_parts(settings, db)
        counts = metrics.StoreCounts(functools.partial(store_counts, db), settings.admin.counts_max_age)
        readiness = health.Readiness(db, settings, process_owner(node_name(settings)))
        await parts.writer.start()
        try:
            yield
        finally:
            await parts.writer.stop()
            await db.dispose()

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "pid": os.getpid()})

    async def readyz(_request: Request) -> JSONResponse:
        if readiness is None:
            return JSONResponse({"status": "starting"}, status_code=503)
        status, body = await readiness.check()
        return JSONResponse(body, status_code=status)

    async def metrics_page(_request: Request) -> Response:
        if counts is None:
            return Response("starting", status_code=503, media_type="text/plain")
        body, content_type = await metrics.exposition(counts)
        return Response(body, headers={"content-type": content_type})

    admin = Starlette(routes=[Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics_page)])
    others = Starlette(lifespan=lifespan)  # the lifespan, and 404 for any other path of the API port
    admin_port = settings.admin.port

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _local_port(scope) == admin_port:
            await admin(scope, receive, send)
            return
        # The API doors are served first and directly (see martinet.api.legacy.app); the rest by Starlette.
        if scope["type"] == "http" and parts is not None:
            path = scope["path"]
            if path.startswith(LEGACY_PREFIXES):
                await parts.legacy(scope, receive, send)
                return
            if path.startswith(REST_PREFIXES):
                await parts.rest(scope, receive, send)
                return
            if parts.console is not None and (path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")):
                await parts.console(scope, receive, send)
                return
        await others(scope, receive, send)

    return RequestContext(app)


def _local_port(scope: Scope) -> int | None:
    server = scope.get("server")
    return server[1] if server else None


def speech(settings: Settings) -> Speech:
    """The engine's speech synthesis (espeak-ng), cached: shared by its SIP connectors."""
    from martinet.voice.synthesis import EspeakSynthesizer

    synthesizer = EspeakSynthesizer(voices=settings.voice.voices, speed=settings.voice.speed)
    return Speech(synthesizer, cache_size=settings.voice.cache_size)


def voice_rules(settings: Settings, prices: PriceTable) -> VoiceRules:
    """Voice prices (the price table's voice channel), the name the default title says, and whether a SIP trunk
    is configured to call through."""
    trunks = any(connector.type == "sip" for connector in settings.connectors)
    return VoiceRules(prices, platform=settings.voice.platform, trunks=trunks)


def connector(
    config: SandboxConnectorConfig | SmppConnectorConfig | SipConnectorConfig,
    settings: Settings,
    voice: Speech | None = None,
) -> Connector:
    if isinstance(config, SipConnectorConfig):
        from martinet.connectors.sip.connector import SipConnector  # only installs that call load it

        return SipConnector(config, voice or speech(settings), repeat=settings.voice.repeat)
    if isinstance(config, SmppConnectorConfig):
        from martinet.connectors.smpp.connector import SmppConnector  # only installs that use SMPP load it

        return SmppConnector(config, otp_reserved_share=settings.lanes.otp_reserved_share)
    return SandboxConnector(config.name, operator_delay=config.operator_delay, handset_delay=config.handset_delay)


def country_rules(settings: Settings) -> CountryRules:
    """The built-in country rules, or the operator's file, with the configuration's per-country keys; the
    configuration's `marketing.quiet_hours`, when set, replaces every marketing window of the rules."""
    if settings.rules.file:
        path = Path(settings.rules.file)
        rules = loads_country_rules(path.read_bytes(), origin=str(path))
    else:
        rules = load_default_country_rules()
    rules = rules.with_overrides(settings.rules.countries)
    configured = settings.marketing.quiet_hours
    if configured is None:
        return rules
    return rules.with_quiet_hours(
        {
            country: QuietHoursData(q.timezone, q.opens, q.closes, tuple(q.closed_days), q.public_holidays)
            for country, q in configured.items()
        }
    )


def quiet_hours(settings: Settings, rules: CountryRules | None = None) -> QuietHours:
    """Marketing windows by country, as the country rules (with the configuration's) set them."""
    data = (rules or country_rules(settings)).quiet_hours()
    return QuietHours(
        {
            country: window(country, q.timezone, q.opens, q.closes, q.closed_days, q.public_holidays)
            for country, q in data.items()
        }
    )


def notifier(settings: Settings, db: Database, *, owner: str, node: str) -> Notifier:
    """The callbacks notifier, built the same way inside the engine and in a process of its own."""
    return Notifier(
        CallbackStore(db, now_ms, operator_lookup(settings)),
        NotifierSettings(
            owner=owner,
            node=node,
            timeout=settings.callbacks.timeout,
            max_age_ms=int(settings.callbacks.max_age_hours * 3600 * 1000),
            concurrency_per_host=settings.callbacks.concurrency_per_host,
            concurrency=settings.callbacks.concurrency,
            retry_first=settings.callbacks.retry_first,
            retry_max=settings.callbacks.retry_max,
            allow_private_networks=settings.callbacks.allow_private_networks,
        ),
    )


async def store_counts(db: Database) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    """What /metrics reads from the database: messages waiting by (lane, state), callbacks by outbox state."""
    return await queue_depth(db), await outbox_backlog(db)


def _deadline_interval(dispatch: DispatchSettings) -> float:
    """How often overdue receipts are looked for: every 5 s, or a quarter of the shortest deadline (0.1 s at least)."""
    shortest = min([dispatch.default_receipt_deadline_ms, *dispatch.receipt_deadline_ms.values()]) / 1000
    return max(0.1, min(5.0, shortest / 4))


def engine(settings: Settings, db: Database, *, with_notifier: bool = True) -> Engine:
    """The engine; `with_notifier=False` when callbacks are delivered by a process of their own
    (`callbacks.own_process` under `martinet serve`)."""
    dispatch_store = DispatchStore(db, now_ms)
    node = node_name(settings)
    owner = process_owner(node)
    dispatch = DispatchSettings(
        node=node,
        owner=owner,
        batch_size=settings.engine.batch_size,
        lease_ms=int(settings.engine.lease_seconds * 1000),
        retry_delay_ms=int(settings.engine.retry_delay * 1000),
        retry_max_ms=int(settings.engine.retry_max * 1000),
        receipt_deadline_ms={
            c.name: int(c.receipt_deadline * 1000)
            for c in settings.connectors
            if isinstance(c, SmppConnectorConfig | SipConnectorConfig) and c.receipt_deadline is not None
        },
        default_receipt_deadline_ms=int(settings.engine.receipt_deadline * 1000),
    )
    voice = [c.name for c in settings.connectors if isinstance(c, SipConnectorConfig)]
    shared_speech = speech(settings) if voice else None
    connectors = [connector(c, settings, shared_speech) for c in settings.connectors]
    breakers = {
        c.name: CircuitBreaker(settings.engine.breaker_failures, settings.engine.breaker_rest, time.monotonic)
        for c in connectors
    }
    sandbox = next((c.name for c in settings.connectors if isinstance(c, SandboxConnectorConfig)), None)
    rules = country_rules(settings)
    dispatcher = Dispatcher(
        dispatch_store,
        {c.name: c for c in connectors},
        breakers,
        router_from_settings(settings),
        quiet_hours(settings, rules),
        dispatch,
        now_ms,
        sandbox=sandbox,
        reply_numbers={c.name: c.reply_numbers for c in settings.connectors if not isinstance(c, SipConnectorConfig)},
        conversations=ConversationStore(db, now_ms, settings.replies.conversation_hours),
        voice_connectors=voice,
        sender_for=rules.sender_for,
    )
    return Engine(
        dispatch_store,
        ScheduleStore(db, now_ms),
        ReceiptStore(db, now_ms),
        InboundStore(
            db,
            StopKeywords(settings.optout.keywords),
            now_ms,
            settings.replies.owners,
            conversation_hours=settings.replies.conversation_hours,
        ),
        NodeStore(db, now_ms),
        connectors,
        dispatcher,
        owner=owner,
        node=node,
        database_url=settings.database.url,
        timings=EngineTimings(
            poll_interval=settings.engine.poll_interval,
            heartbeat=settings.engine.heartbeat,
            unmatched_receipts_ttl=settings.engine.unmatched_receipts_ttl,
            deadline_interval=_deadline_interval(dispatch),
        ),
        now_ms=now_ms,
        notifier=notifier(settings, db, owner=owner, node=node) if with_notifier else None,
        tidy=[IdempotencyStore(db, now_ms).purge],
    )
