"""Checking and reading the callbacks Martinet sends to your URLs (docs/webhooks.md).

The gateway signs with `martinet.domain.webhooks` (`body_signature` for JSON callbacks, `signature` for smsmode
GET callbacks); checking with the same module's `verify_body` and `verify` means the SDK and the gateway cannot
disagree on the format.
"""

from __future__ import annotations

import time
from typing import Any

from martinet.client.models import Message, Reply, loads
from martinet.domain.webhooks import DEFAULT_TOLERANCE, EVENT_HEADER, SIGNATURE_HEADER, verify, verify_body

__all__ = ["EVENT_HEADER", "SIGNATURE_HEADER", "parse_callback", "verify_signature"]


def verify_signature(
    secret: str,
    header: str | None,
    payload: bytes | str,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """Whether `header` (the `X-Martinet-Signature` value) signs `payload` with the account's `secret`.

    `payload` is the raw request body for JSON callbacks (the bytes as received: re-serialised JSON would not
    match), or the path and query exactly as on the request line for smsmode-style GET callbacks. Signatures
    more than `tolerance` seconds from `now` are refused, so that a captured request cannot be replayed later.
    """
    if not header or not secret:
        return False
    moment = time.time() if now is None else now
    if isinstance(payload, bytes):
        # Bytes are signed as they are (`b"t." + payload`); a str is signed as its UTF-8, which gives the same
        # result for the same text, so either form of a body or of a request target verifies.
        return verify_body(secret, payload, header, moment, tolerance)
    return verify(secret, payload, header, moment, tolerance)


def parse_callback(body: bytes | str) -> Message | Reply:
    """The resource a JSON callback posts: a `Message` for a status change, a `Reply` for a reply (MO)."""
    data: Any = loads(body)
    if not isinstance(data, dict):
        raise ValueError("a callback body is a JSON object")
    if data.get("direction") == "MO" or "responseId" in data:
        return Reply.from_json(data)
    if "messageId" in data:
        return Message.from_json(data)
    raise ValueError("neither a message nor a reply resource")
