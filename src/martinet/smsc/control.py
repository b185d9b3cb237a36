"""The simulator's HTTP control endpoint: ``GET /stats`` and ``POST /inject``.

A few dozen lines of HTTP/1.1 over ``asyncio.start_server`` rather than an ASGI stack: two
routes, JSON in and out, one request per connection (``Connection: close``), and no dependency
to start in the simulator's event loop.  It listens on loopback by default and has no
authentication: it is a test tool's knob, not a public API.

* ``GET /stats`` -> 200 ``{"submitted": 12, "throttled": 0, ...}``
* ``POST /inject`` with ``{"from": "33612345678", "to": "36180", "text": "STOP", "system_id": "acme"}``
  (``system_id`` optional) -> 200 ``{"parts": 1, "system_id": "acme"}``; 400 with ``{"error": ...}``
  for a bad body.
* ``GET /health`` -> 200 ``{"status": "ok"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from .simulator import Simulator

__all__ = ["start_control"]

_MAX_HEAD: Final = 16 * 1024
_MAX_BODY: Final = 64 * 1024
_TIMEOUT: Final = 10.0
_ROUTES: Final = {"/stats": "GET", "/health": "GET", "/inject": "POST"}


class _HTTPError(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def start_control(simulator: Simulator, host: str, port: int) -> asyncio.Server:
    """Listen for control requests on ``host:port`` (port 0 picks one)."""
    return await asyncio.start_server(functools.partial(_client, simulator), host, port, limit=_MAX_HEAD)


async def _client(simulator: Simulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    headers: dict[str, str] = {}
    try:
        status, body = await asyncio.wait_for(_exchange(simulator, reader, headers), _TIMEOUT)
    except _HTTPError as exc:
        status, body = exc.status, {"error": exc.message}
    except TimeoutError:
        status, body = HTTPStatus.REQUEST_TIMEOUT, {"error": "request not received in time"}
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
        return
    payload = json.dumps(body).encode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head = (
        f"HTTP/1.1 {status.value} {status.phrase}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n{extra}Connection: close\r\n\r\n"
    )
    with contextlib.suppress(ConnectionError):
        writer.write(head.encode("latin-1") + payload)
        await writer.drain()
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


async def _exchange(
    simulator: Simulator, reader: asyncio.StreamReader, response_headers: dict[str, str]
) -> tuple[HTTPStatus, Any]:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise _HTTPError(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request head too large") from None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise _HTTPError(HTTPStatus.BAD_REQUEST, "malformed request line")
    method, target = parts[0], parts[1]
    headers = {}
    for line in lines[1:]:
        if line:
            name, sep, value = line.partition(":")
            if not sep:
                raise _HTTPError(HTTPStatus.BAD_REQUEST, "malformed header line")
            headers[name.strip().lower()] = value.strip()
    if "transfer-encoding" in headers:
        raise _HTTPError(HTTPStatus.LENGTH_REQUIRED, "send the body with Content-Length")
    raw_length = headers.get("content-length", "0")
    if not raw_length.isdigit():
        raise _HTTPError(HTTPStatus.BAD_REQUEST, "invalid Content-Length")
    if int(raw_length) > _MAX_BODY:
        raise _HTTPError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {_MAX_BODY} bytes")
    body = await reader.readexactly(int(raw_length))
    path = target.partition("?")[0]
    allowed = _ROUTES.get(path)
    if allowed is None:
        raise _HTTPError(HTTPStatus.NOT_FOUND, f"no route {path}; try GET /stats or POST /inject")
    if method != allowed:
        response_headers["Allow"] = allowed
        raise _HTTPError(HTTPStatus.METHOD_NOT_ALLOWED, f"{path} takes {allowed}")
    if path == "/stats":
        return HTTPStatus.OK, simulator.stats()
    if path == "/health":
        return HTTPStatus.OK, {"status": "ok"}
    return HTTPStatus.OK, _inject(simulator, body)


def _inject(simulator: Simulator, body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _HTTPError(HTTPStatus.BAD_REQUEST, "body must be a JSON object") from None
    if not isinstance(data, dict):
        raise _HTTPError(HTTPStatus.BAD_REQUEST, "body must be a JSON object")
    fields = {}
    for name in ("from", "to", "text"):
        value = data.get(name)
        if not isinstance(value, str) or (name != "text" and not value):
            raise _HTTPError(HTTPStatus.BAD_REQUEST, f'"{name}" must be a non-empty string')
        fields[name] = value
    system_id = data.get("system_id")
    if system_id is not None and not isinstance(system_id, str):
        raise _HTTPError(HTTPStatus.BAD_REQUEST, '"system_id" must be a string')
    try:
        parts = simulator.inject_mo(fields["from"], fields["to"], fields["text"], system_id=system_id)
    except ValueError as exc:
        raise _HTTPError(HTTPStatus.BAD_REQUEST, str(exc)) from None
    target = system_id or simulator.config.credentials[0].system_id
    return {"parts": parts, "system_id": target}
