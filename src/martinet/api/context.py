"""Request context: the id that ties together every log line of one HTTP request.

The id is bound with `structlog.contextvars`, so lines of our code and of libraries logged while the request is
served carry it, and it is returned in `X-Request-Id` so a client (or the proxy in front) can quote it. A
proxy's own id is kept when it sends one that is safe to copy into logs and headers.
"""

from __future__ import annotations

import re

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from martinet.domain.ids import random_hex

HEADER = b"x-request-id"
#: What an incoming id may look like: short and made of characters that cannot forge a log line or a header.
_VALID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")
#: The keys code serving a request may bind to the log context (`martinet.services.accept` binds the send's id).
REQUEST_KEYS = ("send_id",)
_BOUND_LATER = dict.fromkeys(REQUEST_KEYS, ...)


def new_request_id() -> str:
    """16 hex digits, from the pool of random bytes the send ids come from (one system call per 4 KiB)."""
    return random_hex(8)


def incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == HEADER:  # ASGI servers lower-case header names
            return value.decode("ascii") if _VALID.fullmatch(value) else None
    return None


class RequestContext:
    """Wraps the HTTP application so every log line of a request carries its id."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request_id = incoming_request_id(scope) or new_request_id()
        header = (HEADER, request_id.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != HEADER]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        # What the request binds (its id, a send's id) must not leak into whatever this task does next, nor may
        # what was bound before it (the process's node) be lost: each key is set here, the ones bound later with
        # `...` (structlog's "not bound"), and reset to its value before when the request ends. Two variables set
        # and reset cost half of reading, clearing and binding again every variable of the context.
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id, **_BOUND_LATER)
        try:
            await self._app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.reset_contextvars(**tokens)
