"""The smsmode door as a plain ASGI application: raw request in, ISO-8859-15 text out.

This is the hottest path of the gateway and its needs are narrow (one path prefix, the raw query string and
body, a text answer), so it speaks ASGI directly instead of going through a router, request and response objects
and middleware: the same work at a fraction of the per-request cost. Every other route stays in Starlette.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from martinet.api.legacy import answers
from martinet.api.legacy.decoding import decode_params
from martinet.api.legacy.endpoints import COUNTERS as SEND_COUNTERS
from martinet.api.legacy.endpoints import ENDPOINTS, Call, LegacyServices, send_sms
from martinet.services.accept import InvalidParameter
from martinet.services.auth import Authenticator, Caller

log = logging.getLogger(__name__)

PREFIX = "/http/1.6/"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_ENDPOINTS_BY_NAME = {f"{name.lower()}.do": endpoint for name, endpoint in ENDPOINTS.items()}
_TEXT_HEADERS = [(b"content-type", answers.CONTENT_TYPE.encode("ascii"))]
_PLAIN = [(b"content-type", b"text/plain; charset=utf-8")]


class LegacyDoor:
    def __init__(self, services: LegacyServices, auth: Authenticator, *, max_body_bytes: int) -> None:
        self._services = services
        self._auth = auth
        self._max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        endpoint = _ENDPOINTS_BY_NAME.get(scope["path"][len(PREFIX) :].lower())
        if endpoint is None:
            await _reply(send, 404, b"Not Found", _PLAIN)
            return
        if method not in ("GET", "POST", "HEAD"):
            await _reply(send, 405, b"Method Not Allowed", [*_PLAIN, (b"allow", b"GET, POST")])
            return
        headers = dict(scope["headers"])
        body = b""
        if method == "POST":
            read = await self._body(receive, headers)
            if read is None:
                await _reply(send, 413, b"Request Entity Too Large", _PLAIN)
                return
            body = read
        content_type = headers.get(b"content-type", b"").decode("latin-1") or None
        params = decode_params(scope.get("query_string", b""), body, content_type)
        client = scope.get("client")
        text = await self._answer(endpoint, params, method, client[0] if client else None)
        await _reply(send, 200, answers.encode(text), _TEXT_HEADERS)

    async def _answer(
        self,
        endpoint: Callable[[LegacyServices, Call], Awaitable[str]],
        params: dict[str, str],
        method: str,
        address: str | None,
    ) -> str:
        caller = await self._authenticate(params)
        # A key used from a network it is not allowed from, or limited to lanes that exclude every lane this
        # door could use, authenticates nothing here (smsmode has no other answer for "not with this key").
        if (
            caller is None
            or not caller.limits.allows_address(address)
            or not caller.limits.allows_lane(caller.account.lane)
        ):
            if endpoint is send_sms:
                SEND_COUNTERS.answered("unauthorized")
            return answers.status_answer(answers.AUTHENTICATION_ERROR, "fr")
        account = caller.account
        try:
            return await endpoint(self._services, Call(account, params, method, caller.limits.lanes))
        except InvalidParameter as exc:
            return answers.invalid_parameter(exc.name, exc.problem, account.language)
        except Exception:
            log.exception("legacy endpoint failed")
            return answers.status_answer(answers.INTERNAL_ERROR, account.language)

    async def _body(self, receive: Receive, headers: dict[bytes, bytes]) -> bytes | None:
        """The whole body, or None when it is larger than allowed (announced or actual)."""
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_body:
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _authenticate(self, params: dict[str, str]) -> Caller | None:
        token = params.get("accesstoken", "")
        if token:
            return await self._auth.by_token(token)
        return await self._auth.by_password(params.get("pseudo", ""), params.get("pass", ""))


async def _reply(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
