"""Resellers in the SDK: the caller's account, sub-accounts, credit transfers, API keys, ledger, usage and sender
IDs over the REST API (`client.accounts`), and smsmode's sub-account calls (`client.accounts.legacy`).

Each call is described once (a `Request` and how to read its answer), shared by the blocking and the asyncio
classes. Calls that move credits or create something are never repeated once sent (a retry could do it twice).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from martinet.client._http import AsyncHTTP, Repeat, Request, SyncHTTP
from martinet.client.errors import ConflictError, MartinetError, NotFoundError
from martinet.client.legacy import ANSWER_CHARSET, error_of, fields
from martinet.client.models import Message, fresh, loads

ACCOUNTS = "/sms/v1/accounts"
TRANSFERS = "/sms/v1/transfers"
KEYS = "/sms/v1/keys"
LEGACY = "/http/1.6/"
AUTHORISATION = "/http/2.0/createAuthorisation.do"
AccountRef = int | str  # an account id, or "me"


@dataclass(frozen=True, slots=True)
class Limits:
    rate_limit: float | None
    flows: tuple[str, ...] | None
    countries: tuple[str, ...] | None
    sender_policy: str

    @classmethod
    def from_json(cls, limits: Any) -> Limits:
        return cls(
            None if limits.get("rateLimit") is None else float(limits["rateLimit"]),
            None if limits.get("flows") is None else tuple(limits["flows"]),
            None if limits.get("countries") is None else tuple(limits["countries"]),
            str(limits.get("senderPolicy", "any")),
        )


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    login: str
    parent_id: int | None
    operator: bool
    state: str  # ACTIVE or DELETED
    balance: Decimal
    limits: Limits
    profile: Mapping[str, str]
    created_at: str
    deleted_at: str | None
    api_key: str | None = None  # a new sub-account's first key, shown once
    #: What holds for its sends, its own limits and its ancestors' combined (None from a gateway without it).
    effective_limits: Limits | None = None

    @classmethod
    def from_json(cls, data: Any) -> Account:
        effective = data.get("effectiveLimits")
        return cls(
            id=int(data["id"]),
            login=str(data["login"]),
            parent_id=data.get("parentId"),
            operator=bool(data.get("operator")),
            state=str(data.get("state", "ACTIVE")),
            balance=Decimal(str(data.get("balance", 0))),
            limits=Limits.from_json(data.get("limits") or {}),
            profile=dict(data.get("profile") or {}),
            created_at=str(data.get("createdAt", "")),
            deleted_at=data.get("deletedAt"),
            api_key=data.get("apiKey"),
            effective_limits=None if effective is None else Limits.from_json(effective),
        )


@dataclass(frozen=True, slots=True)
class Transfer:
    source: int
    to: int
    amount: Decimal
    reference: str | None
    source_balance: Decimal
    to_balance: Decimal
    at: str

    @classmethod
    def from_json(cls, data: Any) -> Transfer:
        return cls(
            int(data["from"]),
            int(data["to"]),
            Decimal(str(data["amount"])),
            data.get("reference"),
            Decimal(str(data["fromBalance"])),
            Decimal(str(data["toBalance"])),
            str(data["at"]),
        )


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    account_id: int
    label: str
    flows: tuple[str, ...] | None
    networks: tuple[str, ...] | None
    state: str  # ACTIVE, REVOKED, EXPIRED
    created_at: str
    revoked_at: str | None
    expires_at: str | None
    access_token: str | None = None  # only in the answer that created it

    @classmethod
    def from_json(cls, data: Any) -> ApiKey:
        return cls(
            int(data["id"]),
            int(data["accountId"]),
            str(data.get("label", "")),
            None if data.get("flows") is None else tuple(data["flows"]),
            None if data.get("networks") is None else tuple(data["networks"]),
            str(data["state"]),
            str(data["createdAt"]),
            data.get("revokedAt"),
            data.get("expiresAt"),
            data.get("accessToken"),
        )


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: int
    at: str
    amount: Decimal
    reason: str
    reference: str | None
    counterparty: str | None
    note: str | None
    balance_after: Decimal

    @classmethod
    def from_json(cls, data: Any) -> LedgerEntry:
        return cls(
            int(data["id"]),
            str(data["at"]),
            Decimal(str(data["amount"])),
            str(data["reason"]),
            data.get("reference"),
            data.get("counterparty"),
            data.get("note"),
            Decimal(str(data["balanceAfter"])),
        )


@dataclass(frozen=True, slots=True)
class UsageDay:
    date: date
    messages: Mapping[str, int]
    parts: Mapping[str, int]
    credits: Decimal
    movements: Mapping[str, Decimal]

    @classmethod
    def from_json(cls, data: Any) -> UsageDay:
        return cls(
            date.fromisoformat(str(data["date"])),
            {str(k): int(v) for k, v in (data.get("messages") or {}).items()},
            {str(k): int(v) for k, v in (data.get("parts") or {}).items()},
            Decimal(str(data.get("credits", 0))),
            {str(k): Decimal(str(v)) for k, v in (data.get("movements") or {}).items()},
        )


@dataclass(frozen=True, slots=True)
class SenderId:
    sender: str
    status: str  # requested, approved, refused
    requested_at: str
    decided_at: str | None

    @classmethod
    def from_json(cls, data: Any) -> SenderId:
        return cls(str(data["sender"]), str(data["status"]), str(data["requestedAt"]), data.get("decidedAt"))


@dataclass(frozen=True, slots=True)
class Webhooks:
    """Where and when an account is called back when a send names no URL of its own."""

    callback_url: str | None  # delivery reports
    reply_url: str | None  # replies
    callback_statuses: str  # "all": every status change (smsmode's way); "final": the final one only

    @classmethod
    def from_json(cls, data: Any) -> Webhooks:
        return cls(data.get("callbackUrl"), data.get("replyUrl"), str(data["callbackStatuses"]))


# --- REST requests ---


def _ref(account: AccountRef) -> str:
    text = str(account)
    if not text:
        raise ValueError("an empty account id names no account")
    return quote(text, safe="")


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _create_subaccount(
    parent: AccountRef, login: str, password: str | None, profile: Mapping[str, str] | None, key: bool
) -> Request:
    body: dict[str, Any] = {"login": login, "key": key}
    if password is not None:
        body["password"] = password
    if profile:
        body["profile"] = dict(profile)
    return Request("POST", f"{ACCOUNTS}/{_ref(parent)}/subaccounts", json=body, repeat=Repeat.UNSENT_ONLY)


_UNSET: Any = object()


def _limits(account: AccountRef, rate_limit: Any, flows: Any, countries: Any, sender_policy: Any) -> Request:
    body: dict[str, Any] = {}
    for name, value in (
        ("rateLimit", rate_limit),
        ("flows", flows),
        ("countries", countries),
        ("senderPolicy", sender_policy),
    ):
        if value is not _UNSET:
            body[name] = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else value
    return Request("PATCH", f"{ACCOUNTS}/{_ref(account)}", json=body)


def _webhooks(account: AccountRef, callback_url: Any, reply_url: Any, callback_statuses: Any) -> Request:
    values = (("callbackUrl", callback_url), ("replyUrl", reply_url), ("callbackStatuses", callback_statuses))
    body = {name: value for name, value in values if value is not _UNSET}
    return Request("PATCH", f"{ACCOUNTS}/{_ref(account)}/webhooks", json=body)


def _transfer(to: int, amount: Decimal | int | str, source: int | None, reference: str | None) -> Request:
    body: dict[str, Any] = {"to": to, "amount": float(Decimal(str(amount)))}
    if source is not None:
        body["from"] = source
    if reference is not None:
        body["reference"] = reference
    return Request("POST", TRANSFERS, json=body, repeat=Repeat.UNSENT_ONLY)


def _create_key(
    account: int | None,
    label: str,
    flows: Sequence[str] | None,
    networks: Sequence[str] | None,
    expires_at: datetime | None,
) -> Request:
    body: dict[str, Any] = {"label": label}
    if account is not None:
        body["accountId"] = account
    if flows is not None:
        body["flows"] = list(flows)
    if networks is not None:
        body["networks"] = list(networks)
    if expires_at is not None:
        body["expiresAt"] = expires_at.isoformat()
    return Request("POST", KEYS, json=body, repeat=Repeat.UNSENT_ONLY)


def _ledger(account: AccountRef, start: datetime | None, end: datetime | None, csv: bool) -> Request:
    params = {"startDate": _time(start), "endDate": _time(end), "format": "csv" if csv else None}
    if not csv:
        params["pageSize"] = "100"
    return Request(
        "GET", f"{ACCOUNTS}/{_ref(account)}/ledger", params={k: v for k, v in params.items() if v is not None}
    )


def _messages(account: AccountRef) -> Request:
    return Request("GET", f"{ACCOUNTS}/{_ref(account)}/messages", params={"pageSize": "100"})


def _usage(account: AccountRef, first: date, last: date) -> Request:
    params = {"from": first.isoformat(), "to": last.isoformat()}
    return Request("GET", f"{ACCOUNTS}/{_ref(account)}/usage", params=params)


def _items(response: httpx.Response) -> list[Any]:
    data = loads(response.content)
    return list(data.get("items") or [])


def _next(request: Request, response: httpx.Response) -> Request | None:
    data = loads(response.content)
    link = data.get("next")
    return Request("GET", str(link)) if link and data.get("items") else None


class AccountsClient:
    """`client.accounts`: the account tree over the REST API (docs/sdk.md, docs/resellers.md)."""

    def __init__(self, http: SyncHTTP, api_key: str) -> None:
        self._http = http
        #: smsmode's sub-account calls, same key and connection pool.
        self.legacy = LegacyAccounts(http, api_key)

    def me(self) -> Account:
        return self.get("me")

    def get(self, account: AccountRef) -> Account:
        return Account.from_json(loads(self._http.send(Request("GET", f"{ACCOUNTS}/{_ref(account)}")).content))

    def subaccounts(self, account: AccountRef = "me") -> list[Account]:
        request = Request("GET", f"{ACCOUNTS}/{_ref(account)}/subaccounts")
        return [Account.from_json(item) for item in _items(self._http.send(request))]

    def create_subaccount(
        self,
        login: str,
        *,
        password: str | None = None,
        profile: Mapping[str, str] | None = None,
        parent: AccountRef = "me",
        key: bool = True,
    ) -> Account:
        """A new sub-account (of the caller, or of `parent` below it); its first API key in `api_key`."""
        response = self._http.send(_create_subaccount(parent, login, password, profile, key))
        return Account.from_json(loads(response.content))

    def set_limits(
        self,
        account: AccountRef,
        *,
        rate_limit: float | None = _UNSET,
        flows: Sequence[str] | None = _UNSET,
        countries: Sequence[str] | None = _UNSET,
        sender_policy: str | None = _UNSET,
    ) -> Account:
        """Cap a sub-account (and its own sub-accounts); None removes a limit, an omitted one stays."""
        request = _limits(account, rate_limit, flows, countries, sender_policy)
        return Account.from_json(loads(self._http.send(request).content))

    def delete(self, account: AccountRef) -> Account:
        """Delete a sub-account: it can no longer send or log in; its credits go back to its parent."""
        request = Request("DELETE", f"{ACCOUNTS}/{_ref(account)}", repeat=Repeat.UNSENT_ONLY)
        return Account.from_json(loads(self._http.send(request).content))

    def transfer(
        self, to: int, amount: Decimal | int | str, *, source: int | None = None, reference: str | None = None
    ) -> Transfer:
        return Transfer.from_json(loads(self._http.send(_transfer(to, amount, source, reference)).content))

    def keys(self, account: int | None = None) -> list[ApiKey]:
        params = {"accountId": str(account)} if account is not None else None
        return [ApiKey.from_json(i) for i in _items(self._http.send(Request("GET", KEYS, params=params)))]

    def create_key(
        self,
        *,
        account: int | None = None,
        label: str = "",
        flows: Sequence[str] | None = None,
        networks: Sequence[str] | None = None,
        expires_at: datetime | None = None,
    ) -> ApiKey:
        """A new key (`access_token` is shown only now), no wider than the key calling."""
        request = _create_key(account, label, flows, networks, expires_at)
        return ApiKey.from_json(loads(self._http.send(request).content))

    def revoke_key(self, key_id: int) -> ApiKey:
        return ApiKey.from_json(loads(self._http.send(Request("DELETE", f"{KEYS}/{key_id}")).content))

    def ledger(
        self, account: AccountRef = "me", *, start: datetime | None = None, end: datetime | None = None
    ) -> Iterator[LedgerEntry]:
        """Every movement, oldest first, with the balance after it (pages fetched as the iteration needs)."""
        current: Request | None = _ledger(account, start, end, csv=False)
        while current is not None:
            response = self._http.send(current)
            yield from (LedgerEntry.from_json(item) for item in _items(response))
            current = _next(current, response)

    def ledger_csv(
        self, account: AccountRef = "me", *, start: datetime | None = None, end: datetime | None = None
    ) -> str:
        return self._http.send(_ledger(account, start, end, csv=True)).content.decode("utf-8")

    def messages(self, account: AccountRef) -> Iterator[Message]:
        """The messages of an account below the caller (a deleted one's too), newest first, each once (pages
        shift when messages arrive meanwhile)."""
        current: Request | None = _messages(account)
        seen: set[str] = set()
        while current is not None:
            response = self._http.send(current)
            yield from fresh([Message.from_json(item) for item in _items(response)], seen, _message_id)
            current = _next(current, response)

    def usage(self, account: AccountRef, first: date, last: date) -> list[UsageDay]:
        data = loads(self._http.send(_usage(account, first, last)).content)
        return [UsageDay.from_json(day) for day in data.get("days") or ()]

    def senders(self, account: AccountRef = "me") -> list[SenderId]:
        request = Request("GET", f"{ACCOUNTS}/{_ref(account)}/senders")
        return [SenderId.from_json(item) for item in _items(self._http.send(request))]

    def request_sender(self, sender: str, account: AccountRef = "me") -> SenderId:
        request = Request("POST", f"{ACCOUNTS}/{_ref(account)}/senders", json={"sender": sender})
        return SenderId.from_json(loads(self._http.send(request).content))

    def decide_sender(self, account: AccountRef, sender: str, status: str) -> SenderId:
        """`status`: "approved" or "refused" (by an account above, or an operator)."""
        path = f"{ACCOUNTS}/{_ref(account)}/senders/{quote(sender, safe='')}"
        return SenderId.from_json(loads(self._http.send(Request("PATCH", path, json={"status": status})).content))

    def webhooks(self, account: AccountRef = "me") -> Webhooks:
        request = Request("GET", f"{ACCOUNTS}/{_ref(account)}/webhooks")
        return Webhooks.from_json(loads(self._http.send(request).content))

    def set_webhooks(
        self,
        account: AccountRef = "me",
        *,
        callback_url: str | None = _UNSET,
        reply_url: str | None = _UNSET,
        callback_statuses: str = _UNSET,
    ) -> Webhooks:
        """Set what is given (None or "" removes a URL); what is omitted stays."""
        request = _webhooks(account, callback_url, reply_url, callback_statuses)
        return Webhooks.from_json(loads(self._http.send(request).content))


class AsyncAccountsClient:
    """`client.accounts` of an `AsyncClient`: see `AccountsClient`."""

    def __init__(self, http: AsyncHTTP, api_key: str) -> None:
        self._http = http
        #: See `AccountsClient.legacy`.
        self.legacy = AsyncLegacyAccounts(http, api_key)

    async def me(self) -> Account:
        return await self.get("me")

    async def get(self, account: AccountRef) -> Account:
        response = await self._http.send(Request("GET", f"{ACCOUNTS}/{_ref(account)}"))
        return Account.from_json(loads(response.content))

    async def subaccounts(self, account: AccountRef = "me") -> list[Account]:
        response = await self._http.send(Request("GET", f"{ACCOUNTS}/{_ref(account)}/subaccounts"))
        return [Account.from_json(item) for item in _items(response)]

    async def create_subaccount(
        self,
        login: str,
        *,
        password: str | None = None,
        profile: Mapping[str, str] | None = None,
        parent: AccountRef = "me",
        key: bool = True,
    ) -> Account:
        response = await self._http.send(_create_subaccount(parent, login, password, profile, key))
        return Account.from_json(loads(response.content))

    async def set_limits(
        self,
        account: AccountRef,
        *,
        rate_limit: float | None = _UNSET,
        flows: Sequence[str] | None = _UNSET,
        countries: Sequence[str] | None = _UNSET,
        sender_policy: str | None = _UNSET,
    ) -> Account:
        response = await self._http.send(_limits(account, rate_limit, flows, countries, sender_policy))
        return Account.from_json(loads(response.content))

    async def delete(self, account: AccountRef) -> Account:
        request = Request("DELETE", f"{ACCOUNTS}/{_ref(account)}", repeat=Repeat.UNSENT_ONLY)
        return Account.from_json(loads((await self._http.send(request)).content))

    async def transfer(
        self, to: int, amount: Decimal | int | str, *, source: int | None = None, reference: str | None = None
    ) -> Transfer:
        response = await self._http.send(_transfer(to, amount, source, reference))
        return Transfer.from_json(loads(response.content))

    async def keys(self, account: int | None = None) -> list[ApiKey]:
        params = {"accountId": str(account)} if account is not None else None
        return [ApiKey.from_json(i) for i in _items(await self._http.send(Request("GET", KEYS, params=params)))]

    async def create_key(
        self,
        *,
        account: int | None = None,
        label: str = "",
        flows: Sequence[str] | None = None,
        networks: Sequence[str] | None = None,
        expires_at: datetime | None = None,
    ) -> ApiKey:
        response = await self._http.send(_create_key(account, label, flows, networks, expires_at))
        return ApiKey.from_json(loads(response.content))

    async def revoke_key(self, key_id: int) -> ApiKey:
        return ApiKey.from_json(loads((await self._http.send(Request("DELETE", f"{KEYS}/{key_id}"))).content))

    async def ledger(
        self, account: AccountRef = "me", *, start: datetime | None = None, end: datetime | None = None
    ) -> AsyncIterator[LedgerEntry]:
        current: Request | None = _ledger(account, start, end, csv=False)
        while current is not None:
            response = await self._http.send(current)
            for item in _items(response):
                yield LedgerEntry.from_json(item)
            current = _next(current, response)

    async def ledger_csv(
        self, account: AccountRef = "me", *, start: datetime | None = None, end: datetime | None = None
    ) -> str:
        return (await self._http.send(_ledger(account, start, end, csv=True))).content.decode("utf-8")

    async def messages(self, account: AccountRef) -> AsyncIterator[Message]:
        """See `AccountsClient.messages`."""
        current: Request | None = _messages(account)
        seen: set[str] = set()
        while current is not None:
            response = await self._http.send(current)
            for message in fresh([Message.from_json(item) for item in _items(response)], seen, _message_id):
                yield message
            current = _next(current, response)

    async def usage(self, account: AccountRef, first: date, last: date) -> list[UsageDay]:
        data = loads((await self._http.send(_usage(account, first, last))).content)
        return [UsageDay.from_json(day) for day in data.get("days") or ()]

    async def senders(self, account: AccountRef = "me") -> list[SenderId]:
        response = await self._http.send(Request("GET", f"{ACCOUNTS}/{_ref(account)}/senders"))
        return [SenderId.from_json(item) for item in _items(response)]

    async def request_sender(self, sender: str, account: AccountRef = "me") -> SenderId:
        request = Request("POST", f"{ACCOUNTS}/{_ref(account)}/senders", json={"sender": sender})
        return SenderId.from_json(loads((await self._http.send(request)).content))

    async def decide_sender(self, account: AccountRef, sender: str, status: str) -> SenderId:
        path = f"{ACCOUNTS}/{_ref(account)}/senders/{quote(sender, safe='')}"
        response = await self._http.send(Request("PATCH", path, json={"status": status}))
        return SenderId.from_json(loads(response.content))

    async def webhooks(self, account: AccountRef = "me") -> Webhooks:
        response = await self._http.send(Request("GET", f"{ACCOUNTS}/{_ref(account)}/webhooks"))
        return Webhooks.from_json(loads(response.content))

    async def set_webhooks(
        self,
        account: AccountRef = "me",
        *,
        callback_url: str | None = _UNSET,
        reply_url: str | None = _UNSET,
        callback_statuses: str = _UNSET,
    ) -> Webhooks:
        response = await self._http.send(_webhooks(account, callback_url, reply_url, callback_statuses))
        return Webhooks.from_json(loads(response.content))


# --- smsmode's sub-account calls ---


def _legacy(name: str, api_key: str, params: Mapping[str, str | int | None]) -> Request:
    pairs = [("accessToken", api_key)] + [(k, str(v)) for k, v in params.items() if v is not None]
    return Request(
        "POST",
        f"{LEGACY}{name}.do",
        content=urlencode(pairs, encoding="utf-8").encode("ascii"),
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Accept": "text/plain"},
        repeat=Repeat.UNSENT_ONLY,
    )


def _text(response: httpx.Response) -> str:
    return response.content.decode(response.charset_encoding or ANSWER_CHARSET, errors="replace")


def parse_done(answer: str, code_41: type[MartinetError], error_code: str) -> None:
    """`0 | ...` → None; `41 | ...` → `code_41`; other error codes → their exception."""
    parts = fields(answer)
    if parts[0] == "0":
        return
    if parts[0] == "41":
        raise code_41(answer.strip(), error_code=error_code, title=parts[-1], smsmode_code=41)
    raise error_of(answer) or MartinetError(f"unexpected answer: {answer.strip()[:200]!r}")


def parse_authorisation(response: httpx.Response) -> dict[str, Any]:
    if response.headers.get("content-type", "").startswith("application/json"):
        document = json.loads(response.content)
        if isinstance(document, dict):
            return document
    answer = _text(response)
    raise error_of(answer) or MartinetError(f"unexpected answer: {answer.strip()[:200]!r}")


def _create(api_key: str, login: str, password: str, profile: Mapping[str, str]) -> Request:
    return _legacy("createSubAccount", api_key, {"newPseudo": login, "newPass": password, **profile})


def _credit(api_key: str, target: str, amount: int, reference: str | None) -> Request:
    return _legacy("creditTransfert", api_key, {"targetPseudo": target, "creditAmount": amount, "reference": reference})


def _authorisation(api_key: str) -> Request:
    content = urlencode([("accessToken", api_key)]).encode("ascii")
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    return Request("POST", AUTHORISATION, content=content, headers=headers, repeat=Repeat.UNSENT_ONLY)


class LegacyAccounts:
    """`client.accounts.legacy`: `createSubAccount.do`, `deleteSubAccount.do`, `creditTransfert.do` and
    `/http/2.0/createAuthorisation.do`."""

    def __init__(self, http: SyncHTTP, api_key: str) -> None:
        self._http = http
        self._key = api_key

    def create_sub_account(self, login: str, password: str, **profile: str) -> None:
        """`profile`: smsmode's `nom`, `prenom`, `societe`, `email`...; `ConflictError` (41) when the login exists."""
        parse_done(_text(self._http.send(_create(self._key, login, password, profile))), ConflictError, "LOGIN_TAKEN")

    def delete_sub_account(self, login: str) -> None:
        answer = _text(self._http.send(_legacy("deleteSubAccount", self._key, {"pseudoToDelete": login})))
        parse_done(answer, NotFoundError, "NOT_FOUND")

    def credit_transfer(self, target: str, amount: int, reference: str | None = None) -> None:
        """Whole credits to a sub-account or back to the parent; `NotFoundError` (41), `InsufficientCreditError`."""
        parse_done(_text(self._http.send(_credit(self._key, target, amount, reference))), NotFoundError, "NOT_FOUND")

    def create_authorisation(self) -> dict[str, Any]:
        """A new API key for the calling account: smsmode's JSON (`accessToken`, `id`, `creationDate`...)."""
        return parse_authorisation(self._http.send(_authorisation(self._key)))


class AsyncLegacyAccounts:
    """See `LegacyAccounts`."""

    def __init__(self, http: AsyncHTTP, api_key: str) -> None:
        self._http = http
        self._key = api_key

    async def create_sub_account(self, login: str, password: str, **profile: str) -> None:
        response = await self._http.send(_create(self._key, login, password, profile))
        parse_done(_text(response), ConflictError, "LOGIN_TAKEN")

    async def delete_sub_account(self, login: str) -> None:
        response = await self._http.send(_legacy("deleteSubAccount", self._key, {"pseudoToDelete": login}))
        parse_done(_text(response), NotFoundError, "NOT_FOUND")

    async def credit_transfer(self, target: str, amount: int, reference: str | None = None) -> None:
        response = await self._http.send(_credit(self._key, target, amount, reference))
        parse_done(_text(response), NotFoundError, "NOT_FOUND")

    async def create_authorisation(self) -> dict[str, Any]:
        return parse_authorisation(await self._http.send(_authorisation(self._key)))


def _message_id(message: Message) -> str:
    return message.message_id
