"""The account holder's pages: sign-in, dashboard, send (with the live counter), history and a send's page, CSV
export, replies, opt-outs, API keys and callbacks.

Every query names the signed-in account: a send, message, key or callback of another account is "not found",
exactly like an unknown one.
"""

from __future__ import annotations

import csv
import io
import statistics
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from martinet.api.console.callback_settings import save_callback_settings
from martinet.api.console.context import PREFIX, Ctx, PageHost
from martinet.api.console.counter import GroupCounter
from martinet.api.console.refusals import labelled, settings_problem
from martinet.domain.credits import format_credits
from martinet.domain.csv_records import spreadsheet_cell
from martinet.domain.keys import InvalidKeyLimit
from martinet.domain.lanes import Lane
from martinet.domain.recipients import InvalidRecipient, Recipient, parse_recipient, parse_recipients
from martinet.domain.status import FINAL_STATES, State
from martinet.domain.text import NonGsmPolicy, is_gsm
from martinet.services.accept import MAX_PARTS, InvalidParameter, NotEnoughCredit, SendRequest
from martinet.services.accounts import InvalidAccountSetting
from martinet.services.auth import TooManyFailures
from martinet.services.rate_limits import RateLimited
from martinet.services.sign_in_links import LINK_LABEL
from martinet.store.callbacks import FAILED
from martinet.store.messages import MessageFilter

HOUR, DAY = 3600 * 1000, 24 * 3600 * 1000
PAGE = 50
#: Seconds a moving send's page waits before asking for changes: the first time and after a change, and at most
#: (the wait doubles while nothing changes).
POLL_FIRST, POLL_LAST = 1, 30
#: Rows a CSV export holds at most (read page by page, written as they come).
CSV_MAX = 100_000
#: Numbers one opt-out form adds or removes at most (more are refused, never cut).
OPT_OUT_MAX = 1000
#: A send form larger than the console reads (`ConsoleSettings.max_send_bytes`), under the Recipients label.
TOO_LARGE = "the form is larger than %s MiB; send to at most %s numbers at a time"
STATES = [str(state) for state in State]
#: The three series of the charts: final success, still moving, and every kind of failure.
OUTCOME = {
    "delivered": "delivered",
    "scheduled": "pending",
    "queued": "pending",
    "submitting": "pending",
    "sent": "pending",
    "undelivered": "failed",
    "failed": "failed",
    "expired": "failed",
    "cancelled": "failed",
}
#: The send form's label of each field a refusal of the send service names (`InvalidParameter.name`).
_FORM_FIELDS = {
    "recipients": "Recipients",
    "groups": "Contact groups",
    "sender": "Sender",
    "text": "Text",
    "stop": "Text",
    "scheduled_at": "Schedule",
    "ref_client": "Reference",
    "lane": "Lane",
}


def routes(door: PageHost) -> list[Route]:
    group_counter = GroupCounter(door.services.group_mix)

    async def login_page(ctx: Ctx) -> Response:
        if ctx.account is not None and ctx.request.method == "GET":
            return RedirectResponse(PREFIX + "/", 303)
        if ctx.request.method == "GET":
            return door.render(ctx, "login.html", {"error": None, "login": ""})
        login, password = ctx.form.get("login", "").strip(), ctx.form.get("password", "")
        client = ctx.request.client
        try:
            caller = await ctx.services.auth.by_password(login, password, client.host if client else None)
        except TooManyFailures as exc:
            error = ctx.t("Too many failed attempts; try again in %s s.", max(1, round(exc.retry_after)))
            return door.render(ctx, "login.html", {"error": error, "login": login}, 429)
        if caller is None:
            return door.render(ctx, "login.html", {"error": ctx.t("Wrong login or password."), "login": login}, 401)
        return await door.sign_in(ctx, caller.account)

    async def logout(ctx: Ctx) -> Response:
        return await door.sign_out(ctx)

    async def link_page(ctx: Ctx) -> Response:
        """A sign-in link opens a page with a button: a link scanner that fetches URLs does not use it up."""
        token = ctx.request.path_params["token"]
        return door.render(ctx, "link.html", {"token": token, "error": None})

    async def link_redeem(ctx: Ctx) -> Response:
        account = await ctx.services.links.redeem(ctx.form.get("token", ""))
        if account is None:
            error = ctx.t("This sign-in link is invalid, expired or already used.")
            return door.render(ctx, "link.html", {"token": "", "error": error}, 403)
        return await door.sign_in(ctx, account)

    # --- Dashboard ---

    async def dashboard(ctx: Ctx) -> Response:
        return door.render(ctx, "dashboard.html", await _figures(ctx))

    async def dashboard_figures(ctx: Ctx) -> Response:
        return door.render(ctx, "dashboard_figures.html", await _figures(ctx))

    async def dashboard_series(ctx: Ctx) -> Response:
        me = ctx.me
        now = int(time.time() * 1000)
        offset = _offset_ms(me.timezone)
        hourly = await ctx.services.activity.series(me.id, now - 24 * HOUR, HOUR, offset)
        daily = await ctx.services.activity.series(me.id, now - 30 * DAY, DAY, offset)
        t = ctx.t
        return JSONResponse(
            {
                "labels": {key: t(key) for key in ("delivered", "pending", "failed")},
                "hourly": _chart(hourly, now - 23 * HOUR, 24, HOUR, offset, me.timezone, "%H:00"),
                "daily": _chart(daily, now - 29 * DAY, 30, DAY, offset, me.timezone, "%d/%m"),
            }
        )

    # --- Send ---

    async def send_form(ctx: Ctx) -> Response:
        group = ctx.request.query_params.get("group", "")
        return door.render(ctx, "send.html", await _send_values(ctx, {"groups[]": group}, None))

    async def send_submit(ctx: Ctx) -> Response:
        form = ctx.form
        try:
            request = _send_request(ctx, form)
            accepted = await ctx.services.sends.accept(request)
        except InvalidParameter as exc:
            return door.render(ctx, "send.html", await _send_values(ctx, form, _problem(ctx, exc)), 422)
        except NotEnoughCredit as exc:
            message = ctx.t("the send costs %s credits, more than the balance", format_credits(exc.cost))
            return door.render(ctx, "send.html", await _send_values(ctx, form, message), 402)
        except RateLimited:
            message = ctx.t("too many sends per second; retry")
            return door.render(ctx, "send.html", await _send_values(ctx, form, message), 429)
        return RedirectResponse(f"{PREFIX}/sends/{accepted.send_id}", 303)

    def _too_large(ctx: Ctx) -> str:
        megabytes = f"{door.settings.max_send_bytes / (1024 * 1024):.1f}"
        return f"{ctx.t('Recipients')}: {ctx.t(TOO_LARGE, megabytes, door.settings.max_recipients)}"

    async def send_too_large(ctx: Ctx) -> Response:
        """A send form past `max_send_bytes`: the form again, saying why and naming the limit (413). Its body
        was not read past the limit, so nothing typed can be shown again, and nothing is sent."""
        return door.render(ctx, "send.html", await _send_values(ctx, {}, _too_large(ctx)), 413)

    async def counter_too_large(ctx: Ctx) -> Response:
        """The live counter of a form past `max_send_bytes`: the reason the send will be refused, at once."""
        return door.render(ctx, "send_counter.html", {"problem": _too_large(ctx), "analysis": None})

    async def send_counter(ctx: Ctx) -> Response:
        """The live counter: the text as it would be sent, by the send service's own rules."""
        form = ctx.form
        values: dict[str, Any] = {"problem": None, "price": None, "valid": 0}
        try:
            request = _send_request(ctx, form, for_counter=True)
            analysis = ctx.services.sends.text_of(request)
        except InvalidParameter as exc:
            values["problem"] = _problem(ctx, exc)
            return door.render(ctx, "send_counter.html", {**values, "analysis": None})
        typed = form.get("text", "")
        if request.groups or any(isinstance(r, Recipient) for r in parse_recipients(_recipients(form))):
            try:
                if request.groups:  # priced by buckets of contacts, not contact by contact (`counter.py`)
                    cost, valid = await group_counter.price(ctx.services.sends, ctx.services.contacts.store, request)
                else:
                    preview = await ctx.services.sends.preview(request)
                    cost, valid = preview.cost, sum(1 for r in preview.recipients if r.problem is None)
                values["price"] = format_credits(cost)
                values["valid"] = valid
            except InvalidParameter as exc:  # every recipient's country refuses the sender or the text: say why now
                values["problem"] = _problem(ctx, exc)
        mention = analysis.text[len(typed) :].strip() if analysis.text.startswith(typed) else ""
        values.update(
            analysis=analysis,
            marked=[(char, not is_gsm(char)) for char in typed[:2000]],
            foreign=sorted({char for char in typed if not is_gsm(char)}),
            mention=mention,
        )
        return door.render(ctx, "send_counter.html", values)

    # --- History and a send's page ---

    async def history(ctx: Ctx) -> Response:
        where, filters, problem = _filter(ctx)
        offset = _int(ctx.request.query_params.get("offset"), 0)
        rows = [] if where is None else await ctx.services.messages.page(ctx.me.id, where, offset, PAGE + 1)
        sends = await ctx.services.reports.history(ctx.me.id, 0, 10)
        return door.render(
            ctx,
            "history.html",
            {
                "rows": rows[:PAGE],
                "more": len(rows) > PAGE,
                "offset": offset,
                "page": PAGE,
                "filters": filters,
                "problem": problem,
                "states": STATES,
                "lanes": [str(lane) for lane in Lane],
                "sends": sends,
                "query": _query_string(filters),
            },
        )

    async def history_csv(ctx: Ctx) -> Response:
        where, _filters, problem = _filter(ctx)
        if where is None:
            return door.error(ctx, 400, problem or "Page not found.")
        account_id = ctx.me.id

        async def rows() -> AsyncIterator[str]:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(
                ["send_id", "seq", "accepted_at", "recipient", "sender", "lane", "state", "code", "cost", "reference"]
            )
            offset = 0
            while offset < CSV_MAX:
                page = await ctx.services.messages.page(account_id, where, offset, 1000)
                for m in page:
                    writer.writerow(
                        [
                            m.send_id,
                            m.seq,
                            ctx.when(m.accepted_at),
                            m.msisdn,
                            spreadsheet_cell(m.sender or ""),
                            m.lane,
                            m.state,
                            m.code,
                            format_credits(m.cost),
                            spreadsheet_cell(m.ref_client or ""),
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
            headers={"content-disposition": 'attachment; filename="messages.csv"'},
        )

    async def send_page(ctx: Ctx) -> Response:
        values = await _send_details(ctx)
        if values is None:
            return door.error(ctx, 404, "No such send.")
        return door.render(ctx, "send_page.html", values)

    async def send_recipients(ctx: Ctx) -> Response:
        """The page's poll: the poller, and the counts and the visible recipients only if they changed."""
        values = await _send_details(ctx, poll=True)
        if values is None:
            return door.error(ctx, 404, "No such send.")
        return door.render(ctx, "send_changes.html", values)

    async def send_cancel(ctx: Ctx) -> Response:
        send_id = ctx.request.path_params["send_id"]
        if not await ctx.services.messages.of_send(ctx.me.id, send_id):
            return door.error(ctx, 404, "No such send.")
        cancelled = await ctx.services.reports.cancel(ctx.me.id, send_id, None)
        note = "cancelled" if cancelled is not None else "nothing"
        return RedirectResponse(f"{PREFIX}/sends/{send_id}?note={note}", 303)

    # --- Replies, opt-outs, keys, callbacks ---

    async def replies(ctx: Ctx) -> Response:
        offset = _int(ctx.request.query_params.get("offset"), 0)
        rows = await ctx.services.messages.replies(ctx.me.id, None, None, offset, PAGE + 1)
        template = "replies_rows.html" if ctx.htmx else "replies.html"
        return door.render(ctx, template, {"rows": rows[:PAGE], "more": len(rows) > PAGE, "offset": offset})

    async def opt_outs(ctx: Ctx) -> Response:
        problem = None
        if ctx.request.method == "POST":
            numbers = _numbers(ctx.form.get("numbers", ""))
            if isinstance(numbers, str):
                problem = labelled(ctx, "Number", numbers)
            elif ctx.form.get("action") == "remove":
                await ctx.services.opt_outs.remove(ctx.me.id, numbers)
                return RedirectResponse(f"{PREFIX}/opt-outs", 303)
            else:
                await ctx.services.opt_outs.add(ctx.me.id, numbers, "manual")
                return RedirectResponse(f"{PREFIX}/opt-outs", 303)
        rows = await ctx.services.opt_outs.list(ctx.me.id)
        return door.render(ctx, "opt_outs.html", {"rows": rows, "problem": problem}, 422 if problem else 200)

    async def keys(ctx: Ctx) -> Response:
        created, problem, note = None, None, None
        if ctx.request.method == "POST":
            action = ctx.form.get("action", "create")
            if action == "revoke":
                key_id = _int(ctx.form.get("key"), -1)
                mine = {k.id for k in await ctx.services.keys.list(ctx.me.login) if k.label != LINK_LABEL}
                if key_id not in mine:
                    return door.error(ctx, 404, "Page not found.")
                await ctx.services.keys.revoke(key_id)
                note = ctx.t("The key is revoked.")
            else:
                try:
                    created = await ctx.services.keys.create(
                        ctx.me.login,
                        label=ctx.form.get("label", "").strip()[:100],
                        lanes=ctx.form.get("lanes", "").strip() or None,
                        networks=ctx.form.get("networks", "").strip() or None,
                    )
                except InvalidKeyLimit as exc:  # its message names the lane or the network at fault
                    label = "Lanes allowed" if "lane" in str(exc) else "Networks allowed"
                    problem = labelled(ctx, label, str(exc))
        listed = [k for k in await ctx.services.keys.list(ctx.me.login) if k.label != LINK_LABEL]
        return door.render(
            ctx,
            "keys.html",
            {"keys": listed, "created": created, "problem": problem, "note": note},
            422 if problem else 200,
        )

    async def callbacks(ctx: Ctx) -> Response:
        note, problem, account = None, None, ctx.me
        action = ctx.form.get("action") if ctx.request.method == "POST" else None
        if action == "settings":
            try:
                account = await save_callback_settings(ctx, ctx.me.login)
                note = ctx.t("Saved.")
            except InvalidAccountSetting as exc:
                problem = settings_problem(ctx, exc)
        elif action == "replay-failed":
            count = await ctx.services.callbacks.replay(all_failed=True, login=ctx.me.login)
            note = ctx.t("%s callback(s) queued again.", count)
        elif action is not None:
            ids = [_int(ctx.form.get("callback"), -1)]
            count = await ctx.services.callbacks.replay(ids=ids, login=ctx.me.login)
            note = ctx.t("%s callback(s) queued again.", count)
        state = ctx.request.query_params.get("state") or None
        if state not in (None, "pending", "delivered", FAILED):
            state = None
        rows = await ctx.services.callbacks.list(state=state, login=ctx.me.login, limit=100)
        return door.render(
            ctx,
            "callbacks.html",
            {
                "rows": rows,
                "state": state,
                "note": note,
                "problem": problem,
                "account": account,
                "typed": ctx.form if problem else {},
            },
            422 if problem else 200,
        )

    page = door.page
    return [
        Route(PREFIX + "/login", page(login_page, signed_in=False), methods=["GET", "POST"]),
        Route(PREFIX + "/logout", page(logout), methods=["POST"]),
        Route(PREFIX + "/link/{token}", page(link_page, signed_in=False)),
        Route(PREFIX + "/link", page(link_redeem, signed_in=False), methods=["POST"]),
        Route(PREFIX + "/", page(dashboard)),
        Route(PREFIX + "/dashboard/figures", page(dashboard_figures)),
        Route(PREFIX + "/dashboard/series", page(dashboard_series)),
        Route(PREFIX + "/send", page(send_form)),
        Route(PREFIX + "/send", page(send_submit, too_large=send_too_large), methods=["POST"]),
        Route(PREFIX + "/send/counter", page(send_counter, too_large=counter_too_large), methods=["POST"]),
        Route(PREFIX + "/history", page(history)),
        Route(PREFIX + "/history.csv", page(history_csv)),
        Route(PREFIX + "/sends/{send_id}", page(send_page)),
        Route(PREFIX + "/sends/{send_id}/recipients", page(send_recipients)),
        Route(PREFIX + "/sends/{send_id}/cancel", page(send_cancel), methods=["POST"]),
        Route(PREFIX + "/replies", page(replies)),
        Route(PREFIX + "/opt-outs", page(opt_outs), methods=["GET", "POST"]),
        Route(PREFIX + "/keys", page(keys), methods=["GET", "POST"]),
        Route(PREFIX + "/callbacks", page(callbacks), methods=["GET", "POST"]),
    ]


# --- Helpers ---


async def _figures(ctx: Ctx) -> dict[str, Any]:
    me = ctx.me
    now = int(time.time() * 1000)
    zone = ZoneInfo(me.timezone)
    midnight = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    windows = {"Today": int(midnight.timestamp() * 1000), "7 days": now - 7 * DAY, "30 days": now - 30 * DAY}
    counts = {name: await ctx.services.activity.counts_by_state(me.id, since) for name, since in windows.items()}
    rates: dict[str, str] = {}
    for name, by_state in counts.items():
        delivered = by_state.get("delivered", 0)
        final = sum(by_state.get(str(state), 0) for state in FINAL_STATES if state != State.CANCELLED)
        rates[name] = f"{100 * delivered / final:.1f} %" if final else "–"
    times = await ctx.services.activity.delivery_times(me.id, now - 7 * DAY)
    median = _duration(statistics.median(times)) if times else "–"
    return {
        "balance": await ctx.services.reports.balance(me.id),
        "windows": list(windows),
        "counts": counts,
        "states": [s for s in STATES if any(s in c for c in counts.values())],
        "rates": rates,
        "median": median,
        "lanes": [str(lane) for lane in Lane],
    }


def _chart(
    buckets: list[Any], start: int, count: int, size: int, offset: int, timezone: str, label: str
) -> dict[str, Any]:
    first = (start + offset) // size
    series = {"delivered": [0] * count, "pending": [0] * count, "failed": [0] * count}
    for bucket in buckets:
        index = (bucket.start + offset) // size - first
        if 0 <= index < count:
            series[OUTCOME.get(bucket.state, "pending")][index] += bucket.count
    zone = ZoneInfo(timezone)
    labels = [datetime.fromtimestamp(((first + i) * size - offset) / 1000, zone).strftime(label) for i in range(count)]
    return {"labels": labels, "series": series}


def _offset_ms(timezone: str) -> int:
    delta = datetime.now(ZoneInfo(timezone)).utcoffset()
    return int(delta.total_seconds() * 1000) if delta else 0


def _duration(ms: float) -> str:
    seconds = ms / 1000
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _recipients(form: dict[str, str]) -> str:
    return ",".join(line.strip() for line in form.get("recipients", "").replace(";", "\n").splitlines() if line.strip())


def _problem(ctx: Ctx, exc: InvalidParameter) -> str:
    """A refused send's reason as the form and the live counter show it: the form's field, then the problem, both
    in the page's language."""
    return labelled(ctx, _FORM_FIELDS.get(exc.name, exc.name), exc.problem)


def _send_request(ctx: Ctx, form: dict[str, str], *, for_counter: bool = False) -> SendRequest:
    me = ctx.me
    lane = form.get("lane") or me.lane
    if lane not in {str(known) for known in Lane}:
        raise InvalidParameter("lane", "one of " + ", ".join(str(known) for known in Lane))
    scheduled_at = None
    raw_schedule = form.get("schedule", "").strip()
    if raw_schedule and not for_counter:
        try:
            moment = datetime.fromisoformat(raw_schedule)
        except ValueError:
            raise InvalidParameter("scheduled_at", "a date and time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(me.timezone))
        scheduled_at = int(moment.timestamp() * 1000)
    text = form.get("text", "")
    return SendRequest(
        account=me,
        text=text,
        recipients=_recipients(form),
        classe=2,
        scheduled_at=scheduled_at,
        sender=form.get("sender", "").strip() or None,
        ref_client=form.get("reference", "").strip() or None,
        max_parts=MAX_PARTS,
        lane=lane,
        non_gsm=NonGsmPolicy.UCS2,  # as the REST door: Unicode when the text needs it, never a "?"
        groups=_groups(form),
    )


def _groups(form: dict[str, str]) -> tuple[str, ...]:
    """The contact groups ticked on the send form (their names; the send service checks they exist)."""
    return tuple(dict.fromkeys(name for name in form.get("groups[]", "").split("\n") if name.strip()))


async def _send_values(ctx: Ctx, form: dict[str, str], problem: str | None) -> dict[str, Any]:
    groups = await ctx.services.contacts.store.groups(ctx.me.id, search=None, offset=0, limit=500)
    return {
        "form": {name: form.get(name, "") for name in ("recipients", "sender", "text", "schedule", "reference")},
        "lane": form.get("lane") or ctx.me.lane,
        "lanes": [str(lane) for lane in Lane],
        "problem": problem,
        "groups": groups,
        "chosen": set(_groups(form)),
    }


async def _send_details(ctx: Ctx, *, poll: bool = False) -> dict[str, Any] | None:
    """A send's facts, its counts by state and one page of its recipients (`?offset=`, `PAGE` a page) with
    their timelines; None for an unknown send or another account's. `poll`: the answer to the page's poll, which
    carries the counts it last saw (`seen`) and how long it waited (`wait`)."""
    send_id = ctx.request.path_params["send_id"]
    me = ctx.me
    counts = await ctx.services.activity.send_counts(me.id, send_id)
    if not counts.total:
        return None
    query = ctx.request.query_params
    offset = min(_int(query.get("offset"), 0), (counts.total - 1) // PAGE * PAGE)
    waited = min(max(_int(query.get("wait"), POLL_FIRST), POLL_FIRST), POLL_LAST)
    changed = not poll or query.get("seen") != counts.fingerprint
    values: dict[str, Any] = {
        "send_id": send_id,
        "counts": counts,
        "offset": offset,
        "page": PAGE,
        "changed": changed,
        "oob": poll,
        # Polled again at once after a change, then less and less often while nothing changes.
        "wait": POLL_FIRST if changed else min(waited * 2, POLL_LAST),
    }
    if poll and not changed:
        return values
    filter_ = MessageFilter(send_id=send_id)
    rows = await ctx.services.messages.page(me.id, filter_, offset, PAGE + 1)
    shown = rows[:PAGE]
    by_seq: dict[int, list[Any]] = {}
    parts_of: dict[int, list[Any]] = {}
    if shown:
        history, parts = await ctx.services.activity.page_details(me.id, send_id, shown[0].seq, shown[-1].seq)
        for entry in history:
            by_seq.setdefault(entry.seq, []).append(entry)
        for part in parts:
            parts_of.setdefault(part.seq, []).append(part)
    values.update(messages=shown, more=len(rows) > PAGE, history=by_seq, parts=parts_of)
    if poll:
        return values
    first = shown[0] if offset == 0 and shown else (await ctx.services.messages.page(me.id, filter_, 0, 1))[0]
    note = query.get("note")
    values.update(
        first=first,
        moving=counts.moving,
        scheduled=counts.scheduled,
        cost=counts.cost,
        cancelled_at=await ctx.services.activity.send_cancelled_at(me.id, send_id),
        note=note if note in ("cancelled", "nothing") else None,
    )
    return values


def _filter(ctx: Ctx) -> tuple[MessageFilter | None, dict[str, str], str | None]:
    """The history filter from the query string; None and a problem when a value is wrong."""
    query = ctx.request.query_params
    filters = {name: query.get(name, "").strip() for name in ("since", "until", "status", "recipient", "ref", "lane")}
    zone = ZoneInfo(ctx.me.timezone)
    times: dict[str, int | None] = {"since": None, "until": None}
    for name in times:
        if filters[name]:
            try:
                moment = datetime.fromisoformat(filters[name])
            except ValueError:
                return None, filters, f"{name}: a date (YYYY-MM-DD)"
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=zone)
            if name == "until" and len(filters[name]) <= 10:
                moment = moment.replace(hour=23, minute=59, second=59, microsecond=999000)
            times[name] = int(moment.timestamp() * 1000)
    if filters["status"] and filters["status"] not in STATES:
        return None, filters, "status: one of " + ", ".join(STATES)
    if filters["lane"] and filters["lane"] not in {str(lane) for lane in Lane}:
        return None, filters, "lane: one of " + ", ".join(str(lane) for lane in Lane)
    msisdn = None
    if filters["recipient"]:
        parsed = parse_recipient(filters["recipient"])
        if isinstance(parsed, InvalidRecipient):
            return None, filters, f"recipient: {parsed.reason}"
        msisdn = parsed.msisdn
    where = MessageFilter(
        since=times["since"],
        until=times["until"],
        states=[filters["status"]] if filters["status"] else None,
        msisdn=msisdn,
        ref_client=filters["ref"] or None,
        lanes=[filters["lane"]] if filters["lane"] else None,
    )
    return where, filters, None


def _query_string(filters: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return urlencode({name: value for name, value in filters.items() if value})


def _numbers(raw: str) -> list[str] | str:
    """The numbers of the opt-out form (one per line or separated by commas), or the problem to show. More than
    `OPT_OUT_MAX` are refused whole, naming the limit, as the group form does: keeping the first ones and
    dropping the rest would tell the holder their customers are opted out when some are not."""
    entries = [e.strip() for e in raw.replace(";", ",").replace("\n", ",").split(",") if e.strip()]
    if len(entries) > OPT_OUT_MAX:
        return f"at most {OPT_OUT_MAX} at a time"
    parsed = [parse_recipient(e) for e in entries]
    if not parsed or any(isinstance(p, InvalidRecipient) for p in parsed):
        return "give phone numbers, one per line or separated by commas"
    return [p.msisdn for p in parsed if isinstance(p, Recipient)]


def _int(raw: str | None, default: int) -> int:
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        return default
    return int(raw)
