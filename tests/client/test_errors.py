from __future__ import annotations

import httpx
import pytest

from martinet.client import (
    AuthenticationError,
    ConflictError,
    InsufficientCreditError,
    InvalidRequestError,
    MartinetError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
)
from martinet.client.errors import error_from_response

pytestmark = pytest.mark.unit

PROBLEM = {
    "title": "Invalid parameter",
    "message": "recipient.to: not a valid phone number",
    "detail": "not a valid phone number",
    "type": "urn:martinet:error:INVALID_PARAMETER",
    "status": 422,
    "errorCode": "INVALID_PARAMETER",
    "field": "recipient.to",
}


def test_problem_json_fields() -> None:
    error = error_from_response(httpx.Response(422, json=PROBLEM), now=0)
    assert isinstance(error, InvalidRequestError)
    assert error.status == 422
    assert error.error_code == "INVALID_PARAMETER"
    assert error.title == "Invalid parameter"
    assert error.detail == "not a valid phone number"
    assert error.field == "recipient.to"
    assert str(error) == "recipient.to: not a valid phone number"
    assert error.body["type"] == "urn:martinet:error:INVALID_PARAMETER"
    assert error.smsmode_code is None


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, InvalidRequestError),
        (401, AuthenticationError),
        (402, InsufficientCreditError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (413, InvalidRequestError),
        (415, InvalidRequestError),
        (422, InvalidRequestError),
        (429, RateLimitedError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (418, MartinetError),
    ],
)
def test_status_to_class(status: int, cls: type[MartinetError]) -> None:
    error = error_from_response(httpx.Response(status, json={"title": "t", "errorCode": "X"}), now=0)
    assert type(error) is cls
    assert error.status == status and error.error_code == "X"


def test_answers_that_are_not_problem_json() -> None:
    error = error_from_response(httpx.Response(502, text="<html>Bad gateway</html>"), now=0)
    assert isinstance(error, ServerError)
    assert error.error_code is None and error.title == "Bad Gateway" and error.body == {}
    empty = error_from_response(httpx.Response(404), now=0)
    assert isinstance(empty, NotFoundError) and empty.title == "Not Found"


def test_retry_after_seconds_and_date() -> None:
    error = error_from_response(
        httpx.Response(429, headers={"Retry-After": "7"}, json={"errorCode": "RATE_LIMITED"}), 0
    )
    assert isinstance(error, RateLimitedError) and error.retry_after == 7
    dated = error_from_response(httpx.Response(429, headers={"Retry-After": "Thu, 01 Jan 1970 00:00:30 GMT"}), now=10)
    assert isinstance(dated, RateLimitedError) and dated.retry_after == 20
    none = error_from_response(httpx.Response(429), now=0)
    assert isinstance(none, RateLimitedError) and none.retry_after is None
