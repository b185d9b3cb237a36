"""The REST API v1 clients, `Client` (blocking) and `AsyncClient`.

Each call is described once by a module-level function (the `Request`, then how to read the answer), so the two
clients differ only by `await`: they cannot drift apart.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypedDict, TypeVar, Unpack, overload
from urllib.parse import quote

import httpx

from martinet.client._http import DEFAULT_TIMEOUT, AsyncHTTP, Request, RetryPolicy, SyncHTTP
from martinet.client.accounts import AccountsClient, AsyncAccountsClient
from martinet.client.contacts import AsyncContactsClient, ContactsClient
from martinet.client.legacy import AsyncLegacyClient, LegacyClient
from martinet.client.models import Balance, Message, Page, Preview, Reply, fresh, loads

T = TypeVar("T")

MESSAGES = "/sms/v1/messages"
PREVIEW = "/sms/v1/messages:preview"
REPLIES = "/sms/v1/replies"
BALANCE = "/commons/v1/balance"
MAX_PAGE_SIZE = 100


class SendOptions(TypedDict, total=False):
    """The optional fields of a send (and of a preview), named as in Python rather than as in the JSON."""

    sender: str | None
    scheduled_at: datetime | None
    ref_client: str | None
    callback_url_status: str | None
    callback_url_mo: str | None
    stop: bool
    flow: str | None
    validity: int | None
    groups: Sequence[str] | None  # contact groups; `text` is then a template ({prenom}, {nom}, free fields)
    voice: bool  # read `text` aloud in a phone call (channel VOICE) instead of sending an SMS
    voice_title: str | None  # with `voice`: read first (default: the platform's introduction)
    voice_language: str | None  # with `voice`: fr-FR (default), en-GB, de-DE, es-ES


def _send_body(to: str | None, text: str, recipients: Sequence[str] | None, options: SendOptions) -> dict[str, Any]:
    groups = options.get("groups")
    if (to is None) == (recipients is None) and not (groups and to is None):
        raise ValueError("give either `to` (one recipient) or `recipients` (several), not both nor neither")
    if isinstance(recipients, str):
        raise TypeError("`recipients` is a sequence of numbers; for one number use `to`")
    body: dict[str, Any] = {}
    if to is not None:
        body["recipient"] = {"to": to}
    elif recipients is not None:
        body["recipients"] = [{"to": number} for number in recipients]
    body["body"] = {"text": text, "stop": bool(options.get("stop", False))}
    scheduled = options.get("scheduled_at")
    fields: dict[str, Any] = {
        "from": options.get("sender"),
        "sentDate": scheduled.isoformat() if scheduled is not None else None,
        "refClient": options.get("ref_client"),
        "callbackUrlStatus": options.get("callback_url_status"),
        "callbackUrlMo": options.get("callback_url_mo"),
        "flow": options.get("flow"),
        "validity": options.get("validity"),
        "groups": list(groups) if groups else None,
    }
    body.update({key: value for key, value in fields.items() if value is not None})
    if options.get("voice"):
        body["channel"] = "VOICE"
        voice = {"title": options.get("voice_title"), "language": options.get("voice_language")}
        body["voice"] = {key: value for key, value in voice.items() if value is not None}
    return body


def _send_request(
    to: str | None, text: str, recipients: Sequence[str] | None, key: str | None, options: SendOptions
) -> Request:
    # One key for the whole call, retries included: that is what makes a retried send safe.
    headers = {"Idempotency-Key": key or uuid.uuid4().hex}
    return Request("POST", MESSAGES, json=_send_body(to, text, recipients, options), headers=headers)


def _sent(response: httpx.Response) -> Message | list[Message]:
    """The message sent, or the list of them when the gateway answers several (`recipients`, or `groups`, even
    with one `to`): read by the answer's shape, never guessed from the call."""
    data = loads(response.content)
    if "messages" in data:
        return [Message.from_json(item) for item in data["messages"]]
    return Message.from_json(data)


def _preview_request(to: str | None, text: str, recipients: Sequence[str] | None, options: SendOptions) -> Request:
    return Request("POST", PREVIEW, json=_send_body(to, text, recipients, options))


def _path_id(value: str) -> str:
    if not value:
        raise ValueError("an empty id names no resource")
    return quote(value, safe="")


def _time_param(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _list_request(path: str, page_size: int, **filters: str | None) -> Request:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
    params = {"page": "1", "pageSize": str(page_size)}
    params.update({key: value for key, value in filters.items() if value is not None})
    return Request("GET", path, params=params)


def _messages_request(
    start: datetime | None,
    end: datetime | None,
    status: str | None,
    recipient: str | None,
    ref_client: str | None,
    page_size: int,
) -> Request:
    return _list_request(
        MESSAGES,
        page_size,
        startDate=_time_param(start),
        endDate=_time_param(end),
        status=status,
        recipient=recipient,
        refClient=ref_client,
    )


def _replies_request(start: datetime | None, end: datetime | None, page_size: int) -> Request:
    return _list_request(REPLIES, page_size, startDate=_time_param(start), endDate=_time_param(end))


def _next_request(request: Request, page: Page[Any]) -> Request | None:
    """The request for the page after `page`: its `next` link, else the next page number while `hasMore`."""
    if not page.items:
        return None
    if page.next:
        return Request("GET", page.next)
    if page.has_more:
        params = dict(request.params or {})
        params["page"] = str(page.page + 1)
        return Request("GET", request.path, params=params)
    return None


def _message_key(message: Message) -> str:
    return message.message_id


def _reply_key(reply: Reply) -> str:
    return reply.response_id


class Client:
    """The blocking client. One per application (it keeps a connection pool); safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        policy = RetryPolicy(retries, backoff_base, backoff_max, max_retry_after)
        self._http = SyncHTTP(
            base_url, api_key, timeout=timeout, policy=policy, transport=transport, http_client=http_client
        )
        #: The smsmode HTTP API 1.6 (`sendSMS.do`…) with the same key and connection pool.
        self.legacy = LegacyClient(self._http, api_key)
        #: The address book (`/sms/v1/contacts`, `/sms/v1/groups`).
        self.contacts = ContactsClient(self._http)
        #: The account tree: sub-accounts, transfers, keys, ledger, usage, sender IDs (docs/resellers.md).
        self.accounts = AccountsClient(self._http, api_key)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @overload
    def send(
        self, to: str, text: str, *, idempotency_key: str | None = None, **options: Unpack[SendOptions]
    ) -> Message: ...

    @overload
    def send(
        self,
        to: None = None,
        text: str = "",
        *,
        recipients: Sequence[str],
        idempotency_key: str | None = None,
        **options: Unpack[SendOptions],
    ) -> list[Message]: ...

    def send(
        self,
        to: str | None = None,
        text: str = "",
        *,
        recipients: Sequence[str] | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[SendOptions],
    ) -> Message | list[Message]:
        """Send one SMS (`to`) or one per recipient (`recipients`, the answer's messages in the same order); with
        `groups` the answer is always the list, one message per recipient (numbers given first).

        Give `idempotency_key` (your order or event id) to make the send safe to repeat across processes too:
        within 24 hours the gateway answers the same key with the first send instead of sending again.
        """
        request = _send_request(to, text, recipients, idempotency_key, options)
        return _sent(self._http.send(request))

    def preview(
        self,
        to: str | None = None,
        text: str = "",
        *,
        recipients: Sequence[str] | None = None,
        **options: Unpack[SendOptions],
    ) -> Preview:
        """What `send` with the same arguments would send and cost, without sending or charging."""
        return Preview.from_json(loads(self._http.send(_preview_request(to, text, recipients, options)).content))

    def get(self, message_id: str) -> Message:
        return Message.from_json(loads(self._http.send(Request("GET", f"{MESSAGES}/{_path_id(message_id)}")).content))

    def cancel(self, message_id: str) -> Message:
        """Cancel a scheduled message (refunded); `ConflictError` when it has left already."""
        request = Request("DELETE", f"{MESSAGES}/{_path_id(message_id)}")
        return Message.from_json(loads(self._http.send(request).content))

    def list_messages(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        status: str | None = None,
        recipient: str | None = None,
        ref_client: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[Message]:
        """Messages newest first, fetching pages as the iteration needs them (errors surface while iterating)."""
        request = _messages_request(start, end, status, recipient, ref_client, page_size)
        return self._iterate(request, Message.from_json, _message_key)

    def replies(
        self, *, start: datetime | None = None, end: datetime | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[Reply]:
        """Replies (MO) received, newest first, fetched page by page as the iteration needs them."""
        return self._iterate(_replies_request(start, end, page_size), Reply.from_json, _reply_key)

    def get_reply(self, response_id: str) -> Reply:
        return Reply.from_json(loads(self._http.send(Request("GET", f"{REPLIES}/{_path_id(response_id)}")).content))

    def balance(self) -> Balance:
        return Balance.from_json(loads(self._http.send(Request("GET", BALANCE)).content))

    def _iterate(self, request: Request, item: Callable[[Any], T], key: Callable[[T], str]) -> Iterator[T]:
        seen: set[str] = set()
        current: Request | None = request
        while current is not None:
            page = Page.from_json(loads(self._http.send(current).content), item)
            yield from fresh(page.items, seen, key)
            current = _next_request(current, page)


class AsyncClient:
    """The asyncio client: the same calls as `Client`, awaited; iterate lists with `async for`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_retry_after: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        policy = RetryPolicy(retries, backoff_base, backoff_max, max_retry_after)
        self._http = AsyncHTTP(
            base_url, api_key, timeout=timeout, policy=policy, transport=transport, http_client=http_client
        )
        #: The smsmode HTTP API 1.6 (`sendSMS.do`…) with the same key and connection pool.
        self.legacy = AsyncLegacyClient(self._http, api_key)
        #: The address book (`/sms/v1/contacts`, `/sms/v1/groups`).
        self.contacts = AsyncContactsClient(self._http)
        #: See `Client.accounts`.
        self.accounts = AsyncAccountsClient(self._http, api_key)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    @overload
    async def send(
        self, to: str, text: str, *, idempotency_key: str | None = None, **options: Unpack[SendOptions]
    ) -> Message: ...

    @overload
    async def send(
        self,
        to: None = None,
        text: str = "",
        *,
        recipients: Sequence[str],
        idempotency_key: str | None = None,
        **options: Unpack[SendOptions],
    ) -> list[Message]: ...

    async def send(
        self,
        to: str | None = None,
        text: str = "",
        *,
        recipients: Sequence[str] | None = None,
        idempotency_key: str | None = None,
        **options: Unpack[SendOptions],
    ) -> Message | list[Message]:
        """See `Client.send`."""
        request = _send_request(to, text, recipients, idempotency_key, options)
        return _sent(await self._http.send(request))

    async def preview(
        self,
        to: str | None = None,
        text: str = "",
        *,
        recipients: Sequence[str] | None = None,
        **options: Unpack[SendOptions],
    ) -> Preview:
        """See `Client.preview`."""
        response = await self._http.send(_preview_request(to, text, recipients, options))
        return Preview.from_json(loads(response.content))

    async def get(self, message_id: str) -> Message:
        response = await self._http.send(Request("GET", f"{MESSAGES}/{_path_id(message_id)}"))
        return Message.from_json(loads(response.content))

    async def cancel(self, message_id: str) -> Message:
        """See `Client.cancel`."""
        response = await self._http.send(Request("DELETE", f"{MESSAGES}/{_path_id(message_id)}"))
        return Message.from_json(loads(response.content))

    def list_messages(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        status: str | None = None,
        recipient: str | None = None,
        ref_client: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[Message]:
        """See `Client.list_messages`; use `async for`."""
        request = _messages_request(start, end, status, recipient, ref_client, page_size)
        return self._iterate(request, Message.from_json, _message_key)

    def replies(
        self, *, start: datetime | None = None, end: datetime | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> AsyncIterator[Reply]:
        """See `Client.replies`; use `async for`."""
        return self._iterate(_replies_request(start, end, page_size), Reply.from_json, _reply_key)

    async def get_reply(self, response_id: str) -> Reply:
        response = await self._http.send(Request("GET", f"{REPLIES}/{_path_id(response_id)}"))
        return Reply.from_json(loads(response.content))

    async def balance(self) -> Balance:
        return Balance.from_json(loads((await self._http.send(Request("GET", BALANCE))).content))

    async def _iterate(self, request: Request, item: Callable[[Any], T], key: Callable[[T], str]) -> AsyncIterator[T]:
        seen: set[str] = set()
        current: Request | None = request
        while current is not None:
            page = Page.from_json(loads((await self._http.send(current)).content), item)
            for new in fresh(page.items, seen, key):
                yield new
            current = _next_request(current, page)
