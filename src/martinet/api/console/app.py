"""The web console door: sessions, CSRF, rendering, and the routes of the account and operator pages.

Pages are rendered on the server with Jinja2 and enhanced with htmx (live counter, live statuses, refreshing
operator figures); every page also works as a plain form and link, so a page is usable before its script loads.
Handlers live in `pages_account` and `pages_operator`; they call the same services as the other doors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jinja2
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from martinet import logs
from martinet.api.asgi import BodyTooLarge, ClientGone, Message, Receive, Scope, Send, read_body
from martinet.api.console.context import (
    PREFIX,
    SECURITY_HEADERS,
    ConsoleServices,
    ConsoleSettings,
    Ctx,
    FormTooLarge,
    Page,
)
from martinet.api.console.i18n import browser_language
from martinet.api.console.sessions import COOKIE, SessionCookies, new_session
from martinet.domain.credits import format_credits
from martinet.domain.status import describe
from martinet.store.accounts import Account

_HERE = Path(__file__).parent
log = logging.getLogger(__name__)


class ConsoleDoor:
    def __init__(self, services: ConsoleServices, settings: ConsoleSettings, *, tracebacks: logs.Tracebacks) -> None:
        self.services = services
        self.settings = settings
        self._tracebacks = tracebacks  # which page failures are logged with their traceback
        self.cookies = SessionCookies(settings.secret_key, settings.session_hours * 3600)
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(_HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters["credits"] = format_credits
        from martinet.api.console import (  # they register on this door
            pages_account,
            pages_contacts,
            pages_operator,
            pages_resellers,
        )

        routes: list[BaseRoute] = [
            Route(PREFIX, lambda _r: RedirectResponse(PREFIX + "/", 308)),
            Mount(PREFIX + "/static", StaticFiles(directory=_HERE / "static"), name="static"),
            *pages_account.routes(self),
            *pages_contacts.routes(self),
            *pages_resellers.routes(self),
            *pages_operator.routes(self),
        ]
        self.app = Starlette(routes=routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present and not (
                        name == "cache-control" and scope["path"].startswith(PREFIX + "/static/")
                    ):
                        headers.append((name.encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)

    # --- Building pages ---

    def page(
        self, handler: Page, *, signed_in: bool = True, operator: bool = False, too_large: Page | None = None
    ) -> Callable[[Request], Any]:
        """A Starlette endpoint around `handler`: session, sign-in and role checks, CSRF on POST.

        `too_large`, for the send form: its form may take `ConsoleSettings.max_send_bytes` (room for a send to
        `http.max_recipients` numbers) once signed in, and a larger one is answered by `too_large` (the form
        again, with the reason), not by a bare error page."""

        async def endpoint(request: Request) -> Response:
            try:
                return await self._page(request, handler, signed_in=signed_in, operator=operator, too_large=too_large)
            except Exception as exc:
                return self._failed(request, exc)

        return endpoint

    async def _page(
        self, request: Request, handler: Page, *, signed_in: bool, operator: bool, too_large: Page | None
    ) -> Response:
        session = self.cookies.read(request.cookies.get(COOKIE))
        fresh = session is None
        if session is None:
            session = new_session()
        account = None
        if session.login is not None:
            # One query, as finding the account needs anyway: a deleted account is signed out, and so is a session
            # signed before the account last signed out (its generation is no longer the account's).
            found = await self.services.accounts.console_session(session.login)
            account = found[0] if found is not None and found[1] == session.generation else None
            if account is None:
                session, fresh = new_session(), True
        language = account.language if account else browser_language(request.headers.get("accept-language", ""))
        ctx = Ctx(
            request,
            self.services,
            session,
            account,
            account is not None and account.login in self.settings.operators,
            language if language in ("fr", "en") else "fr",
        )
        if fresh:
            ctx.cookie = self.cookies.set_cookie(session, secure=self.secure(request))
        if request.method == "POST":
            try:
                if _is_multipart(request):
                    ctx.form, ctx.files = await read_upload(request, self.settings.max_upload_bytes)
                else:
                    # Only a signed-in session may post the send form's larger body: a stranger's form is read
                    # (before its CSRF token can be checked) up to the 1 MiB of every other form.
                    large = too_large is not None and account is not None
                    limit = self.settings.max_send_bytes if large else self.settings.max_body_bytes
                    ctx.form = await read_form(request, limit)
            except FormTooLarge:
                if too_large is not None and account is not None and not _is_multipart(request):
                    return self.with_cookie(ctx, await too_large(ctx))  # nothing of the form is acted on
                return self.with_cookie(ctx, self.error(ctx, 413, "The form is too large."))
            except MultiPartException:
                return self.with_cookie(ctx, self.error(ctx, 400, "The form could not be read."))
            except ClientGone:  # a cut form is never acted on; the answer reaches nobody
                return Response(status_code=400)
            token = ctx.form.get("csrf") or request.headers.get("x-csrf-token")
            if fresh or not session.csrf_matches(token):
                answer = self.render(ctx, "error.html", {"message": ctx.t("The form expired; please try again.")})
                answer.status_code = 403
                return self.with_cookie(ctx, answer)
        if signed_in and account is None:
            target = PREFIX + "/login"
            if ctx.htmx:
                return self.with_cookie(ctx, Response(status_code=204, headers={"hx-redirect": target}))
            return self.with_cookie(ctx, RedirectResponse(target, 303))
        if operator and not ctx.operator:
            return self.with_cookie(ctx, self.error(ctx, 404, "Page not found."))
        return self.with_cookie(ctx, await handler(ctx))

    def _failed(self, request: Request, exc: Exception) -> Response:
        """A page the gateway failed to make (its store unreachable): an error page in the console's look, in
        the browser's language (the account may not be known), logged as the API doors log their failures."""
        log.error(
            "console page failed: %s %s",
            request.method,
            request.url.path,
            extra={"error": logs.failure(exc)},
            exc_info=self._tracebacks.of(exc),
        )
        language = browser_language(request.headers.get("accept-language", ""))
        ctx = Ctx(request, self.services, new_session(), None, False, language)
        return self.error(ctx, 500, "The console failed to answer; please try again in a moment.")

    def secure(self, request: Request) -> bool:
        return request.url.scheme == "https"

    def with_cookie(self, ctx: Ctx, response: Response) -> Response:
        if ctx.cookie is not None:
            response.headers.append("set-cookie", ctx.cookie)
        return response

    async def sign_in(self, ctx: Ctx, account: Account) -> Response:
        """A new session (new CSRF token) for `account`, at its current session generation, and off to the
        dashboard."""
        generation = await self.services.accounts.console_generation(account.id)
        session = new_session(account.login, generation)
        ctx.cookie = self.cookies.set_cookie(session, secure=self.secure(ctx.request))
        return RedirectResponse(PREFIX + "/", 303)

    async def sign_out(self, ctx: Ctx) -> Response:
        """End the account's console sessions on the server, not only in this browser: clearing the cookie
        alone would leave any copy of it (and its CSRF token) valid until it expires. Every session of the
        account ends, on every browser: the server keeps one generation per account, not a list of sessions."""
        if ctx.account is not None:
            await self.services.accounts.end_console_sessions(ctx.account.id)
        ctx.cookie = self.cookies.clear_cookie(secure=self.secure(ctx.request))
        return RedirectResponse(PREFIX + "/login", 303)

    def render(self, ctx: Ctx, template: str, values: Mapping[str, Any] | None = None, status: int = 200) -> Response:
        context = {
            "t": ctx.t,
            "ctx": ctx,
            "me": ctx.account,
            "operator": ctx.operator,
            "language": ctx.language,
            "csrf": ctx.session.csrf,
            "prefix": PREFIX,
            "path": ctx.request.url.path,
            "when": ctx.when,
            "describe": lambda code: describe(int(code), ctx.language),
            **(values or {}),
        }
        return HTMLResponse(self.templates.get_template(template).render(context), status_code=status)

    def error(self, ctx: Ctx, status: int, message: str) -> Response:
        return self.render(ctx, "error.html", {"message": ctx.t(message)}, status)


async def read_form(request: Request, limit: int) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body, read up to `limit` bytes (every form but a file upload); a
    repeated field keeps its last value, except that fields named `…[]` are joined by newlines."""
    body = (await _read_body(request, limit)).decode("utf-8", errors="replace")
    form: dict[str, str] = {}
    for name, value in parse_qsl(body, keep_blank_values=True):
        _put(form, name, value)
    return form


async def read_upload(request: Request, limit: int) -> tuple[dict[str, str], dict[str, bytes]]:
    """A `multipart/form-data` body (a file upload), read up to `limit` bytes: its fields as `read_form` gives
    them, and its files by field name. The whole body is read first, so the limit holds whatever the parts say;
    the console's uploads (a CSV import) are handed whole to their service anyway."""
    body = await _read_body(request, limit)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    form: dict[str, str] = {}
    files: dict[str, bytes] = {}
    try:
        parsed = await Request(request.scope, receive).form(max_files=4, max_fields=100)
    except HTTPException as exc:  # Starlette's answer to a MultiPartException inside an application
        raise MultiPartException(str(exc.detail)) from None
    try:
        for name, value in parsed.multi_items():
            if isinstance(value, UploadFile):
                files[name] = await value.read()
            else:
                _put(form, name, value)
    finally:
        await parsed.close()
    return form, files


def _is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


async def _read_body(request: Request, limit: int) -> bytes:
    try:
        return await read_body(request.receive, dict(request.scope["headers"]), limit)
    except BodyTooLarge:
        raise FormTooLarge from None


def _put(form: dict[str, str], name: str, value: str) -> None:
    form[name] = f"{form[name]}\n{value}" if name in form and name.endswith("[]") else value
