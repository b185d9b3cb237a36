"""The little of ASGI the doors speak directly: the callable's types, reading a body within a limit, replying.

The smsmode and REST doors answer without a framework (they are hot paths with a few fixed routes), and the
console reads its forms under the same limit; each used to carry its own copy of these lines. A door keeps only
what differs: how it words a refusal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]


class BodyTooLarge(Exception):
    """The body is larger than the door allows: announced so by its Content-Length, or found so as it arrived."""


class ClientGone(Exception):
    """The client disconnected before its body ended. What arrived is a cut request (a text cut mid-word, a
    recipient list cut mid-number), never acted on; no answer could reach the client anyway."""


def client_address(scope: Scope) -> str | None:
    """The peer's address, as rate limits and key networks see it (None when the server does not say)."""
    client = scope.get("client")
    return client[0] if client else None


async def read_body(receive: Receive, headers: Mapping[bytes, bytes], limit: int) -> bytes:
    """The whole body, refused (`BodyTooLarge`) as soon as it is known to be larger than `limit`, before the rest
    is read: by the announced length first, then as it arrives. A client that disconnects first: `ClientGone`."""
    declared = headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def reply(send: Send, status: int, body: bytes, headers: Headers) -> None:
    """A whole answer in one body message, its length given (clients and proxies need not wait for the end);
    a 204 has neither body nor length (RFC 9110 §8.6)."""
    length = [] if status == 204 else [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, *length]})
    await send({"type": "http.response.body", "body": body})
