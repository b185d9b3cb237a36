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

Because it has no authentication, it must not be reachable from a web page the operator happens to
have open: a page may send a "simple" cross-origin POST without asking (no CORS preflight), and a
hostile name that resolves to 127.0.0.1 (DNS rebinding) makes the browser a client of loopback.
So every request must carry a ``Host`` header naming this endpoint -- the address and port it
was reached on, or ``localhost:PORT`` on loopback -- else 421; a request with an ``Origin`` header
must come from such a host, else 403; and a POST must be ``Content-Type: application/json``, a
type no form can send and no page can send cross-origin without a preflight we never grant, else 415.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import json
from collections.abc import Collection
from http import HTTPStatus
from typing import Any, Final, Protocol

from .config import SimulatorConfig


class Simulator(Protocol):
    """What the endpoint asks of the simulator it controls (the simulator imports this module, not the reverse)."""

    config: SimulatorConfig

    def stats(self) -> dict[str, Any]: ...

    def inject_mo(self, source: str, destination: str, text: str, *, system_id: str | None = None) -> int: ...


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
    client = functools.partial(_client, simulator, host)
    return await asyncio.start_server(client, host, port, limit=_MAX_HEAD)


def allowed_hosts(configured: str, local: tuple[str, int]) -> frozenset[str]:
    """The ``Host`` values naming this endpoint, lower case: ``address:port`` for the local address the
    request arrived on (and its IPv4 form if it is IPv4-mapped), the configured host name unless it
    is a wildcard, and ``localhost:port`` on loopback.  Port 80 may also go without its number."""
    address, port = local[0].partition("%")[0], local[1]
    names = {address}
    if configured and not _unspecified(configured):
        names.add(configured)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        ip = None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
        names.add(str(ip))
    if ip is not None and ip.is_loopback:
        names.add("localhost")
    hosts = set()
    for name in names:
        written = f"[{name}]" if ":" in name else name
        hosts.add(f"{written}:{port}".lower())
        if port == 80:
            hosts.add(written.lower())
    return frozenset(hosts)


def _unspecified(host: str) -> bool:
    """``0.0.0.0`` or ``::``: every interface, a name no request uses."""
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


async def _client(
    simulator: Simulator, configured_host: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    headers: dict[str, str] = {}
    local = writer.get_extra_info("sockname")
    hosts = allowed_hosts(configured_host, (str(local[0]), int(local[1])))
    try:
        status, body = await asyncio.wait_for(_exchange(simulator, reader, headers, hosts), _TIMEOUT)
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
    simulator: Simulator, reader: asyncio.StreamReader, response_headers: dict[str, str], hosts: Collection[str]
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
    _check_origin(headers, hosts)
    path = target.partition("?")[0]
    allowed = _ROUTES.get(path)
    if allowed is None:
        raise _HTTPError(HTTPStatus.NOT_FOUND, f"no route {path}; try GET /stats or POST /inject")
    if method != allowed:
        response_headers["Allow"] = allowed
        raise _HTTPError(HTTPStatus.METHOD_NOT_ALLOWED, f"{path} takes {allowed}")
    if method == "POST" and _media_type(headers.get("content-type", "")) != "application/json":
        raise _HTTPError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send the body as Content-Type: application/json")
    if path == "/stats":
        return HTTPStatus.OK, simulator.stats()
    if path == "/health":
        return HTTPStatus.OK, {"status": "ok"}
    return HTTPStatus.OK, _inject(simulator, body)


def _check_origin(headers: dict[str, str], hosts: Collection[str]) -> None:
    """421 unless ``Host`` names this endpoint; 403 for a request from a page of another origin."""
    host = headers.get("host")
    if host is None or host.lower() not in hosts:
        example = min(hosts, key=lambda h: (h.startswith("localhost"), h), default="")
        raise _HTTPError(HTTPStatus.MISDIRECTED_REQUEST, f"the Host header must name this endpoint, e.g. {example}")
    origin = headers.get("origin")
    if origin is not None:
        scheme, sep, authority = origin.partition("://")
        if not sep or scheme.lower() != "http" or authority.lower() not in hosts:
            raise _HTTPError(HTTPStatus.FORBIDDEN, "requests from web pages of other origins are refused")


def _media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


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
