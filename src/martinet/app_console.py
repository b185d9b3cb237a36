"""The composition root's part for the web console: the console door built on the parts of an HTTP worker.

Kept apart from `martinet.app` only for size; like it, this is a place that chooses concrete parts and wires
them together, and nothing else imports it.
"""

from __future__ import annotations

import functools
import os
import secrets
import socket
import time

from martinet import logs
from martinet.api.console.app import ConsoleDoor
from martinet.api.console.context import PREFIX as CONSOLE_PREFIX
from martinet.api.console.context import ConnectorLimits, ConsoleServices, ConsoleSettings
from martinet.clock import now_ms
from martinet.config import Settings, SmppConnectorConfig
from martinet.connector_figures import connector_figures
from martinet.domain.routing import Router
from martinet.gateway_status import gather
from martinet.health import Readiness
from martinet.services.accept import SendService
from martinet.services.accounts import AccountService
from martinet.services.auth import Authenticator
from martinet.services.callback_urls import CallbackUrlCheck
from martinet.services.contacts import ContactService
from martinet.services.keys import KeyService
from martinet.services.reports import ReportService
from martinet.services.resellers import ResellerService
from martinet.services.sign_in_links import SignInLinks
from martinet.store.accounts import AccountStore
from martinet.store.activity import ActivityStore
from martinet.store.callbacks import CallbackStore
from martinet.store.database import Database
from martinet.store.group_prices import GroupMixStore
from martinet.store.messages import MessageStore
from martinet.store.opt_outs import OptOutStore

__all__ = ["CONSOLE_PREFIX", "console_door", "with_console_secret"]


def with_console_secret(settings: Settings) -> Settings:
    """The settings with a console secret key: the configured one, else a random one made now.

    `martinet serve` calls it before starting its HTTP workers, so that they all sign and read the same cookies.
    """
    if settings.console.secret_key:
        return settings
    console = settings.console.model_copy(update={"secret_key": secrets.token_urlsafe(32)})
    return settings.model_copy(update={"console": console})


def sign_in_links(settings: Settings, db: Database) -> SignInLinks:
    return SignInLinks(AccountStore(db, now_ms), settings.console.secret_key, settings.console.link_minutes * 60)


def console_door(
    settings: Settings,
    db: Database,
    sends: SendService,
    reports: ReportService,
    auth: Authenticator,
    router: Router,
    contacts: ContactService,
    resellers: ResellerService,
) -> ConsoleDoor:
    """The console on the same send, report, authentication, address book and reseller services as the worker's
    other doors."""
    settings = with_console_secret(settings)
    accounts = AccountStore(db, now_ms)
    url_check = CallbackUrlCheck(allow_private_networks=settings.callbacks.allow_private_networks)
    readiness = Readiness(db, settings, f"{settings.engine.node or socket.gethostname()}:{os.getpid()}:console"[:64])
    services = ConsoleServices(
        sends=sends,
        reports=reports,
        messages=MessageStore(db),
        accounts=accounts,
        account_admin=AccountService(accounts, settings.accounts, url_check),
        keys=KeyService(accounts),
        callbacks=CallbackStore(db, now_ms),
        opt_outs=OptOutStore(db, now_ms),
        activity=ActivityStore(db),
        links=sign_in_links(settings, db),
        auth=auth,
        gateway_status=functools.partial(gather, db, settings, readiness),
        connector_figures=connector_figures,
        router=router,
        connectors=[
            ConnectorLimits(
                c.name,
                c.type,
                c.throughput if isinstance(c, SmppConnectorConfig) else 0.0,
                c.window if isinstance(c, SmppConnectorConfig) else None,
                c.binds if isinstance(c, SmppConnectorConfig) else 1,
            )
            for c in settings.connectors
        ],
        default_lane=str(settings.accounts.lane),
        contacts=contacts,
        resellers=resellers,
        group_mix=GroupMixStore(db),
    )
    console = settings.console
    return ConsoleDoor(
        services,
        ConsoleSettings(
            secret_key=console.secret_key,
            session_hours=console.session_hours,
            operators=frozenset(console.operators),
            max_upload_bytes=settings.http.max_body_bytes,
            max_recipients=settings.http.max_recipients,  # sizes the send form (`max_send_bytes`)
        ),
        tracebacks=logs.Tracebacks(time.monotonic),
    )
