"""The reseller's pages: an account's sub-accounts (create, delete, credit transfers, a sub-account's callback
settings and limits), its ledger (filtered by date, exported as CSV), its daily usage and its sender IDs.

Every rule is `ResellerService`'s: who manages whom, which transfers are allowed, who approves a sender. The
pages only turn the service's refusals into form errors; an account the signed-in one does not manage is "not
found" (404), exactly like an unknown one, whether it is named in the URL or in a form.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from martinet.api.console.callback_settings import save_callback_settings
from martinet.api.console.context import PREFIX, Ctx, PageHost, attachment
from martinet.api.console.refusals import labelled, settings_problem
from martinet.domain.account_rules import AppliedLimits, limits_text
from martinet.domain.credits import format_credits, to_milli
from martinet.domain.csv_records import spreadsheet_cell
from martinet.domain.resources import STATUS_VALUES
from martinet.services.accounts import InvalidAccountSetting
from martinet.services.resellers import InvalidField, NotAllowed, NotManaged
from martinet.store.account_tree import AccountClosed, HasSubAccounts, TreeAccount
from martinet.store.accounts import KEEP, InsufficientCredit, Keep, LoginTaken
from martinet.store.senders import APPROVED, REFUSED

PAGE = 50
CSV_MAX = 100_000
#: The service's parameter names → the console's field labels.
_LABELS = {
    "newPseudo": "Login",
    "newPass": "Password",
    "amount": "Amount",
    "reference": "Reference",
    "to": "To",
    "from": "From",
    "emetteur": "Sender ID",
    "status": "Decision",
    "rateLimit": "Rate limit (sends/s)",
    "lanes": "Lanes allowed",
    "countries": "Countries allowed",
    "senderPolicy": "Sender policy",
    "limits": "Limits",
}
#: The limits form's fields, in `ResellerService.set_limits`'s order.
_LIMIT_FIELDS = ("rate_limit", "lanes", "countries", "sender_policy")


class FormProblem(Exception):
    """A form value the page refuses, with the HTTP status of the answer."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def routes(door: PageHost) -> list[Route]:
    # --- Sub-accounts and transfers ---

    async def accounts(ctx: Ctx) -> Response:
        raw = ctx.request.path_params.get("account_id")
        try:
            target = await _target(ctx, raw)
        except NotManaged:
            return door.error(ctx, 404, "No such account.")
        problem, status, form = None, 200, {}
        if ctx.request.method == "POST":
            try:
                note = await _account_action(ctx, target)
            except NotManaged:
                return door.error(ctx, 404, "No such account.")
            except FormProblem as exc:
                problem, status, form = exc.message, exc.status, ctx.form
            else:
                here = f"{PREFIX}/accounts" + (f"/{target.id}" if raw is not None else "")
                return RedirectResponse(f"{here}?note={note}", 303)
            target = await _target(ctx, raw)
        children = await ctx.services.resellers.subaccounts(ctx.me, target.id)
        own = target.id == ctx.me.id
        values = {
            "target": target,
            "own": own,
            # A sub-account's callback settings, which its page lets the accounts above it change; an account's
            # own are on its Callbacks page.
            "settings": None if own else await ctx.services.resellers.managed_settings(ctx.me, target.id),
            "typed": form if form.get("action") == "webhooks" else {},
            # Its limits, set from above only: never on an account's own page.
            "limits": None if own else _limits_shown(target, form),
            # What holds once the limits above are added, on every page: an account learns why a send is refused.
            "applied": _applied_shown(await ctx.services.resellers.applies(target)),
            "children": children,
            "open_children": [c for c in children if c.closed_at is None],
            "problem": problem,
            "note": _note(ctx),
            "form": form,
            "base": f"{PREFIX}/accounts" + (f"/{target.id}" if raw is not None else ""),
            "account_query": _account_query(ctx, target),
        }
        return door.render(ctx, "subaccounts.html", values, status)

    # --- Ledger and usage ---

    async def ledger(ctx: Ctx) -> Response:
        try:
            target = await _target(ctx, ctx.request.query_params.get("account"))
        except NotManaged:
            return door.error(ctx, 404, "No such account.")
        filters, since, until, problem = _ledger_filter(ctx)
        offset = _int(ctx.request.query_params.get("offset"), 0)
        rows = []
        if problem is None:
            rows = await ctx.services.resellers.ledger(
                ctx.me, target.id, since=since, until=until, offset=offset, limit=PAGE + 1
            )
        query = urlencode({**_account_params(ctx, target), **{k: v for k, v in filters.items() if v}})
        values = {
            "target": target,
            "rows": rows[:PAGE],
            "more": len(rows) > PAGE,
            "offset": offset,
            "page": PAGE,
            "filters": filters,
            "problem": problem,
            "query": query,
            "account_query": _account_query(ctx, target),
        }
        return door.render(ctx, "ledger.html", values, 422 if problem else 200)

    async def ledger_csv(ctx: Ctx) -> Response:
        try:
            target = await _target(ctx, ctx.request.query_params.get("account"))
        except NotManaged:
            return door.error(ctx, 404, "No such account.")
        _filters, since, until, problem = _ledger_filter(ctx)
        if problem is not None:
            return door.error(ctx, 400, problem)
        resellers, me = ctx.services.resellers, ctx.me

        async def rows() -> AsyncIterator[str]:
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\r\n")
            writer.writerow(["id", "at", "reason", "amount", "balance_after", "reference", "counterparty", "note"])
            offset = 0
            while offset < CSV_MAX:
                page = await resellers.ledger(me, target.id, since=since, until=until, offset=offset, limit=1000)
                for e in page:
                    writer.writerow(
                        [
                            e.id,
                            ctx.when(e.at),
                            e.reason,
                            format_credits(e.amount),
                            format_credits(e.balance_after),
                            spreadsheet_cell(e.send_id or e.reference or ""),
                            e.counterparty or "",
                            spreadsheet_cell(e.note or ""),
                        ]
                    )
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
                if len(page) < 1000:
                    break
                offset += 1000

        return StreamingResponse(
            rows(),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": attachment(f"ledger-{target.login}.csv")},
        )

    async def usage(ctx: Ctx) -> Response:
        try:
            target = await _target(ctx, ctx.request.query_params.get("account"))
        except NotManaged:
            return door.error(ctx, 404, "No such account.")
        query = ctx.request.query_params
        today = datetime.now(ZoneInfo(target.timezone)).date()
        filters = {"from": (query.get("from") or "").strip(), "to": (query.get("to") or "").strip()}
        problem, days = None, []
        try:
            first = _day(ctx, filters["from"], "From") if filters["from"] else today - timedelta(days=29)
            last = _day(ctx, filters["to"], "To") if filters["to"] else today
            days = await ctx.services.resellers.usage(ctx.me, target.id, first, last)
        except FormProblem as exc:
            problem = exc.message
        except InvalidField as exc:
            problem = _field_problem(ctx, exc)
        else:
            filters = {"from": first.isoformat(), "to": last.isoformat()}
        statuses = [s for s in STATUS_VALUES if any(s in d.messages for d in days)]
        reasons = sorted({reason for d in days for reason in d.movements})
        values = {
            "target": target,
            "days": list(reversed(days)),
            "statuses": statuses,
            "reasons": reasons,
            "totals": {
                "messages": {s: sum(d.messages.get(s, 0) for d in days) for s in statuses},
                "parts": sum(sum(d.parts.values()) for d in days),
                "cost": sum(d.cost for d in days),
                "movements": {r: sum(d.movements.get(r, 0) for d in days) for r in reasons},
            },
            "filters": filters,
            "problem": problem,
            "account_query": _account_query(ctx, target),
        }
        return door.render(ctx, "usage.html", values, 422 if problem else 200)

    # --- Sender IDs ---

    async def senders(ctx: Ctx) -> Response:
        raw = ctx.form.get("account") if ctx.request.method == "POST" else ctx.request.query_params.get("account")
        try:
            target = await _target(ctx, raw)
        except NotManaged:
            return door.error(ctx, 404, "No such account.")
        resellers = ctx.services.resellers
        problem, status = None, 200
        if ctx.request.method == "POST":
            action, sender = ctx.form.get("action"), ctx.form.get("sender", "").strip()
            try:
                if action in (APPROVED, REFUSED):
                    await resellers.decide_sender(ctx.me, target.id, sender, action)
                else:
                    await resellers.request_sender(ctx.me, target.id, sender)
            except InvalidField as exc:
                problem, status = _field_problem(ctx, exc), 422
            except NotAllowed:
                problem, status = ctx.t("Only an account above this one decides on its senders."), 403
            except AccountClosed:
                problem, status = ctx.t("The account is deleted."), 409
            except NotManaged:
                return door.error(ctx, 404, "No such account.")
            else:
                return RedirectResponse(f"{PREFIX}/senders?{urlencode(_account_params(ctx, target))}", 303)
        values = {
            "target": target,
            "own": target.id == ctx.me.id,
            "rows": await resellers.senders(ctx.me, target.id),
            "problem": problem,
            "account_query": _account_query(ctx, target),
            "account_field": "" if target.id == ctx.me.id else str(target.id),
            "sender": ctx.form.get("sender", "") if problem else "",
        }
        return door.render(ctx, "senders.html", values, status)

    page = door.page
    return [
        Route(PREFIX + "/accounts", page(accounts), methods=["GET", "POST"]),
        Route(PREFIX + "/accounts/{account_id}", page(accounts), methods=["GET", "POST"]),
        Route(PREFIX + "/ledger", page(ledger)),
        Route(PREFIX + "/ledger.csv", page(ledger_csv)),
        Route(PREFIX + "/usage", page(usage)),
        Route(PREFIX + "/senders", page(senders), methods=["GET", "POST"]),
    ]


# --- Helpers ---


async def _target(ctx: Ctx, raw: str | None) -> TreeAccount:
    """The account a page is about: the signed-in one (no id), or one it manages; raises NotManaged."""
    if raw is None or raw == "":
        return await ctx.services.resellers.account(ctx.me)
    account_id = _int(raw, -1)
    if account_id < 0:
        raise NotManaged(raw)
    return await ctx.services.resellers.account(ctx.me, account_id)


async def _account_action(ctx: Ctx, target: TreeAccount) -> str:
    """Do what the sub-accounts page's form asks of `target` and its sub-accounts; returns the note to show.
    Raises FormProblem, or NotManaged for an account the signed-in one does not manage."""
    resellers, me, form = ctx.services.resellers, ctx.me, ctx.form
    action = form.get("action")
    try:
        if action == "webhooks":
            if target.closed_at is not None:
                raise AccountClosed(target.id)
            await save_callback_settings(ctx, target.login)
            return "saved"
        if action == "limits":
            await _save_limits(ctx, target)
            return "limits"
        if action == "create":
            password = form.get("password", "")
            await resellers.create_subaccount(me, form.get("login", "").strip(), password or None, parent_id=target.id)
            return "created"
        child = await _target(ctx, form.get("child"))
        if child.parent_id != target.id:
            raise NotManaged(child.id)
        if action == "delete":
            await resellers.delete_subaccount(me, child)
            return "deleted"
        if action == "transfer":
            amount = _milli(ctx, form.get("amount", ""))
            reference = form.get("reference", "").strip() or None
            giver, receiver = (target, child) if form.get("direction") != "take" else (child, target)
            await resellers.transfer(me, receiver, amount, giver=giver, reference=reference)
            return "moved"
    except InvalidField as exc:
        raise FormProblem(_field_problem(ctx, exc)) from None
    except InvalidAccountSetting as exc:
        raise FormProblem(settings_problem(ctx, exc)) from None
    except LoginTaken:
        raise FormProblem(ctx.t("Login: an account of this name exists already")) from None
    except NotAllowed:
        raise FormProblem(ctx.t("Only an account above this one may do this."), 403) from None
    except InsufficientCredit:
        raise FormProblem(ctx.t("Amount: the giving account's balance does not cover the transfer"), 402) from None
    except AccountClosed:
        raise FormProblem(ctx.t("The account is deleted.")) from None
    except HasSubAccounts:
        raise FormProblem(ctx.t("Delete its sub-accounts first.")) from None
    raise FormProblem(ctx.t("Unknown action."), 400)


async def _save_limits(ctx: Ctx, target: TreeAccount) -> None:
    """Save the limits form on `target`, its fields read as the REST door reads `PATCH /sms/v1/accounts/{id}`:
    a field the form does not carry keeps its limit, an empty one removes it (no limit of its own). Who may set
    them and which values hold is `ResellerService.set_limits`'s to say (raises InvalidField, NotAllowed,
    AccountClosed, saving nothing)."""
    form = ctx.form

    def text(name: str) -> str | Keep | None:
        return (form[name].strip() or None) if name in form else KEEP

    rate = form.get("rate_limit")
    policy = form.get("sender_policy")
    await ctx.services.resellers.set_limits(
        ctx.me,
        target.id,
        rate_limit=KEEP if rate is None else _rate(ctx, rate),
        lanes=text("lanes"),
        countries=text("countries"),
        sender_policy=KEEP if policy is None else policy.strip() or "any",
    )


def _rate(ctx: Ctx, raw: str) -> float | None:
    """A rate limit as typed (`0,5` as `0.5`; empty: none of its own). Only whether it is a number is the form's
    to check: a negative or infinite one goes to the service, which refuses it in its own words."""
    text = raw.strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise FormProblem(labelled(ctx, _LABELS["rateLimit"], "a number, e.g. 5 or 0.5")) from None


def _limits_shown(target: TreeAccount, form: dict[str, str]) -> dict[str, dict[str, str]]:
    """The limits stored on `target` (`saved`), and what its limits form shows (`fields`): what a refused form
    sent, as it was typed, or else the stored limits."""
    saved = {
        "rate_limit": "" if target.rate_limit is None else str(target.rate_limit).removesuffix(".0"),
        "lanes": target.allowed_lanes or "",
        "countries": target.allowed_countries or "",
        "sender_policy": target.sender_policy,
    }
    refused = form.get("action") == "limits"
    return {"saved": saved, "fields": {n: form.get(n, saved[n]) if refused else saved[n] for n in _LIMIT_FIELDS}}


def _applied_shown(applied: AppliedLimits) -> dict[str, str]:
    """The limits that hold, as the limits form writes them ("" where none: every lane, every country)."""
    return {
        "rate_limit": "" if applied.rate_limit <= 0 else f"{applied.rate_limit:g}",
        "lanes": limits_text(applied.lanes) or "",
        "countries": limits_text(applied.countries) or "",
        "sender_policy": applied.sender_policy,
    }


def _field_problem(ctx: Ctx, exc: InvalidField) -> str:
    return labelled(ctx, _LABELS.get(exc.name, exc.name), exc.problem)


def _milli(ctx: Ctx, raw: str) -> int:
    try:
        value = Decimal(raw.strip().replace(",", "."))
        if not value.is_finite() or abs(value) > Decimal(10) ** 9:
            raise InvalidOperation
        return to_milli(value)
    except (InvalidOperation, ValueError):
        raise FormProblem(ctx.t("Amount: a number of credits with at most three decimals")) from None


def _ledger_filter(ctx: Ctx) -> tuple[dict[str, str], int | None, int | None, str | None]:
    """The ledger's date filter (days in the signed-in account's time zone, both included) as [since, until)."""
    query = ctx.request.query_params
    filters = {name: (query.get(name) or "").strip() for name in ("since", "until")}
    zone = ZoneInfo(ctx.me.timezone)
    bounds: dict[str, int | None] = {"since": None, "until": None}
    for name, raw in filters.items():
        if not raw:
            continue
        try:
            day = _day(ctx, raw, "From" if name == "since" else "To")
        except FormProblem as exc:
            return filters, None, None, exc.message
        if name == "until":
            if day == date.max:  # the day after it is no date: refused as the usage page refuses it
                return filters, None, None, labelled(ctx, "To", "before 9999-12-31")
            day += timedelta(days=1)
        bounds[name] = int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp() * 1000)
    return filters, bounds["since"], bounds["until"], None


def _day(ctx: Ctx, raw: str, label: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise FormProblem(labelled(ctx, label, "a date (YYYY-MM-DD)")) from None


def _account_params(ctx: Ctx, target: TreeAccount) -> dict[str, str]:
    return {} if target.id == ctx.me.id else {"account": str(target.id)}


def _account_query(ctx: Ctx, target: TreeAccount) -> str:
    params = _account_params(ctx, target)
    return "?" + urlencode(params) if params else ""


def _note(ctx: Ctx) -> str | None:
    notes = {
        "created": "The sub-account is created.",
        "deleted": "The sub-account is deleted; its credits went back to its parent.",
        "moved": "The credits are moved.",
        "saved": "The callback settings are saved.",
        "limits": "The limits are saved.",
    }
    note = notes.get(ctx.request.query_params.get("note") or "")
    return ctx.t(note) if note else None


def _int(raw: str | None, default: int) -> int:
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        return default
    return int(raw)
