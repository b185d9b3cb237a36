"""The REST endpoints: each turns a request into a service call and the result into a resource.

Handlers raise `Problem` for every refusal; the door (`martinet.api.rest.app`) renders it. Field names in
problems are the REST names (`recipient.to`), translated from the send service's names of a send's fields.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import orjson
from pydantic import ValidationError

from martinet.api.rest import counting
from martinet.api.rest.models import SendIn
from martinet.api.rest.problems import Problem, invalid
from martinet.api.rest.voice import voice_request
from martinet.domain.recipients import InvalidRecipient, parse_recipient
from martinet.domain.resources import (
    CURRENCY,
    FLOW_OF_LANE,
    LANE_OF_FLOW,
    STATES_OF_STATUS,
    credits,
    message_resource,
    parse_message_id,
    reply_resource,
)
from martinet.domain.text import NonGsmPolicy, TextAnalysis
from martinet.domain.valueclass import valueclass
from martinet.services.accept import (
    MAX_PARTS,
    InvalidParameter,
    NotEnoughCredit,
    SendRequest,
    SendService,
    message_facts,
)
from martinet.services.accounts import AccountService
from martinet.services.auth import Caller
from martinet.services.contacts import ContactService
from martinet.services.idempotency import IdempotentSends, KeyInProgress, KeyReused, Replayed, RequestKey
from martinet.services.rate_limits import RateLimited
from martinet.services.replies import ReplyService
from martinet.services.reports import ReportService
from martinet.services.resellers import ResellerService
from martinet.store.acceptance import KeyedRequest, NewSend
from martinet.store.messages import MessageFilter, MessageStore

PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX = 20, 100
#: Numbers in paths and queries: ASCII digits only (`str.isdigit` also takes `²` and other scripts' digits,
#: which `int` then refuses or reads as another number), few enough to fit the store's 64-bit integers.
_DIGITS = re.compile(r"[0-9]{1,18}")
MAX_IDEMPOTENCY_KEY = 255

#: The send service's names of a send's fields (`InvalidParameter.name`) as REST fields; `classe` and `max_parts`
#: are not fields of this door: it derives them from `callbackUrlMo` and the text.
_FIELDS = {
    "text": "body.text",
    "recipients": "recipient.to",
    "sender": "from",
    "ref_client": "refClient",
    "notification_url": "callbackUrlStatus",
    "notification_url_reponse": "callbackUrlMo",
    "stop": "body.stop",
    "classe": "callbackUrlMo",
    "max_parts": "body.text",
    "scheduled_at": "sentDate",
    "groups": "groups",
    "title": "voice.title",
    "language": "voice.language",
}


@valueclass
class RestServices:
    sends: SendService
    reports: ReportService
    messages: MessageStore
    keyed_sends: IdempotentSends  # sends, at most once per Idempotency-Key
    replies: ReplyService
    contacts: ContactService | None = None  # the address book (/sms/v1/contacts, /sms/v1/groups)
    resellers: ResellerService | None = None  # accounts, transfers, keys (api/rest/accounts.py)
    accounts: AccountService | None = None  # an account's own settings: its webhooks (api/rest/accounts.py)


@valueclass
class RestRequest:
    caller: Caller
    method: str
    path: str
    target: str | None  # the `{id}` of the path, when it has one
    query: dict[str, str]
    headers: dict[bytes, bytes]
    body: bytes


@valueclass
class Answer:
    status: int
    payload: object  # a JSON-able value, bytes already encoded, or an async iterator of bytes (streamed)
    headers: tuple[tuple[bytes, bytes], ...] = ()


Handler = Callable[[RestServices, RestRequest], Awaitable[Answer]]


# --- Sending ---


async def send(services: RestServices, request: RestRequest) -> Answer:
    if request.query.get("dryRun", "").lower() in ("true", "1"):
        return await preview(services, request)
    try:
        answer, recipients = await _send(services, request)
    except Problem as problem:
        counting.refused(problem.code)
        raise
    except Exception:
        counting.failed()
        raise
    if recipients is None:
        counting.replayed()
    else:
        counting.accepted(recipients)
    return answer


async def _send(services: RestServices, request: RestRequest) -> tuple[Answer, int | None]:
    """The answer, and how many recipients the send created (None: an earlier request's answer replayed)."""
    document = _json(request.body)
    body = _validate(document)
    _lane(request.caller, body)  # before a replay too: a key may not read another lane's send by replaying it
    try:
        done = await services.keyed_sends.accept(
            request.caller.account.id,
            _request_key(request, document),
            lambda keyed: _send_request(request.caller, body, keyed),
            lambda written: (201, orjson.dumps(_sent(written, body))),
        )
    except InvalidParameter as exc:
        raise _invalid(exc, body) from None
    except RateLimited as exc:
        retry = str(max(1, math.ceil(1 / exc.rate))) if exc.rate > 0 else "1"
        raise Problem(
            "RATE_LIMITED", "over the account's sends per second", None, [(b"retry-after", retry.encode())]
        ) from None
    except NotEnoughCredit as exc:
        raise Problem(
            "INSUFFICIENT_CREDIT", f"the send costs {credits(exc.cost)} credits, more than the balance"
        ) from None
    except KeyReused:
        raise Problem("IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used with a different body") from None
    except KeyInProgress:
        raise Problem(
            "RATE_LIMITED", "a request with this key is in progress", None, [(b"retry-after", b"1")]
        ) from None
    one = body.recipient is not None and not body.groups  # answered with the message itself, and its Location
    if isinstance(done, Replayed):
        href = orjson.loads(done.body).get("href") if one and done.status == 201 else None
        replayed = ((b"idempotent-replayed", b"true"), *(((b"location", href.encode()),) if href else ()))
        return Answer(done.status, done.body, replayed), None
    payload = _sent(done.send, body)
    location = payload["href"] if one else None
    headers = ((b"location", str(location).encode()),) if location else ()
    return Answer(201, payload, headers), done.recipients


async def preview(services: RestServices, request: RestRequest) -> Answer:
    body = _validate(_json(request.body))
    try:
        seen = await services.sends.preview(_send_request(request.caller, body, None))
    except InvalidParameter as exc:
        raise _invalid(exc, body) from None
    recipients = []
    for item in seen.recipients:
        recipient = item.recipient
        valid = item.problem is None
        entry: dict[str, object] = {
            "to": recipient.raw if isinstance(recipient, InvalidRecipient) else recipient.msisdn,
            "country": None if isinstance(recipient, InvalidRecipient) else recipient.country,
            "valid": valid,
            "price": {"amount": credits(item.cost), "currency": CURRENCY},
        }
        if not valid:
            entry["problem"] = item.problem
        if item.analysis is not None:
            entry["body"] = _body(item.analysis)
        if item.operator is not None:
            entry["operator"] = {"name": item.operator.name, "mccmnc": item.operator.mccmnc}
        recipients.append(entry)
    analysis = seen.analysis
    return Answer(
        200,
        {
            "body": _body(analysis),
            "flow": FLOW_OF_LANE[seen.lane],
            "recipients": recipients,
            "price": {"amount": credits(seen.cost), "currency": CURRENCY},
        },
    )


def _body(analysis: TextAnalysis) -> dict[str, object]:
    return {
        "text": analysis.text,
        "encoding": "GSM7" if str(analysis.encoding) == "GSM-7" else "UNICODE",
        "messagePartCount": analysis.segments,
        "length": len(analysis.text),
    }


def _lane(caller: Caller, body: SendIn) -> str:
    """The lane a send goes on; Problem when the caller's key may not use it."""
    lane = LANE_OF_FLOW[body.flow] if body.flow is not None else caller.account.lane
    if not caller.limits.allows_lane(lane):
        raise Problem("LANE_NOT_ALLOWED", f"this key may not send on flow {FLOW_OF_LANE.get(lane, lane)}", "flow")
    return lane


def _send_request(caller: Caller, body: SendIn, keyed: KeyedRequest | None) -> SendRequest:
    account = caller.account
    lane = _lane(caller, body)
    tos = [body.recipient.to] if body.recipient is not None else [r.to for r in body.recipients or ()]
    encoding = body.body.encoding
    replies = bool(body.callbackUrlMo) and not body.sender
    return SendRequest(
        account=account,
        text=body.body.text,
        recipients=",".join(tos),
        # A reply URL without a sender asks for a reply-capable number (smsmode's classe_msg=4); UNICODE asked
        # for is smsmode's classe_msg=9.
        classe=4 if replies else 9 if encoding == "UNICODE" else 2,
        non_gsm=_non_gsm(encoding, replies, account.non_gsm),
        scheduled_at=_epoch_ms(body.sentDate, account.timezone) if body.sentDate is not None else None,
        sender=body.sender,
        ref_client=body.refClient,
        max_parts=MAX_PARTS,
        notification_url=body.callbackUrlStatus,
        notification_url_reponse=body.callbackUrlMo,
        stop=1 if body.body.stop else 0,
        lane=lane,
        validity=body.validity,
        callback_format="json",
        keyed=keyed,
        groups=tuple(body.groups or ()),
        voice=voice_request(body),
    )


def _non_gsm(encoding: str | None, replies: bool, account_policy: str) -> str:
    """The character policy of a REST send: automatic unless GSM7 is asked for (then the account's policy,
    or smsmode's replacement when the account's is automatic)."""
    if encoding == "GSM7":
        return NonGsmPolicy.REPLACE if account_policy == NonGsmPolicy.UCS2 else account_policy
    return NonGsmPolicy.UCS2 if encoding is None or replies else account_policy


def _sent(send: NewSend, body: SendIn) -> dict[str, object]:
    """The answer to a send: the message, or (several recipients) every message in order."""
    resources = [message_resource(facts) for facts in message_facts(send)]
    if body.recipient is not None and not body.groups:
        return resources[0]
    return {"messages": resources}


def _request_key(request: RestRequest, document: dict[str, object]) -> RequestKey | None:
    """The request's `Idempotency-Key`, and its fingerprint: the method, the path and the body as parsed (the
    same JSON written with other spacing or key order is the same request)."""
    raw = request.headers.get(b"idempotency-key")
    if raw is None:
        return None
    key = raw.decode("latin-1").strip()
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not all(33 <= ord(c) <= 126 for c in key):
        raise invalid("Idempotency-Key", f"1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters")
    fingerprint = hashlib.sha256(
        b"POST " + request.path.encode() + b" " + orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    ).hexdigest()
    return RequestKey(key, fingerprint)


#: A lane the account tree does not allow (`domain/account_rules.py`): this door calls lanes flows.
_LANE_REFUSED = re.compile(r"lane (\w+) (.*)")


def _invalid(exc: InvalidParameter, body: SendIn) -> Problem:
    field = _FIELDS.get(exc.name, exc.name)
    refused = _LANE_REFUSED.fullmatch(exc.problem) if exc.name == "lane" else None
    if refused is not None:
        lane, rest = refused.groups()
        return invalid("flow", f"flow {FLOW_OF_LANE.get(lane, lane)} {rest}")
    if exc.name == "recipients":
        if body.recipient is None:
            field = "recipients"
        elif exc.problem == "no valid recipient":
            parsed = parse_recipient(body.recipient.to)
            if isinstance(parsed, InvalidRecipient):
                return invalid(field, parsed.reason)
    return invalid(field, exc.problem)


# --- Reading and cancelling ---


async def get_message(services: RestServices, request: RestRequest) -> Answer:
    send_id, seq = _message_ref(request.target)
    facts = await services.messages.get(request.caller.account.id, send_id, seq)
    if facts is None or not request.caller.limits.allows_lane(facts.lane):  # a key limited to lanes sees those
        raise Problem("NOT_FOUND", "no such message")
    return Answer(200, message_resource(facts))


async def cancel_message(services: RestServices, request: RestRequest) -> Answer:
    send_id, seq = _message_ref(request.target)
    account_id = request.caller.account.id
    limits = request.caller.limits
    cancelled = await services.reports.cancel_message(account_id, send_id, seq, limits.lanes)
    facts = await services.messages.get(account_id, send_id, seq)
    if facts is None or not limits.allows_lane(facts.lane):
        raise Problem("NOT_FOUND", "no such message")
    if cancelled is None:
        raise Problem("NOT_CANCELLABLE", f"the message is {facts.state}, not scheduled")
    return Answer(200, message_resource(facts))


async def list_messages(services: RestServices, request: RestRequest) -> Answer:
    query = request.query
    page, size = _paging(query)
    timezone = request.caller.account.timezone
    states = None
    status = query.get("status")
    if status is not None:
        states = STATES_OF_STATUS.get(status.upper())
        if states is None:
            raise invalid("status", "one of " + ", ".join(STATES_OF_STATUS))
    msisdn = None
    if "recipient" in query:
        parsed = parse_recipient(query["recipient"])
        if isinstance(parsed, InvalidRecipient):
            raise invalid("recipient", parsed.reason)
        msisdn = parsed.msisdn
    where = MessageFilter(
        since=_query_time(query, "startDate", timezone),
        until=_query_time(query, "endDate", timezone),
        states=states,
        msisdn=msisdn,
        ref_client=query.get("refClient"),
        lanes=request.caller.limits.lanes,
    )
    rows = await services.messages.page(request.caller.account.id, where, (page - 1) * size, size + 1)
    return Answer(200, _page([message_resource(f) for f in rows[:size]], len(rows) > size, request, page, size))


async def list_replies(services: RestServices, request: RestRequest) -> Answer:
    page, size = _paging(request.query)
    timezone = request.caller.account.timezone
    rows = await services.replies.page(
        request.caller.account.id,
        since=_query_time(request.query, "startDate", timezone),
        until=_query_time(request.query, "endDate", timezone),
        offset=(page - 1) * size,
        limit=size + 1,
    )
    return Answer(200, _page([reply_resource(r) for r in rows[:size]], len(rows) > size, request, page, size))


async def get_reply(services: RestServices, request: RestRequest) -> Answer:
    target = request.target or ""
    number = target[1:] if target.startswith("r") else ""
    if _DIGITS.fullmatch(number) is None:
        raise Problem("NOT_FOUND", "no such reply")
    facts = await services.replies.one(request.caller.account.id, int(number))
    if facts is None:
        raise Problem("NOT_FOUND", "no such reply")
    return Answer(200, reply_resource(facts))


async def balance(services: RestServices, request: RestRequest) -> Answer:
    milli = await services.reports.balance(request.caller.account.id)
    return Answer(200, {"balance": credits(milli), "currency": CURRENCY})


# --- Parsing helpers ---


def _json(raw: bytes) -> dict[str, object]:
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Problem("INVALID_JSON", "the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise Problem("INVALID_JSON", "the body must be a JSON object")
    return document


def _validate(document: dict[str, object]) -> SendIn:
    try:
        return SendIn.model_validate(document)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        location = ".".join(str(part) for part in error["loc"]) or "body"
        if location == "sender":
            location = "from"
        if error["type"] == "value_error" and not error["loc"]:
            location = "recipient"
        return _raise(invalid(location, str(error["msg"]).removeprefix("Value error, ")))


def _raise(problem: Problem) -> SendIn:
    raise problem


def _message_ref(target: str | None) -> tuple[str, int]:
    ref = parse_message_id(target or "")
    if ref is None:
        raise Problem("NOT_FOUND", "no such message")
    return ref


def _paging(query: dict[str, str]) -> tuple[int, int]:
    page = _integer(query, "page", 1, 1, 1_000_000)
    size = _integer(query, "pageSize", PAGE_SIZE_DEFAULT, 1, PAGE_SIZE_MAX)
    return page, size


def _integer(query: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    digits = raw.strip()
    if _DIGITS.fullmatch(digits) is None or not low <= int(digits) <= high:
        raise invalid(name, f"an integer from {low} to {high}")
    return int(digits)


def _query_time(query: dict[str, str], name: str, timezone: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise invalid(name, "an ISO 8601 date or time") from None
    return _epoch_ms(moment, timezone)


def _epoch_ms(moment: datetime, timezone: str) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return int(moment.timestamp() * 1000)


def _page(items: list[dict[str, object]], more: bool, request: RestRequest, page: int, size: int) -> dict[str, object]:
    result: dict[str, object] = {"items": items, "page": page, "pageSize": size, "hasMore": more}
    if more:
        following = {**request.query, "page": str(page + 1), "pageSize": str(size)}
        result["next"] = f"{request.path}?{urlencode(following)}"
    return result
