"""Requests with retries, for the sync and the async client alike.

What to retry and how long to wait is decided by `RetryPolicy`, pure and shared; `SyncHTTP` and `AsyncHTTP` only
run the loop with their own I/O and sleep. A request is retried after a network failure or a 429/502/503/504
only when doing it twice cannot send an SMS twice: GETs and DELETEs, and REST sends, which carry an
`Idempotency-Key` that the gateway answers once. A request that is not safe to repeat (a smsmode `sendSMS.do`)
is retried only when it never reached the gateway (the connection could not be made).
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from martinet import __version__ as _version
from martinet.client.errors import MartinetError, TransportError, error_from_response, parse_retry_after
from martinet.domain.backoff import doubling

USER_AGENT = f"martinet-python/{_version}"
RETRY_STATUSES = frozenset({429, 502, 503, 504})
DEFAULT_TIMEOUT = 30.0


class Repeat(enum.Enum):
    """How safe it is to send a request again."""

    SAFE = "safe"  # idempotent: retried after any network failure and on 429/502/503/504
    UNSENT_ONLY = "unsent_only"  # retried only when the connection could not be made


@dataclass(frozen=True, slots=True)
class Request:
    """One call, described once and sent as many times as the retries need (same headers, same key)."""

    method: str
    path: str
    params: Mapping[str, str] | None = None
    json: Any = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    repeat: Repeat = Repeat.SAFE


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, `Retry-After` honoured (up to `max_retry_after`)."""

    retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_retry_after: float = 60.0
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def backoff(self, attempt: int) -> float:
        """Seconds before retry number `attempt + 1`: doubling, with jitter so that many clients failed by the
        same outage do not all come back at the same instant."""
        ceiling = doubling(attempt + 1, self.backoff_base, self.backoff_max)
        return self.rng.uniform(ceiling / 2, ceiling)

    def after_exception(self, attempt: int, exc: httpx.TransportError, request: Request) -> float | None:
        """Seconds to wait before trying again after `exc`, or None to give up."""
        if attempt >= self.retries:
            return None
        unsent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        if request.repeat is Repeat.UNSENT_ONLY and not unsent:
            return None
        if not isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError):
            return None  # a bad URL or proxy setting does not heal by waiting
        return self.backoff(attempt)

    def after_response(self, attempt: int, response: httpx.Response, request: Request, now: float) -> float | None:
        """Seconds to wait before trying again after this answer, or None to keep it."""
        if attempt >= self.retries or response.status_code not in RETRY_STATUSES:
            return None
        if request.repeat is not Repeat.SAFE:
            return None
        wait = parse_retry_after(response.headers.get("retry-after"), now)
        if wait is None:
            return self.backoff(attempt)
        if wait > self.max_retry_after:
            return None  # the caller gets RateLimitedError.retry_after and decides
        return wait


def _finish(response: httpx.Response, request: Request) -> httpx.Response:
    if response.status_code >= 400:
        raise error_from_response(response, time.time())
    return response


def _transport_error(exc: httpx.TransportError, request: Request, attempts: int) -> MartinetError:
    return TransportError(f"{request.method} {request.path}: {type(exc).__name__}: {exc} (after {attempts} attempts)")


def _headers(api_key: str, request: Request) -> dict[str, str]:
    return {"X-Api-Key": api_key, "User-Agent": USER_AGENT, "Accept": "application/json", **request.headers}


class SyncHTTP:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        policy: RetryPolicy,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._policy = policy
        self._owned = http_client is None
        self._client = http_client or httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    def send(self, request: Request) -> httpx.Response:
        headers = _headers(self._api_key, request)
        attempt = 0
        while True:
            try:
                response = self._client.request(
                    request.method,
                    self.url(request.path),
                    params=request.params,
                    json=request.json,
                    content=request.content,
                    headers=headers,
                )
            except httpx.TransportError as exc:
                delay = self._policy.after_exception(attempt, exc, request)
                if delay is None:
                    raise _transport_error(exc, request, attempt + 1) from exc
            else:
                delay = self._policy.after_response(attempt, response, request, time.time())
                if delay is None:
                    return _finish(response, request)
                response.close()
            attempt += 1
            time.sleep(delay)

    def close(self) -> None:
        if self._owned:
            self._client.close()


class AsyncHTTP:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        policy: RetryPolicy,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._policy = policy
        self._owned = http_client is None
        self._client = http_client or httpx.AsyncClient(timeout=timeout, transport=transport, follow_redirects=False)

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else self.base_url + path

    async def send(self, request: Request) -> httpx.Response:
        headers = _headers(self._api_key, request)
        attempt = 0
        while True:
            try:
                response = await self._client.request(
                    request.method,
                    self.url(request.path),
                    params=request.params,
                    json=request.json,
                    content=request.content,
                    headers=headers,
                )
            except httpx.TransportError as exc:
                delay = self._policy.after_exception(attempt, exc, request)
                if delay is None:
                    raise _transport_error(exc, request, attempt + 1) from exc
            else:
                delay = self._policy.after_response(attempt, response, request, time.time())
                if delay is None:
                    return _finish(response, request)
                await response.aclose()
            attempt += 1
            await asyncio.sleep(delay)

    async def aclose(self) -> None:
        if self._owned:
            await self._client.aclose()
