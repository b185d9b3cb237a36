"""Retries against a real HTTP server on loopback that drops connections, answers slowly or with 429/5xx."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from martinet.client import (
    AsyncClient,
    Client,
    InvalidRequestError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from martinet.client._http import Repeat, Request, RetryPolicy
from tests.client.scripted import DROP, MESSAGE, Answer, Received, message, reply, scripted
from tests.conftest import free_port

FAST: dict[str, Any] = {"backoff_base": 0.01, "backoff_max": 0.05}


def client(base: str, **kwargs: Any) -> Client:
    return Client(base, "key-1", **{**FAST, **kwargs})


def keys(requests: list[Received]) -> list[str]:
    return [r.headers["idempotency-key"] for r in requests]


async def test_send_is_retried_with_the_same_idempotency_key() -> None:
    async with scripted([DROP, reply(503), reply(502), reply(201, MESSAGE)]) as server:
        with client(server.base) as c:
            sent = await asyncio.to_thread(c.send, "+33612345678", "Your code is 123456", flow="OTP")
    assert sent.message_id == MESSAGE["messageId"]
    assert len(server.requests) == 4
    assert len(set(keys(server.requests))) == 1 and len(keys(server.requests)[0]) == 32
    assert all(r.json() == server.requests[0].json() for r in server.requests)
    first = server.requests[0]
    assert (first.method, first.target) == ("POST", "/sms/v1/messages")
    assert first.headers["x-api-key"] == "key-1"
    assert first.json() == {
        "recipient": {"to": "+33612345678"},
        "body": {"text": "Your code is 123456", "stop": False},
        "flow": "OTP",
    }


async def test_async_send_is_retried_with_the_callers_key() -> None:
    async with (
        scripted([DROP, reply(504), reply(201, MESSAGE)]) as server,
        AsyncClient(server.base, "key-1", **FAST) as c,
    ):
        sent = await c.send("0612345678", "hi", idempotency_key="order-42")
    assert sent.sms_id == MESSAGE["smsId"]
    assert keys(server.requests) == ["order-42"] * 3


async def test_each_send_has_its_own_key() -> None:
    async with scripted(default=reply(201, MESSAGE)) as server, AsyncClient(server.base, "k", **FAST) as c:
        await c.send("0612345678", "a")
        await c.send("0612345678", "a")
    first, second = keys(server.requests)
    assert first != second


async def test_read_timeout_is_retried() -> None:
    async with (
        scripted([Answer(201, MESSAGE, delay=1.0), reply(201, MESSAGE)]) as server,
        AsyncClient(server.base, "k", timeout=0.3, **FAST) as c,
    ):
        await c.send("0612345678", "a")
    assert len(server.requests) == 2 and len(set(keys(server.requests))) == 1


async def test_retry_after_is_honoured() -> None:
    async with (
        scripted([reply(429, {"errorCode": "RATE_LIMITED"}, Retry_After="1"), reply(201, MESSAGE)]) as server,
        AsyncClient(server.base, "k", **FAST) as c,
    ):
        started = time.monotonic()
        await c.send("0612345678", "a")
        elapsed = time.monotonic() - started
    assert len(server.requests) == 2
    assert elapsed >= 0.95


async def test_a_long_retry_after_is_left_to_the_caller() -> None:
    answer = reply(429, {"errorCode": "RATE_LIMITED", "title": "Too many requests"}, Retry_After="3600")
    async with scripted(default=answer) as server, AsyncClient(server.base, "k", **FAST) as c:
        with pytest.raises(RateLimitedError) as caught:
            await c.send("0612345678", "a")
    assert len(server.requests) == 1
    assert caught.value.retry_after == pytest.approx(3600, abs=2)
    assert caught.value.error_code == "RATE_LIMITED" and caught.value.status == 429


async def test_retries_run_out() -> None:
    async with scripted(default=reply(503, {"errorCode": "UNAVAILABLE"})) as server:
        with client(server.base, retries=2) as c, pytest.raises(ServerError) as caught:
            await asyncio.to_thread(c.get, "abc-0")
    assert len(server.requests) == 3
    assert caught.value.status == 503 and caught.value.error_code == "UNAVAILABLE"


async def test_dropped_connections_run_out_as_transport_error() -> None:
    async with scripted(default=DROP) as server, AsyncClient(server.base, "k", retries=1, **FAST) as c:
        with pytest.raises(TransportError):
            await c.balance()
    assert len(server.requests) == 2


async def test_retries_zero() -> None:
    async with scripted(default=reply(503)) as server, AsyncClient(server.base, "k", retries=0, **FAST) as c:
        with pytest.raises(ServerError):
            await c.balance()
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 422, 500])
async def test_other_errors_are_not_retried(status: int) -> None:
    async with (
        scripted(default=reply(status, {"errorCode": "X"})) as server,
        AsyncClient(server.base, "k", **FAST) as c,
    ):
        with pytest.raises(Exception) as caught:
            await c.send("0612345678", "a")
    assert len(server.requests) == 1
    assert caught.value.status == status  # type: ignore[attr-defined]


async def test_422_carries_the_field() -> None:
    problem = {
        "title": "Invalid parameter",
        "detail": "not a valid phone number",
        "errorCode": "INVALID_PARAMETER",
        "field": "recipient.to",
        "status": 422,
    }
    async with scripted(default=reply(422, problem)) as server:
        with client(server.base) as c, pytest.raises(InvalidRequestError) as caught:
            await asyncio.to_thread(c.send, "12", "a")
    assert caught.value.field == "recipient.to"


async def test_get_and_delete_are_retried() -> None:
    cancelled = message(status={"value": "CANCELLED", "code": 10})
    async with scripted([DROP, reply(200, MESSAGE), reply(502), reply(200, cancelled)]) as server:
        with client(server.base) as c:
            got = await asyncio.to_thread(c.get, "JtT3cRqYyAfw1N2c-0")
            done = await asyncio.to_thread(c.cancel, "JtT3cRqYyAfw1N2c-0")
    assert got.message_id == "JtT3cRqYyAfw1N2c-0" and done.status.value == "CANCELLED"
    assert [(r.method, r.target) for r in server.requests] == [("GET", "/sms/v1/messages/JtT3cRqYyAfw1N2c-0")] * 2 + [
        ("DELETE", "/sms/v1/messages/JtT3cRqYyAfw1N2c-0")
    ] * 2
    assert all("idempotency-key" not in r.headers for r in server.requests)


async def test_connection_refused() -> None:
    base = f"http://127.0.0.1:{free_port()}"
    with client(base, retries=2) as c, pytest.raises(TransportError, match="3 attempts"):
        await asyncio.to_thread(c.balance)


async def test_legacy_send_is_not_repeated_once_it_may_have_arrived() -> None:
    async with scripted([DROP, reply(200, "0 | Accepté | abc".encode("iso-8859-15"))]) as server:
        with client(server.base) as c, pytest.raises(TransportError):
            await asyncio.to_thread(c.legacy.send_sms, "0612345678", "hi")
    assert len(server.requests) == 1


async def test_legacy_reads_are_retried() -> None:
    async with (
        scripted([DROP, reply(503), reply(200, b"212.5")]) as server,
        AsyncClient(server.base, "tok", **FAST) as c,
    ):
        assert str(await c.legacy.balance()) == "212.5"
    assert len(server.requests) == 3
    assert server.requests[0].target == "/http/1.6/credit.do"
    assert server.requests[0].body == b"accessToken=tok"


def test_policy_backoff_grows_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(retries=10, backoff_base=1, backoff_max=8)
    for attempt, ceiling in [(0, 1), (1, 2), (2, 4), (3, 8), (6, 8)]:
        delays = {policy.backoff(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1


def test_policy_what_is_retried() -> None:
    policy = RetryPolicy(retries=3)
    safe = Request("GET", "/x")
    unsafe = Request("POST", "/x", repeat=Repeat.UNSENT_ONLY)
    connect = httpx.ConnectError("refused")
    dropped = httpx.RemoteProtocolError("Server disconnected")
    read = httpx.ReadTimeout("slow")
    assert policy.after_exception(0, connect, unsafe) is not None
    assert policy.after_exception(0, dropped, unsafe) is None
    assert policy.after_exception(0, read, unsafe) is None
    assert policy.after_exception(0, dropped, safe) is not None
    assert policy.after_exception(0, read, safe) is not None
    assert policy.after_exception(3, read, safe) is None
    assert policy.after_exception(0, httpx.UnsupportedProtocol("ftp"), safe) is None
    assert policy.after_response(0, httpx.Response(503), unsafe, 0) is None
    assert policy.after_response(0, httpx.Response(500), safe, 0) is None
    assert policy.after_response(0, httpx.Response(429, headers={"Retry-After": "2"}), safe, 0) == 2


async def test_list_follows_next_and_skips_repeats() -> None:
    def pages(request: Received) -> Answer:
        if "page=2" in request.target:
            return reply(200, {"items": [message("c-0"), message("d-0")], "page": 2, "pageSize": 2, "hasMore": False})
        return reply(
            200,
            {
                "items": [message("a-0"), message("c-0")],
                "page": 1,
                "pageSize": 2,
                "hasMore": True,
                "next": "/sms/v1/messages?page=2&pageSize=2&status=DELIVERED",
            },
        )

    async with scripted(default=pages) as server:
        with client(server.base) as c:
            ids = await asyncio.to_thread(
                lambda: [m.message_id for m in c.list_messages(status="DELIVERED", page_size=2)]
            )
        async with AsyncClient(server.base, "k", **FAST) as ac:
            async_ids = [m.message_id async for m in ac.list_messages(status="DELIVERED", page_size=2)]
    assert ids == async_ids == ["a-0", "c-0", "d-0"]
    assert server.requests[0].target == "/sms/v1/messages?page=1&pageSize=2&status=DELIVERED"
    assert server.requests[1].target == "/sms/v1/messages?page=2&pageSize=2&status=DELIVERED"


async def test_an_account_s_messages_skip_the_repeats_of_shifting_pages() -> None:
    """Messages arriving while the pages are read push older ones onto the next page: each comes once."""

    def pages(request: Received) -> Answer:
        if "page=2" in request.target:
            return reply(200, {"items": [message("c-0"), message("d-0")], "hasMore": False})
        return reply(
            200,
            {"items": [message("a-0"), message("c-0")], "hasMore": True, "next": "/sms/v1/accounts/7/messages?page=2"},
        )

    async with scripted(default=pages) as server:
        with client(server.base) as c:
            ids = await asyncio.to_thread(lambda: [m.message_id for m in c.accounts.messages(7)])
        async with AsyncClient(server.base, "k", **FAST) as ac:
            async_ids = [m.message_id async for m in ac.accounts.messages(7)]
    assert ids == async_ids == ["a-0", "c-0", "d-0"]


async def test_list_without_next_uses_page_numbers() -> None:
    from tests.client.scripted import REPLY

    def pages(request: Received) -> Answer:
        if "page=2" in request.target:
            return reply(200, {"items": [{**REPLY, "responseId": "r2"}], "page": 2, "pageSize": 1, "hasMore": False})
        return reply(200, {"items": [REPLY], "page": 1, "pageSize": 1, "hasMore": True})

    async with scripted(default=pages) as server, AsyncClient(server.base, "k", **FAST) as c:
        got = [r.response_id async for r in c.replies(page_size=1)]
    assert got == ["r17", "r2"]
    assert server.requests[1].target.startswith("/sms/v1/replies?page=2&pageSize=1")


async def test_base_url_with_a_path_prefix() -> None:
    async with (
        scripted(default=reply(200, {"balance": 5, "currency": "CREDIT"})) as server,
        AsyncClient(server.base + "/martinet/", "k") as c,
    ):
        assert (await c.balance()).amount == 5
    assert server.requests[0].target == "/martinet/commons/v1/balance"


def test_send_arguments_are_checked() -> None:
    with Client("http://127.0.0.1:9", "k") as c:
        with pytest.raises(ValueError):
            c.send(text="a")  # type: ignore[call-overload]
        with pytest.raises(ValueError):
            c.send("0612345678", "a", recipients=["0612345678"])  # type: ignore[call-overload]
        with pytest.raises(TypeError):
            c.send(recipients="0612345678", text="a")
        with pytest.raises(ValueError):
            c.list_messages(page_size=101)
