"""The exceptions of the SDK: one class per way a call can fail, so callers catch what they can act on.

REST answers carry a problem JSON (`title`, `detail`, `errorCode`, `field`); the smsmode HTTP API answers
`<code> | <description>` with HTTP 200. Both end up in the same classes, the legacy ones also carrying the smsmode
code, so that error handling does not depend on which door was used.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from martinet.domain.webhooks import retry_after as _retry_after_end


class MartinetError(Exception):
    """Any failure of a call to Martinet: the gateway's refusal, or no answer at all (`TransportError`)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: str | None = None,
        title: str | None = None,
        detail: str | None = None,
        field: str | None = None,
        smsmode_code: int | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code
        self.title = title
        self.detail = detail
        self.field = field
        #: The smsmode HTTP API's answer code (`32`, `35`, `61`…) for errors of `client.legacy`, else None.
        self.smsmode_code = smsmode_code
        #: The problem JSON as received (empty when the answer was not one), for fields this SDK does not know.
        self.body: Mapping[str, Any] = body or {}

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status={self.status!r}, error_code={self.error_code!r}, "
            f"field={self.field!r})"
        )


class AuthenticationError(MartinetError):
    """401 / smsmode 32: the key is missing, unknown or revoked."""


class PermissionDeniedError(MartinetError):
    """403: the key may not do this (a lane it is not allowed on, a source network it is not allowed from)."""


class NotFoundError(MartinetError):
    """404 / smsmode 61: no such message or reply for this account."""


class ConflictError(MartinetError):
    """409: the message is not in a state that allows it (cancelling a message that already left)."""


class InvalidRequestError(MartinetError):
    """400, 413, 415, 422 / smsmode 35: the request itself is wrong; `field` names the culprit when known."""


class InsufficientCreditError(MartinetError):
    """402 / smsmode 33: the balance does not cover the send; nothing was sent or charged."""


class RateLimitedError(MartinetError):
    """429 / smsmode 50, after the retries: over the account's rate; nothing was sent."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        #: Seconds the gateway asked to wait before trying again, when it said.
        self.retry_after = retry_after


class ServerError(MartinetError):
    """5xx / smsmode 31: a fault of the gateway or of a proxy in front of it."""


class TransportError(MartinetError):
    """No usable answer (connection refused, timeout, connection dropped), still so after the retries.

    For a REST send this does not mean the message was not sent: retry it with the same `idempotency_key` to
    find out without sending it twice.
    """


_BY_STATUS: dict[int, type[MartinetError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    402: InsufficientCreditError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: InvalidRequestError,
    415: InvalidRequestError,
    422: InvalidRequestError,
    429: RateLimitedError,
}


def parse_retry_after(value: str | None, now: float) -> float | None:
    """`Retry-After` (seconds or an HTTP date) as seconds from `now`; None when absent or unreadable."""
    end = _retry_after_end(value, now)
    return None if end is None else max(0.0, end - now)


def error_from_response(response: httpx.Response, now: float) -> MartinetError:
    """The exception for an HTTP error answer, from its problem JSON when it has one."""
    problem: dict[str, Any] = {}
    try:
        decoded = json.loads(response.content) if response.content else None
    except ValueError:
        decoded = None
    if isinstance(decoded, dict):
        problem = decoded
    status = response.status_code

    def text(key: str) -> str | None:
        value = problem.get(key)
        return None if value is None else str(value)

    title = text("title") or response.reason_phrase or f"HTTP {status}"
    detail = text("detail")
    message = text("message") or (f"{title}: {detail}" if detail else title)
    kwargs: dict[str, Any] = {
        "status": status,
        "error_code": text("errorCode"),
        "title": title,
        "detail": detail,
        "field": text("field"),
        "body": problem,
    }
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else MartinetError)
    if cls is RateLimitedError:
        return RateLimitedError(
            message, retry_after=parse_retry_after(response.headers.get("retry-after"), now), **kwargs
        )
    return cls(message, **kwargs)
