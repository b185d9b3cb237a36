"""The REST door as a plain ASGI application: route, authenticate, read the body, call a handler, answer JSON.

Like the smsmode door it speaks ASGI directly: `POST /sms/v1/messages` is a hot path, and its needs (a few fixed
paths, one header for the key, a JSON body) do not call for a framework's request and response objects.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl

import orjson

from martinet import logs
from martinet.api.asgi import BodyTooLarge, ClientGone, Receive, Scope, Send, client_address, read_body, reply
from martinet.api.rest import accounts, contacts, counting, handlers
from martinet.api.rest.docs import DocsUi
from martinet.api.rest.handlers import Answer, Handler, RestRequest, RestServices
from martinet.api.rest.json_body import utf8_json, without_nul
from martinet.api.rest.openapi import DOCS_PATH, OPENAPI_PATH, openapi_document
from martinet.api.rest.problems import Problem
from martinet.services.auth import Authenticator, Caller, TooManyFailures
from martinet.services.auth_failures import retry_after_header

log = logging.getLogger(__name__)

PREFIXES = ("/sms/v1/", "/commons/v1/")

_JSON = (b"content-type", b"application/json")
_PROBLEM = (b"content-type", b"application/problem+json")

SEND_PATH = "/sms/v1/messages"
#: Fixed paths → handler per method.
ROUTES: dict[str, dict[str, Handler]] = {
    "/sms/v1/messages": {"GET": handlers.list_messages, "POST": handlers.send},
    "/sms/v1/messages:preview": {"POST": handlers.preview},
    "/sms/v1/replies": {"GET": handlers.list_replies},
    "/commons/v1/balance": {"GET": handlers.balance},
}
#: Paths ending in one `{id}` segment: prefix → handler per method.
ITEM_ROUTES: dict[str, dict[str, Handler]] = {
    "/sms/v1/messages/": {"GET": handlers.get_message, "DELETE": handlers.cancel_message},
    "/sms/v1/replies/": {"GET": handlers.get_reply},
}


class RestDoor:
    """Checks, in this order and each before the next costs anything: the route and method, the client address's
    recent failures, the API key, the key's networks, the body's type and size (by its Content-Length, then as it
    arrives); only then is the body parsed and the handler called. A body refused before it is read is never
    read: the server discards what the client still sends of it."""

    def __init__(
        self, services: RestServices, auth: Authenticator, *, max_body_bytes: int, tracebacks: logs.Tracebacks
    ) -> None:
        self._services = services
        self._auth = auth
        self._tracebacks = tracebacks  # which handler failures are logged with their traceback
        self._max_body = max_body_bytes
        self._openapi = orjson.dumps(openapi_document())
        self._docs = DocsUi()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        documents = path in (OPENAPI_PATH, DOCS_PATH) or path.startswith(DOCS_PATH + "/")
        if documents and method not in ("GET", "HEAD"):
            problem = Problem("METHOD_NOT_ALLOWED", f"{method} is not allowed here", None, [(b"allow", b"GET, HEAD")])
            await reply(send, problem.status, orjson.dumps(problem.body()), [_PROBLEM, *problem.headers])
            return
        if path == OPENAPI_PATH:
            await reply(send, 200, self._openapi, [_JSON, (b"access-control-allow-origin", b"*")])
            return
        if documents:
            await reply(send, *self._docs.answer(path))
            return
        try:
            answer = await self._answer(scope, receive, path, method)
        except Problem as problem:
            if path == SEND_PATH and method == "POST":
                counting.refused_at_the_door(problem.code)
            await reply(send, problem.status, orjson.dumps(problem.body()), [_PROBLEM, *problem.headers])
            return
        except ClientGone:
            return  # a cut request: nothing of it is acted on, and nobody is left to answer
        except Exception as exc:
            log.error(
                "REST endpoint failed: %s %s",
                method,
                path,
                extra={"error": logs.failure(exc)},
                exc_info=self._tracebacks.of(exc),
            )
            fault = Problem("INTERNAL_ERROR", "the gateway failed to answer; the fault is logged")
            await reply(send, 500, orjson.dumps(fault.body()), [_PROBLEM])
            return
        if answer.status == 204:  # no content, so no type of it either
            await reply(send, 204, b"", list(answer.headers))
            return
        typed = any(name == b"content-type" for name, _ in answer.headers)  # a CSV export names its own
        headers = [*([] if typed else [_JSON]), *answer.headers]
        if isinstance(answer.payload, AsyncIterator):
            await self._stream(send, answer.status, answer.payload, headers, path)
            return
        payload = answer.payload if isinstance(answer.payload, bytes) else orjson.dumps(answer.payload)
        await reply(send, answer.status, payload, headers)

    async def _stream(
        self, send: Send, status: int, chunks: AsyncIterator[bytes], headers: list[tuple[bytes, bytes]], path: str
    ) -> None:
        """An answer sent as its chunks come (an export of a whole address book), never held whole in memory.
        Its first chunk is read before the status line, so a failure at the start still gets its problem answer;
        one after it can only cut the answer short, which the client sees (no final chunk) and the log says."""
        try:
            first = await anext(chunks, b"")
        except Exception as exc:
            error = {"error": logs.failure(exc)}
            log.error("REST endpoint failed: GET %s", path, extra=error, exc_info=self._tracebacks.of(exc))
            fault = Problem("INTERNAL_ERROR", "the gateway failed to answer; the fault is logged")
            await reply(send, 500, orjson.dumps(fault.body()), [_PROBLEM])
            return
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": first, "more_body": True})
        try:
            async for chunk in chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except Exception as exc:
            error = {"error": logs.failure(exc)}
            log.error("REST answer cut short: GET %s", path, extra=error, exc_info=self._tracebacks.of(exc))
            return
        await send({"type": "http.response.body", "body": b""})

    async def _answer(self, scope: Scope, receive: Receive, path: str, method: str) -> Answer:
        headers = dict(scope["headers"])
        handler, target, caller = await self._admit(scope, headers, path, method)
        body = b""
        if method in ("POST", "PATCH"):
            content_type = headers.get(b"content-type", b"application/json")
            media_type = content_type.split(b";")[0].strip().lower()
            if path in contacts.CSV_BODY_PATHS:  # a CSV file: any type a client may label it with
                body = await self._body(receive, headers)
            elif media_type != b"application/json" and not media_type.endswith(b"+json"):
                raise Problem("UNSUPPORTED_MEDIA_TYPE", "the body must be application/json")
            else:
                body = without_nul(utf8_json(await self._body(receive, headers), content_type))
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        return await handler(self._services, RestRequest(caller, method, path, target, query, headers, body))

    async def _admit(
        self, scope: Scope, headers: dict[bytes, bytes], path: str, method: str
    ) -> tuple[Handler, str | None, Caller]:
        """The handler, the path's `{id}` and the caller of a request, or the Problem that refuses it."""
        methods, target = _route(path)
        handler = methods.get("GET" if method == "HEAD" else method)  # HEAD: a GET whose body uvicorn leaves out
        if handler is None:
            allow = ", ".join([*methods, *(["HEAD"] if "GET" in methods else [])]).encode()
            raise Problem("METHOD_NOT_ALLOWED", f"{method} is not allowed here", None, [(b"allow", allow)])
        address = client_address(scope)
        key = _api_key(headers)
        try:
            wait = self._auth.retry_after(address)
            if wait > 0:
                raise TooManyFailures(wait)
            caller = await self._auth.by_token(key, address)
        except TooManyFailures as exc:
            raise Problem(
                "TOO_MANY_AUTH_FAILURES",
                "too many failed authentications from this address; retry later",
                None,
                [(b"retry-after", retry_after_header(exc.retry_after))],
            ) from None
        if caller is None:  # a 401 names how to authenticate (RFC 9110 §11.6.1): the key, also as a bearer token
            raise Problem(
                "UNAUTHORIZED",
                "a valid X-Api-Key header (or Authorization: Bearer) is required",
                None,
                [(b"www-authenticate", b'Bearer realm="martinet"')],
            )
        if not caller.limits.allows_address(address):
            raise Problem("NETWORK_NOT_ALLOWED", "this key may not be used from this address")
        return handler, target, caller

    async def _body(self, receive: Receive, headers: dict[bytes, bytes]) -> bytes:
        try:
            return await read_body(receive, headers, self._max_body)
        except BodyTooLarge:
            raise Problem("PAYLOAD_TOO_LARGE", f"the body is larger than {self._max_body} bytes") from None


def _api_key(headers: dict[bytes, bytes]) -> str:
    """The key of a request: `X-Api-Key`, smsmode's header, or else `Authorization: Bearer`, which generic HTTP
    tools and OpenAPI generators send for a token."""
    key = headers.get(b"x-api-key")
    if key is None:
        scheme, _, credentials = headers.get(b"authorization", b"").strip().partition(b" ")
        key = credentials if scheme.lower() == b"bearer" else b""
    return key.decode("latin-1").strip()


def _route(path: str) -> tuple[dict[str, Handler], str | None]:
    methods = ROUTES.get(path)
    if methods is not None:
        return methods, None
    address_book = contacts.handlers(path)
    if address_book is not None:
        return address_book, None
    for prefix, item_methods in ITEM_ROUTES.items():
        if path.startswith(prefix):
            target = path[len(prefix) :]
            if target and "/" not in target:
                return item_methods, target
    found = accounts.route(path)  # accounts, transfers, keys (docs/resellers.md)
    if found is not None:
        return found
    raise Problem("NOT_FOUND", "no such resource")
