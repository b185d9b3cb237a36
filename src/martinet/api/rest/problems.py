"""Errors of the REST door as JSON problems (`application/problem+json`), each with a stable `errorCode`.

The codes are part of the API (clients branch on them; docs/rest-api.md lists them): add new ones, never
rename or reuse one.
"""

from __future__ import annotations

import dataclasses

TITLES: dict[str, str] = {
    "INVALID_JSON": "Invalid JSON",
    "UNAUTHORIZED": "Unauthorized",
    "INSUFFICIENT_CREDIT": "Insufficient credit",
    "LANE_NOT_ALLOWED": "Lane not allowed",
    "NETWORK_NOT_ALLOWED": "Network not allowed",
    "NOT_FOUND": "Not found",
    "METHOD_NOT_ALLOWED": "Method not allowed",
    "NOT_CANCELLABLE": "Not cancellable",
    "GROUP_EXISTS": "Group exists",
    "CONTACT_EXISTS": "Contact exists",
    "PAYLOAD_TOO_LARGE": "Payload too large",
    "UNSUPPORTED_MEDIA_TYPE": "Unsupported media type",
    "INVALID_PARAMETER": "Invalid parameter",
    "IDEMPOTENCY_KEY_REUSED": "Idempotency key reused",
    "RATE_LIMITED": "Too many requests",
    "TOO_MANY_AUTH_FAILURES": "Too many failed authentications",
    "INTERNAL_ERROR": "Internal error",
    "ACCOUNT_NOT_ALLOWED": "Not allowed on this account",
    "ACCOUNT_CLOSED": "Account deleted",
    "HAS_SUBACCOUNTS": "Account has sub-accounts",
    "LOGIN_TAKEN": "Login taken",
}

STATUS_OF_CODE: dict[str, int] = {
    "INVALID_JSON": 400,
    "UNAUTHORIZED": 401,
    "INSUFFICIENT_CREDIT": 402,
    "LANE_NOT_ALLOWED": 403,
    "NETWORK_NOT_ALLOWED": 403,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "NOT_CANCELLABLE": 409,
    "GROUP_EXISTS": 409,
    "CONTACT_EXISTS": 409,
    "PAYLOAD_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "INVALID_PARAMETER": 422,
    "IDEMPOTENCY_KEY_REUSED": 422,
    "RATE_LIMITED": 429,
    "TOO_MANY_AUTH_FAILURES": 429,
    "INTERNAL_ERROR": 500,
    "ACCOUNT_NOT_ALLOWED": 403,
    "ACCOUNT_CLOSED": 409,
    "HAS_SUBACCOUNTS": 409,
    "LOGIN_TAKEN": 409,
}


@dataclasses.dataclass
class Problem(Exception):
    """Raised anywhere in the door; rendered by the door as the problem JSON."""

    code: str
    detail: str
    field: str | None = None
    headers: list[tuple[bytes, bytes]] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(f"{self.code}: {self.detail}")

    @property
    def status(self) -> int:
        return STATUS_OF_CODE[self.code]

    def body(self) -> dict[str, object]:
        title = TITLES[self.code]
        problem: dict[str, object] = {
            "title": title,
            "message": f"{self.field}: {self.detail}" if self.field else self.detail,
            "detail": self.detail,
            "type": f"urn:martinet:error:{self.code}",
            "status": self.status,
            "errorCode": self.code,
        }
        if self.field is not None:
            problem["field"] = self.field
        return problem


def invalid(field: str, detail: str) -> Problem:
    return Problem("INVALID_PARAMETER", detail, field)
