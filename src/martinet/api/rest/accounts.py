"""The account endpoints of the REST door: the caller's account, sub-accounts, transfers, API keys, ledger,
usage, sender IDs and webhooks — a thin face on `ResellerService`, and on `AccountService` for the webhooks
(docs/resellers.md, docs/rest-api.md).

`{accountId}` is an account id or `me`. An account the caller does not manage answers 404, as an unknown one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from urllib.parse import unquote, urlencode

import orjson
from pydantic import BaseModel, ValidationError

from martinet.api.rest.account_models import (
    KeyIn,
    LimitsIn,
    SenderDecisionIn,
    SenderIn,
    SubAccountIn,
    TransferIn,
    WebhooksIn,
)
from martinet.api.rest.handlers import (
    Answer,
    Handler,
    RestRequest,
    RestServices,
    _epoch_ms,
    _paging,
    _query_time,
    list_messages,
)
from martinet.api.rest.problems import Problem, invalid
from martinet.clock import now_ms
from martinet.domain.account_rules import AppliedLimits
from martinet.domain.credits import to_milli
from martinet.domain.csv_records import spreadsheet_cell
from martinet.domain.resources import CURRENCY, FLOW_OF_LANE, LANE_OF_FLOW, credits, iso_time
from martinet.services.accounts import AccountService, InvalidAccountSetting
from martinet.services.auth import Caller
from martinet.services.resellers import CreatedKey, InvalidField, NotAllowed, NotManaged, ResellerService
from martinet.store.account_tree import AccountClosed, HasSubAccounts, TreeAccount
from martinet.store.accounts import KEEP, Account, ApiKey, InsufficientCredit, LoginTaken
from martinet.store.ledger import LedgerEntry
from martinet.store.senders import SenderId

M = TypeVar("M", bound=BaseModel)

ACCOUNTS = "/sms/v1/accounts/"
TRANSFERS = "/sms/v1/transfers"
KEYS = "/sms/v1/keys"
CSV_TYPE = b"text/csv; charset=utf-8"
LEDGER_CSV_MAX = 100_000  # rows of one CSV export


def _resellers(services: RestServices) -> ResellerService:
    if services.resellers is None:
        raise Problem("NOT_FOUND", "no such resource")
    return services.resellers


def _account_id(request: RestRequest) -> int | None:
    """The `{accountId}` of the path: None for `me`."""
    raw = (request.target or "").split("/")[0]
    if raw == "me":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise Problem("NOT_FOUND", "no such account")
    return int(raw)


def _body(request: RestRequest, model: type[M]) -> M:
    try:
        document = orjson.loads(request.body or b"{}")
    except orjson.JSONDecodeError:
        raise Problem("INVALID_JSON", "the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise Problem("INVALID_JSON", "the body must be a JSON object")
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        location = ".".join(str(part) for part in error["loc"]) or "body"
        raise invalid(location, str(error["msg"]).removeprefix("Value error, ")) from None


#: The service names some fields as smsmode's parameters (it serves both doors); this door's names for them.
_FIELDS = {"emetteur": "sender", "newPseudo": "login", "newPass": "password", "lanes": "flows"}


async def _guarded(work: Awaitable[Answer]) -> Answer:
    """The service's refusals as problems."""
    try:
        return await work
    except NotManaged:
        raise Problem("NOT_FOUND", "no such account") from None
    except NotAllowed as exc:
        raise Problem("ACCOUNT_NOT_ALLOWED", str(exc)) from None
    except InvalidField as exc:
        raise invalid(_FIELDS.get(exc.name, exc.name), exc.problem) from None
    except AccountClosed:
        raise Problem("ACCOUNT_CLOSED", "the account is deleted") from None


def _flows(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [FLOW_OF_LANE.get(lane, lane.upper()) for lane in text.split(",") if lane]


def _applied_resource(applied: AppliedLimits) -> dict[str, object]:
    return {
        "rateLimit": applied.rate_limit,
        "flows": None if applied.lanes is None else _flows(",".join(sorted(applied.lanes))),
        "countries": None if applied.countries is None else sorted(applied.countries),
        "senderPolicy": applied.sender_policy,
    }


def account_resource(account: TreeAccount, applied: AppliedLimits) -> dict[str, object]:
    """The account, its own limits (`limits`, null where it has none) and what holds once the limits of the
    accounts above it are added (`effectiveLimits`; the configured default rate where it has none of its own)."""
    return {
        "id": account.id,
        "login": account.login,
        "parentId": account.parent_id,
        "operator": account.operator,
        "state": "DELETED" if account.closed_at is not None else "ACTIVE",
        "createdAt": iso_time(account.created_at),
        "deletedAt": iso_time(account.closed_at),
        "balance": credits(account.balance),
        "currency": CURRENCY,
        "limits": {
            "rateLimit": account.rate_limit,
            "flows": _flows(account.allowed_lanes),
            "countries": account.allowed_countries.split(",") if account.allowed_countries else None,
            "senderPolicy": account.sender_policy,
        },
        "effectiveLimits": _applied_resource(applied),
        "profile": account.profile_fields,
        "href": f"{ACCOUNTS}{account.id}",
    }


def webhooks_resource(account: Account) -> dict[str, object]:
    return {
        "callbackUrl": account.callback_url,
        "replyUrl": account.reply_url,
        "callbackStatuses": account.callback_statuses,
        "href": f"{ACCOUNTS}{account.id}/webhooks",
    }


def key_resource(key: ApiKey, account_id: int, now: int) -> dict[str, object]:
    state = "ACTIVE"
    if key.revoked_at is not None:
        state = "REVOKED"
    elif key.expires_at is not None and key.expires_at <= now:
        state = "EXPIRED"
    return {
        "id": key.id,
        "accountId": account_id,
        "label": key.label,
        "flows": _flows(key.lanes),
        "networks": key.networks.split(",") if key.networks else None,
        "state": state,
        "createdAt": iso_time(key.created_at),
        "revokedAt": iso_time(key.revoked_at),
        "expiresAt": iso_time(key.expires_at),
    }


def ledger_resource(entry: LedgerEntry) -> dict[str, object]:
    return {
        "id": entry.id,
        "at": iso_time(entry.at),
        "amount": credits(entry.amount),
        "reason": entry.reason,
        "reference": entry.send_id or entry.reference,
        "counterparty": entry.counterparty,
        "note": entry.note,
        "balanceAfter": credits(entry.balance_after),
    }


def sender_resource(sender: SenderId) -> dict[str, object]:
    return {
        "sender": sender.sender,
        "status": sender.status,
        "requestedAt": iso_time(sender.requested_at),
        "decidedAt": iso_time(sender.decided_at),
    }


# --- Accounts ---


async def get_account(services: RestServices, request: RestRequest) -> Answer:
    async def work() -> Answer:
        resellers = _resellers(services)
        found = await resellers.account(request.caller.account, _account_id(request))
        return Answer(200, account_resource(found, await resellers.applies(found)))

    return await _guarded(work())


async def update_account(services: RestServices, request: RestRequest) -> Answer:
    body = _body(request, LimitsIn)
    given = body.model_fields_set

    async def work() -> Answer:
        resellers = _resellers(services)
        target = await resellers.account(request.caller.account, _account_id(request))
        updated = await resellers.set_limits(
            request.caller.account,
            target.id,
            rate_limit=body.rateLimit if "rateLimit" in given else KEEP,
            lanes=",".join(LANE_OF_FLOW[f] for f in body.flows or ()) if "flows" in given else KEEP,
            countries=",".join(body.countries or ()) if "countries" in given else KEEP,
            sender_policy=(body.senderPolicy or "any") if "senderPolicy" in given else KEEP,
            caller_limits=request.caller.limits,
        )
        return Answer(200, account_resource(updated, await resellers.applies(updated)))

    return await _guarded(work())


async def delete_account(services: RestServices, request: RestRequest) -> Answer:
    async def work() -> Answer:
        resellers = _resellers(services)
        target = await resellers.account(request.caller.account, _account_id(request))
        try:
            await resellers.delete_subaccount(request.caller.account, target)
        except HasSubAccounts:
            raise Problem("HAS_SUBACCOUNTS", "delete its sub-accounts first") from None
        closed = await resellers.account(request.caller.account, target.id)
        return Answer(200, account_resource(closed, await resellers.applies(closed)))

    return await _guarded(work())


# --- Webhooks ---

#: `AccountService.update`'s keyword of a refused setting → this door's field.
_WEBHOOK_FIELDS = {"callback_url": "callbackUrl", "reply_url": "replyUrl", "callback_statuses": "callbackStatuses"}


async def get_webhooks(services: RestServices, request: RestRequest) -> Answer:
    async def work() -> Answer:
        found = await _resellers(services).managed_settings(request.caller.account, _account_id(request))
        return Answer(200, webhooks_resource(found))

    return await _guarded(work())


async def update_webhooks(services: RestServices, request: RestRequest) -> Answer:
    """Where and when the account (its own, or a sub-account's for the accounts above it) is called back: the
    settings `martinet account update` and the console's Callbacks page change, checked by the same rules."""
    body = _body(request, WebhooksIn)
    given = body.model_fields_set

    async def work() -> Answer:
        found = await _resellers(services).account(request.caller.account, _account_id(request))
        if found.closed_at is not None:
            raise AccountClosed(found.id)
        try:
            updated = await _account_settings(services).update(
                found.login,
                callback_url=(body.callbackUrl or None) if "callbackUrl" in given else KEEP,
                reply_url=(body.replyUrl or None) if "replyUrl" in given else KEEP,
                callback_statuses=(body.callbackStatuses or "all") if "callbackStatuses" in given else KEEP,
            )
        except InvalidAccountSetting as exc:
            raise invalid(_WEBHOOK_FIELDS.get(exc.setting or "", "body"), str(exc)) from None
        return Answer(200, webhooks_resource(updated.account))

    return await _guarded(work())


def _account_settings(services: RestServices) -> AccountService:
    if services.accounts is None:
        raise Problem("NOT_FOUND", "no such resource")
    return services.accounts


async def list_account_messages(services: RestServices, request: RestRequest) -> Answer:
    """The messages of an account the caller manages (a deleted sub-account's too), read as that account would
    read them, within the lanes of the caller's key."""
    try:
        target = await _resellers(services).managed_settings(request.caller.account, _account_id(request))
    except NotManaged:
        raise Problem("NOT_FOUND", "no such account") from None
    return await list_messages(services, replace(request, caller=Caller(target, request.caller.limits)))


async def list_subaccounts(services: RestServices, request: RestRequest) -> Answer:
    async def work() -> Answer:
        resellers = _resellers(services)
        children = await resellers.subaccounts(request.caller.account, _account_id(request))
        applied = await resellers.applies_below(children)
        return Answer(200, {"items": [account_resource(*pair) for pair in zip(children, applied, strict=True)]})

    return await _guarded(work())


async def create_subaccount(services: RestServices, request: RestRequest) -> Answer:
    body = _body(request, SubAccountIn)

    async def work() -> Answer:
        resellers = _resellers(services)
        actor = request.caller.account
        try:
            created = await resellers.create_subaccount(
                actor, body.login, body.password, parent_id=_account_id(request), profile=body.profile
            )
        except LoginTaken:
            raise Problem("LOGIN_TAKEN", f"an account named {body.login!r} exists already", "login") from None
        except InvalidField as exc:
            if exc.name in _FIELDS or exc.name == "profile":
                raise
            raise invalid(f"profile.{exc.name}", exc.problem) from None  # the fields of the profile
        token = None
        if body.key:
            key = await resellers.create_key(actor, request.caller.limits, created.id, label="default", now=now_ms())
            token = key.token
        resource = {**account_resource(created, await resellers.applies(created)), "apiKey": token}
        return Answer(201, resource, ((b"location", str(resource["href"]).encode()),))

    return await _guarded(work())


# --- Transfers ---


async def create_transfer(services: RestServices, request: RestRequest) -> Answer:
    body = _body(request, TransferIn)
    try:
        amount = to_milli(str(body.amount))
    except ValueError:
        raise invalid("amount", "at most three decimals") from None

    async def work() -> Answer:
        resellers = _resellers(services)
        actor = request.caller.account
        giver = await resellers.account(actor, body.source)
        receiver = await resellers.transfer_target(actor, account_id=body.to)
        try:
            moved = await resellers.transfer(actor, receiver, amount, giver=giver, reference=body.reference)
        except InsufficientCredit:
            raise Problem("INSUFFICIENT_CREDIT", "the giving account's balance does not cover the transfer") from None
        return Answer(
            201,
            {
                "from": moved.giver,
                "to": moved.receiver,
                "amount": credits(moved.amount),
                "reference": body.reference,
                "fromBalance": credits(moved.giver_balance),
                "toBalance": credits(moved.receiver_balance),
                "at": iso_time(moved.at),
            },
        )

    return await _guarded(work())


# --- Keys ---


async def list_keys(services: RestServices, request: RestRequest) -> Answer:
    raw = request.query.get("accountId")
    if raw is not None and (not raw.isascii() or not raw.isdigit() or len(raw) > 9):
        raise invalid("accountId", "an account id")

    async def work() -> Answer:
        target, keys = await _resellers(services).keys(request.caller.account, int(raw) if raw else None)
        now = now_ms()
        return Answer(200, {"items": [key_resource(k, target.id, now) for k in keys]})

    return await _guarded(work())


async def create_key(services: RestServices, request: RestRequest) -> Answer:
    body = _body(request, KeyIn)
    expires = None if body.expiresAt is None else _epoch_ms(body.expiresAt, request.caller.account.timezone)

    async def work() -> Answer:
        now = now_ms()
        created: CreatedKey = await _resellers(services).create_key(
            request.caller.account,
            request.caller.limits,
            body.accountId,
            label=body.label,
            lanes=",".join(LANE_OF_FLOW[f] for f in body.flows) if body.flows else None,
            networks=",".join(body.networks) if body.networks else None,
            expires_at=expires,
            now=now,
        )
        keys = await _resellers(services).keys(request.caller.account, created.account.id)
        listed = next(k for k in keys[1] if k.id == created.id)
        return Answer(201, {**key_resource(listed, created.account.id, now), "accessToken": created.token})

    return await _guarded(work())


async def revoke_key(services: RestServices, request: RestRequest) -> Answer:
    raw = request.target or ""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise Problem("NOT_FOUND", "no such key")

    async def work() -> Answer:
        resellers = _resellers(services)
        await resellers.revoke_key(request.caller.account, int(raw), request.caller.limits)
        owner, keys = await resellers.keys(request.caller.account, await resellers.key_account(int(raw)))
        listed = next(k for k in keys if k.id == int(raw))
        return Answer(200, key_resource(listed, owner.id, now_ms()))

    try:
        return await _guarded(work())
    except Problem as problem:
        if problem.code == "NOT_FOUND":
            raise Problem("NOT_FOUND", "no such key") from None
        raise


# --- Ledger and usage ---


async def ledger(services: RestServices, request: RestRequest) -> Answer:
    query = request.query
    asked = query.get("format", "").lower()
    if asked not in ("", "json", "csv"):
        raise invalid("format", "json or csv")
    as_csv = asked == "csv" or (not asked and _prefers_csv(request.headers.get(b"accept", b"")))
    timezone = request.caller.account.timezone
    since, until = _query_time(query, "startDate", timezone), _statement_end(query, timezone)
    page, size = (1, LEDGER_CSV_MAX) if as_csv else _paging(query)

    async def work() -> Answer:
        entries = await _resellers(services).ledger(
            request.caller.account,
            (await _resellers(services).account(request.caller.account, _account_id(request))).id,
            since=since,
            until=None if until is None else until + 1,
            offset=(page - 1) * size,
            limit=size + 1,
        )
        if as_csv:
            return Answer(200, _ledger_csv(entries[:size]), ((b"content-type", CSV_TYPE),))
        more = len(entries) > size
        result: dict[str, object] = {
            "items": [ledger_resource(e) for e in entries[:size]],
            "page": page,
            "pageSize": size,
            "hasMore": more,
        }
        if more:
            result["next"] = f"{request.path}?{urlencode({**query, 'page': str(page + 1), 'pageSize': str(size)})}"
        return Answer(200, result)

    return await _guarded(work())


def _prefers_csv(accept: bytes) -> bool:
    """Whether `Accept` ranks CSV above JSON (RFC 9110 §12.5.1 quality values; the earlier wins a tie). `format`
    in the query, when given, wins over it. Written here: a choice between two types, which no dependency of the
    project makes (Starlette does not negotiate)."""
    best: dict[str, tuple[float, int]] = {}
    for position, item in enumerate(accept.decode("latin-1").split(",")):
        media, *parameters = (part.strip() for part in item.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        kind = {"text/csv": "csv", "application/json": "json"}.get(media.lower())
        if kind is not None and kind not in best:
            best[kind] = (quality, -position)
    csv_rank = best.get("csv")
    return csv_rank is not None and csv_rank[0] > 0 and csv_rank > best.get("json", (0.0, 0))


def _statement_end(query: dict[str, str], timezone: str) -> int | None:
    """The last millisecond `endDate` takes in: a day without a time is a statement's last day, included whole
    (as `usage`'s `to` and the command line's `--to`), not its first instant."""
    end = _query_time(query, "endDate", timezone)
    raw = query.get("endDate", "").strip()
    if end is None or len(raw) not in (len("YYYYMMDD"), len("YYYY-MM-DD")):  # a day, in ISO 8601's either form
        return end
    try:
        day = date.fromisoformat(raw)
    except ValueError:  # ten characters that name a time (20261204T9)
        return end
    if day >= date.max:
        raise invalid("endDate", "before 9999-12-31")
    return _epoch_ms(datetime.combine(day + timedelta(days=1), time()), timezone) - 1


def _ledger_csv(entries: list[LedgerEntry]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["id", "at", "reason", "amount", "balance_after", "reference", "counterparty", "note"])
    for e in entries:
        resource = ledger_resource(e)
        writer.writerow(
            [
                e.id,
                resource["at"],
                e.reason,
                _decimal(e.amount),
                _decimal(e.balance_after),
                resource["reference"] or "",
                e.counterparty or "",
                spreadsheet_cell(e.note or ""),
            ]
        )
    return out.getvalue().encode("utf-8")


def _decimal(milli: int) -> str:
    sign = "-" if milli < 0 else ""
    whole, frac = divmod(abs(milli), 1000)
    return f"{sign}{whole}.{frac:03d}"


async def usage(services: RestServices, request: RestRequest) -> Answer:
    first, last = _day(request.query, "from"), _day(request.query, "to")

    async def work() -> Answer:
        resellers = _resellers(services)
        target = await resellers.account(request.caller.account, _account_id(request))
        days = await resellers.usage(request.caller.account, target.id, first, last)
        return Answer(
            200,
            {
                "accountId": target.id,
                "timezone": target.timezone,
                "days": [
                    {
                        "date": d.day.isoformat(),
                        "messages": d.messages,
                        "parts": d.parts,
                        "credits": credits(d.cost),
                        "movements": {reason: credits(amount) for reason, amount in d.movements.items()},
                    }
                    for d in days
                ],
            },
        )

    return await _guarded(work())


def _day(query: dict[str, str], name: str) -> date:
    raw = query.get(name)
    if raw is None:
        raise invalid(name, "required: a date (YYYY-MM-DD)")
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise invalid(name, "a date (YYYY-MM-DD)") from None


# --- Sender IDs ---


async def list_senders(services: RestServices, request: RestRequest) -> Answer:
    async def work() -> Answer:
        found = await _resellers(services).senders(request.caller.account, await _target_id(services, request))
        return Answer(200, {"items": [sender_resource(s) for s in found]})

    return await _guarded(work())


async def request_sender(services: RestServices, request: RestRequest) -> Answer:
    body = _body(request, SenderIn)

    async def work() -> Answer:
        asked = await _resellers(services).request_sender(
            request.caller.account, await _target_id(services, request), body.sender
        )
        return Answer(201, sender_resource(asked))

    return await _guarded(work())


async def decide_sender(services: RestServices, request: RestRequest) -> Answer:
    body = _body(request, SenderDecisionIn)
    sender = unquote((request.target or "").split("/", 1)[-1])

    async def work() -> Answer:
        decided = await _resellers(services).decide_sender(
            request.caller.account, await _target_id(services, request), sender, body.status
        )
        return Answer(200, sender_resource(decided))

    return await _guarded(work())


async def _target_id(services: RestServices, request: RestRequest) -> int:
    return (await _resellers(services).account(request.caller.account, _account_id(request))).id


# --- Routing ---

ROUTES: dict[str, dict[str, Handler]] = {
    TRANSFERS: {"POST": create_transfer},
    KEYS: {"GET": list_keys, "POST": create_key},
}
_ACCOUNT_ITEM: dict[str, dict[str, Handler]] = {
    "": {"GET": get_account, "PATCH": update_account, "DELETE": delete_account},
    "subaccounts": {"GET": list_subaccounts, "POST": create_subaccount},
    "ledger": {"GET": ledger},
    "messages": {"GET": list_account_messages},
    "usage": {"GET": usage},
    "senders": {"GET": list_senders, "POST": request_sender},
    "webhooks": {"GET": get_webhooks, "PATCH": update_webhooks},
}


def route(path: str) -> tuple[dict[str, Handler], str | None] | None:
    """The handlers and the `target` (`{accountId}`, or `{accountId}/{sender}`) of an account path, or None."""
    if path in ROUTES:
        return ROUTES[path], None
    if path.startswith(KEYS + "/"):
        target = path[len(KEYS) + 1 :]
        return ({"DELETE": revoke_key}, target) if target and "/" not in target else None
    if not path.startswith(ACCOUNTS):
        return None
    pieces = path[len(ACCOUNTS) :].split("/")
    if not pieces[0]:
        return None
    if len(pieces) == 1:
        return _ACCOUNT_ITEM[""], pieces[0]
    if len(pieces) == 2 and pieces[1] in _ACCOUNT_ITEM and pieces[1]:
        return _ACCOUNT_ITEM[pieces[1]], pieces[0]
    if len(pieces) == 3 and pieces[1] == "senders" and pieces[2]:
        return {"PATCH": decide_sender}, f"{pieces[0]}/{pieces[2]}"
    return None
