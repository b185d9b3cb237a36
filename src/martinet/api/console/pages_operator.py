"""The operator's pages: connectors, queues, engines, routes (with "explain this number") and accounts.

They show what `martinet status`, `martinet routes explain` and `/metrics` already compute (the gateway status,
the router's explanation, the metrics every process writes) and change accounts through the account service,
as `martinet account` does. Only the accounts named in `console.operators` see them; to anyone else they do
not exist (404).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from starlette.responses import Response
from starlette.routing import Route

from martinet.api.console.context import PREFIX, Ctx, PageHost
from martinet.api.console.refusals import labelled, settings_problem
from martinet.domain.credits import to_milli
from martinet.domain.lanes import Lane
from martinet.domain.recipients import InvalidRecipient, parse_recipients
from martinet.domain.routing import Destination
from martinet.services.accounts import InvalidAccountSetting
from martinet.store.accounts import KEEP, InsufficientCredit, LoginTaken, UnknownAccount

MAX_LOGIN = 50


def routes(door: PageHost) -> list[Route]:
    async def connectors(ctx: Ctx) -> Response:
        status = await ctx.services.gateway_status()
        figures = ctx.services.connector_figures()
        rows = []
        for limits in ctx.services.connectors:
            reported = status.get("connectors", {}).get(limits.name, {})
            rows.append({"limits": limits, "status": reported, "figures": figures.get(limits.name)})
        template = "ops_connectors_rows.html" if ctx.htmx else "ops_connectors.html"
        return door.render(ctx, template, {"rows": rows, "status": status})

    async def queues(ctx: Ctx) -> Response:
        status = await ctx.services.gateway_status()
        by_account = await ctx.services.activity.queue_by_account()
        template = "ops_queues_rows.html" if ctx.htmx else "ops_queues.html"
        return door.render(ctx, template, {"status": status, "by_account": by_account})

    async def engines(ctx: Ctx) -> Response:
        status = await ctx.services.gateway_status()
        template = "ops_engines_rows.html" if ctx.htmx else "ops_engines.html"
        return door.render(ctx, template, {"status": status})

    async def routes_page(ctx: Ctx) -> Response:
        explanation, problem = None, None
        query = ctx.request.query_params
        number = query.get("number", "").strip()
        lane = query.get("lane") or ctx.services.default_lane
        account = query.get("account", "").strip()[:MAX_LOGIN]
        if number:
            parsed = parse_recipients(number[:64])
            if len(parsed) != 1 or isinstance(parsed[0], InvalidRecipient):
                reason = parsed[0].reason if len(parsed) == 1 and isinstance(parsed[0], InvalidRecipient) else ""
                why = f" ({ctx.t(reason)})" if reason else ""
                problem = labelled(ctx, "Number", "give one phone number") + why
            elif lane not in {str(known) for known in Lane}:
                problem = f"{ctx.t('Lane')}: {ctx.t('one of %s', ', '.join(str(known) for known in Lane))}"
            else:
                recipient = parsed[0]
                explanation = ctx.services.router.explain(
                    Destination(recipient.msisdn, recipient.country), lane, account
                )
        values = {
            "routes": ctx.services.router.routes,
            "explanation": explanation,
            "problem": problem,
            "number": number,
            "lane": lane,
            "account": account,
            "lanes": [str(known) for known in Lane],
        }
        template = "ops_explain.html" if ctx.htmx else "ops_routes.html"
        return door.render(ctx, template, values)

    async def accounts(ctx: Ctx) -> Response:
        note, problem, link = None, None, None
        if ctx.request.method == "POST":
            try:
                note, link = await _account_action(ctx)
            except InvalidAccountSetting as exc:
                problem = settings_problem(ctx, exc)
            except _Refused as exc:
                problem = labelled(ctx, exc.label, exc.problem)
            except ValueError as exc:
                problem = str(exc)
            except LoginTaken:
                problem = labelled(ctx, "Login", "taken by another account")
            except UnknownAccount:
                problem = labelled(ctx, "Login", "no such account")
            except InsufficientCredit:
                problem = labelled(ctx, "Amount", "more than the balance")
        lines = await ctx.services.activity.accounts()
        values = {
            "lines": lines,
            "note": note,
            "problem": problem,
            "link": link,
            "lanes": [str(known) for known in Lane],
            "operators": door.settings.operators,
        }
        return door.render(ctx, "ops_accounts.html", values, 422 if problem else 200)

    page = door.page
    return [
        Route(PREFIX + "/ops/connectors", page(connectors, operator=True)),
        Route(PREFIX + "/ops/queues", page(queues, operator=True)),
        Route(PREFIX + "/ops/engines", page(engines, operator=True)),
        Route(PREFIX + "/ops/routes", page(routes_page, operator=True)),
        Route(PREFIX + "/ops/accounts", page(accounts, operator=True), methods=["GET", "POST"]),
    ]


class _Refused(ValueError):
    """A value of the accounts form refused before any service is asked: the field's label and the problem,
    each shown in the page's language."""

    def __init__(self, label: str, problem: str) -> None:
        super().__init__(f"{label}: {problem}")
        self.label = label
        self.problem = problem


_AMOUNT = "a number of credits, e.g. 100 or 12.5"


async def _account_action(ctx: Ctx) -> tuple[str | None, str | None]:
    """Do what the accounts page's form asks; returns a note and a sign-in link URL (when one was made)."""
    form = ctx.form
    admin = ctx.services.account_admin
    login = form.get("login", "").strip()
    if not login or len(login) > MAX_LOGIN:
        raise _Refused("Login", f"1 to {MAX_LOGIN} characters")
    action = form.get("action")
    if action == "create":
        language = form.get("language") or None
        if language not in (None, "fr", "en"):
            raise _Refused("Language", "fr or en")
        await admin.create(
            login,
            credits=_milli(form.get("credits", "") or "0"),
            password=form.get("password") or None,
            lane=form.get("lane") or None,
            language=language,
            sandbox=form.get("sandbox") == "on",
            rate_limit=_rate(form.get("rate_limit", "")),
        )
        return ctx.t("Account %s created.", login), None
    if action == "topup":
        await admin.credit(login, _milli(form.get("amount", "")), "console")
        return ctx.t("Saved."), None
    if action == "update":
        raw_rate = form.get("rate_limit", "").strip()
        await admin.update(
            login,
            lane=form.get("lane") or KEEP,
            sandbox=form.get("sandbox") == "on",
            rate_limit=_rate(raw_rate) if raw_rate else None,
            callback_statuses=form.get("callback_statuses") or KEEP,
        )
        return ctx.t("Saved."), None
    if action == "link":
        token = await ctx.services.links.issue(login)
        base = str(ctx.request.base_url).rstrip("/")
        return ctx.t("One-time sign-in link for %s:", login), f"{base}{PREFIX}/link/{token}"
    raise _Refused("Action", "create, topup, update or link")


def _milli(raw: str) -> int:
    try:
        value = Decimal(raw.strip().replace(",", "."))
    except InvalidOperation:
        raise _Refused("Amount", _AMOUNT) from None
    if not value.is_finite() or abs(value) > Decimal(10) ** 9:
        raise _Refused("Amount", _AMOUNT)
    return to_milli(value)


def _rate(raw: str) -> float | None:
    if not raw.strip():
        return None
    try:
        return float(raw)
    except ValueError:
        problem = "a number of sends per second from 0 to 1,000,000 (0 = unlimited)"
        raise _Refused("Rate limit (sends/s)", problem) from None
