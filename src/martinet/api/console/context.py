"""What every console page is given: the request as a page sees it (`Ctx`), the services and settings the
console runs on. Apart from `app.py` so that the page modules import it without importing the door that mounts
them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

from martinet.api.console.i18n import translator
from martinet.api.console.sessions import Session
from martinet.connector_figures import ConnectorFigures
from martinet.domain.routing import Router
from martinet.domain.valueclass import valueclass
from martinet.services.accept import SendService
from martinet.services.accounts import AccountService
from martinet.services.auth import Authenticator
from martinet.services.contacts import ContactService
from martinet.services.keys import KeyService
from martinet.services.reports import ReportService
from martinet.services.resellers import ResellerService
from martinet.services.sign_in_links import SignInLinks
from martinet.store.accounts import Account, AccountStore
from martinet.store.activity import ActivityStore
from martinet.store.callbacks import CallbackStore
from martinet.store.group_prices import GroupMixStore
from martinet.store.messages import MessageStore
from martinet.store.opt_outs import OptOutStore

PREFIX = "/console"
#: Headers of every console answer: no framing, no guessing of types, no sending the URL (sign-in links) away.
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


@valueclass
class ConnectorLimits:
    """What the configuration says of a connector, beside what the engines report of it."""

    name: str
    kind: str  # smpp, sandbox
    throughput: float  # parts/s for the connector; 0: no limit
    window: int | None  # unacknowledged requests per bind
    binds: int


@valueclass
class ConsoleServices:
    sends: SendService
    reports: ReportService
    messages: MessageStore
    accounts: AccountStore
    account_admin: AccountService
    keys: KeyService
    callbacks: CallbackStore
    opt_outs: OptOutStore
    activity: ActivityStore
    links: SignInLinks
    auth: Authenticator
    gateway_status: Callable[[], Awaitable[dict[str, Any]]]
    connector_figures: Callable[[], Mapping[str, ConnectorFigures]]
    router: Router
    connectors: Sequence[ConnectorLimits]
    default_lane: str
    contacts: ContactService
    resellers: ResellerService
    group_mix: GroupMixStore


#: Bytes a send form may take per recipient it can name: a number as a browser posts it (`%2B33612345678%0D%0A`,
#: 20 bytes) with room for spaces and dots written in it.
SEND_FORM_BYTES_PER_RECIPIENT = 32


@valueclass
class ConsoleSettings:
    secret_key: str
    session_hours: float = 12.0
    operators: frozenset[str] = frozenset()
    max_body_bytes: int = 1024 * 1024  # every form but the send form's and a file upload
    max_upload_bytes: int = 16 * 1024 * 1024  # a file upload (a CSV import), read whole
    max_recipients: int = 100_000  # `http.max_recipients`: what the send form must be able to carry

    @property
    def max_send_bytes(self) -> int:
        """How large the send form (and the live counter, which posts the same form) may be: room for
        `max_recipients` numbers as a browser posts them, beside the 1 MiB of the other forms. Sized from the
        send limit rather than fixed, so that a paste of as many numbers as a send may name reaches the send
        service (which counts them) instead of being cut at the door."""
        return self.max_body_bytes + SEND_FORM_BYTES_PER_RECIPIENT * self.max_recipients


class FormTooLarge(Exception):
    pass


def attachment(filename: str) -> str:
    """The `Content-Disposition` of a download named `filename`, which may hold a client's own text (a login).

    HTTP header values are Latin-1 at most, and a quote or a backslash would end or escape the quoted name: a
    login such as `客户一` used to make the answer fail (a 500). So the name is given twice (RFC 6266): `filename`
    in ASCII (anything else, and `%` that some browsers decode, become `_`) for old clients, and `filename*` as
    UTF-8, percent-encoded (RFC 8187), which browsers prefer. Quotes, backslashes and control or other
    unprintable characters are dropped from both.
    """
    kept = "".join(c for c in filename if c.isprintable() and c not in '"\\')
    fallback = "".join(c if c.isascii() and c != "%" else "_" for c in kept)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(kept, safe='')}"


@dataclass
class Ctx:
    """One request as a page sees it."""

    request: Request
    services: ConsoleServices
    session: Session
    account: Account | None
    operator: bool
    language: str
    cookie: str | None = None  # a Set-Cookie to send with the answer (a new session)
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # the files of a multipart form, by field name

    @property
    def t(self) -> Callable[..., str]:
        return translator(self.language)

    @property
    def me(self) -> Account:
        if self.account is None:  # pragma: no cover - the routes of signed-in pages check first
            raise RuntimeError("not signed in")
        return self.account

    @property
    def htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true"

    def when(self, ms: int | None) -> str:
        """A time in the account's time zone, as people read it."""
        if ms is None:
            return ""
        zone = ZoneInfo(self.account.timezone if self.account else "UTC")
        return datetime.fromtimestamp(ms / 1000, zone).strftime("%Y-%m-%d %H:%M:%S")


Page = Callable[[Ctx], Awaitable[Response]]


class PageHost(Protocol):
    """What the page modules need of the door that mounts them (`app.ConsoleDoor`): wrapping a handler into an
    endpoint, rendering, errors, signing in and out. A protocol, so that pages never import the door."""

    settings: ConsoleSettings
    services: ConsoleServices

    def page(
        self, handler: Page, *, signed_in: bool = True, operator: bool = False, too_large: Page | None = None
    ) -> Callable[[Request], Any]: ...

    def render(
        self, ctx: Ctx, template: str, values: Mapping[str, Any] | None = None, status: int = 200
    ) -> Response: ...

    def error(self, ctx: Ctx, status: int, message: str) -> Response: ...

    async def sign_in(self, ctx: Ctx, account: Account) -> Response: ...

    async def sign_out(self, ctx: Ctx) -> Response: ...
