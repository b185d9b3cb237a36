"""The SDK against a real gateway (HTTP door under uvicorn, engine and sandbox carrier in the test's loop)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from martinet.client import (
    SIGNATURE_HEADER,
    AsyncClient,
    AuthenticationError,
    Client,
    ConflictError,
    DeliveryReport,
    InsufficientCreditError,
    InvalidRequestError,
    Message,
    NotFoundError,
    RateLimitedError,
    parse_callback,
    verify_signature,
)
from martinet.store.callbacks import CallbackStore
from tests.client.scripted import Received, reply, scripted
from tests.gateway import Gateway, running_gateway, wait_for

FAST: dict[str, Any] = {"backoff_base": 0.01, "backoff_max": 0.05}


async def delivered(client: AsyncClient, message_id: str) -> Message:
    async def check() -> Message | None:
        message = await client.get(message_id)
        return message if message.status.value == "DELIVERED" else None

    found: Message = await wait_for(check)
    return found


async def test_rest_round_trip(database_url: str) -> None:
    async with running_gateway(database_url) as gw, AsyncClient(gw.base, gw.token, **FAST) as client:
        sent = await client.send("0612345678", "Your code is 123456", ref_client="order-42", flow="OTP")
        assert sent.to == "33612345678" and sent.flow == "OTP" and sent.ref_client == "order-42"
        assert sent.status.value == "ENROUTE" and sent.price.amount == 1 and sent.part_count == 1
        assert sent.message_id == f"{sent.sms_id}-0"

        got = await delivered(client, sent.message_id)
        assert got.status.code == 11 and got.status.delivery_date is not None
        assert got.accepted_at == sent.accepted_at

        later = datetime.now(UTC) + timedelta(days=1)
        scheduled = await client.send("0698765432", "Tomorrow", scheduled_at=later)
        assert scheduled.status.value == "SCHEDULED" and scheduled.sent_date is not None
        assert abs((scheduled.sent_date - later).total_seconds()) < 1
        assert (await client.balance()).amount == Decimal(998)
        cancelled = await client.cancel(scheduled.message_id)
        assert cancelled.status.value == "CANCELLED"
        assert (await client.balance()).amount == Decimal(999)
        with pytest.raises(ConflictError) as conflict:
            await client.cancel(sent.message_id)
        assert conflict.value.error_code == "NOT_CANCELLABLE" and conflict.value.status == 409

        listed = [m.message_id async for m in client.list_messages(page_size=1)]
        assert sent.message_id in listed and len(listed) == len(set(listed)) >= 2
        mine = [m async for m in client.list_messages(ref_client="order-42")]
        assert [m.message_id for m in mine] == [sent.message_id]
        done = [m.message_id async for m in client.list_messages(status="DELIVERED")]
        assert done == [sent.message_id]

        preview = await client.preview("0612345678", "Promo -20%", flow="MARKETING", sender="Acme", stop=True)
        assert preview.flow == "MARKETING" and preview.price.amount == 1 and preview.recipients[0].valid
        assert preview.text.startswith("Promo -20%") and len(preview.text) > len("Promo -20%")
        assert (await client.balance()).amount == Decimal(999)  # a preview costs nothing

        assert [r async for r in client.replies()] == []


async def test_sync_client(database_url: str) -> None:
    async with running_gateway(database_url) as gw:

        def scenario() -> tuple[Message, Message, list[str], Decimal]:
            with Client(gw.base, gw.token, **FAST) as client:
                sent = client.send("+33612345678", "hello")
                got = client.get(sent.message_id)
                ids = [m.message_id for m in client.list_messages()]
                return sent, got, ids, client.balance().amount

        sent, got, ids, balance = await asyncio.to_thread(scenario)
    assert got.message_id == sent.message_id and got.text == "hello"
    assert ids == [sent.message_id]
    assert balance == Decimal(999)


async def test_many_recipients_and_idempotency(database_url: str) -> None:
    async with running_gateway(database_url) as gw, AsyncClient(gw.base, gw.token, **FAST) as client:
        messages = await client.send(recipients=["0612345678", "12", "+33698765432"], text="hi")
        assert [m.status.value for m in messages] == ["ENROUTE", "UNDELIVERABLE", "ENROUTE"]
        assert messages[1].price.amount == 0
        assert len({m.sms_id for m in messages}) == 1

        first = await client.send("0612345678", "once", idempotency_key="order-7")
        again = await client.send("0612345678", "once", idempotency_key="order-7")
        assert again.message_id == first.message_id
        assert (await client.balance()).amount == Decimal(997)
        with pytest.raises(InvalidRequestError) as reused:
            await client.send("0612345678", "another text", idempotency_key="order-7")
        assert reused.value.error_code == "IDEMPOTENCY_KEY_REUSED"


async def test_errors(database_url: str) -> None:
    async with running_gateway(database_url) as gw, AsyncClient(gw.base, gw.token, **FAST) as client:
        async with AsyncClient(gw.base, "not-a-key", **FAST) as stranger:
            with pytest.raises(AuthenticationError) as unauthorized:
                await stranger.balance()
            assert unauthorized.value.error_code == "UNAUTHORIZED" and unauthorized.value.status == 401
            with pytest.raises(AuthenticationError) as legacy_auth:
                await stranger.legacy.balance()
            assert legacy_auth.value.smsmode_code == 32 and legacy_auth.value.error_code == "UNAUTHORIZED"

        with pytest.raises(InvalidRequestError) as invalid:
            await client.send("12", "hi")
        assert invalid.value.field == "recipient.to" and invalid.value.error_code == "INVALID_PARAMETER"
        assert invalid.value.status == 422

        with pytest.raises(InvalidRequestError) as bad_flow:
            await client.send("0612345678", "hi", flow="CARRIER_PIGEON")
        assert bad_flow.value.field == "flow"

        with pytest.raises(NotFoundError) as missing:
            await client.get("AAAAAAAAAAAA-0")
        assert missing.value.error_code == "NOT_FOUND"

        with pytest.raises(InsufficientCreditError) as broke:
            await client.send(recipients=[f"0612345{n:03d}" for n in range(110)], text="x" * 1530)  # 110 × 10 parts
        assert broke.value.error_code == "INSUFFICIENT_CREDIT" and broke.value.status == 402


async def test_legacy(database_url: str) -> None:
    async with running_gateway(database_url) as gw, AsyncClient(gw.base, gw.token, **FAST) as client:
        sms_id = await client.legacy.send_sms(["0612345678", "0698765432"], "Déjà vu à 5 € ?", emetteur="Acme")
        assert len(sms_id) == 12

        async def received() -> list[DeliveryReport] | None:
            report = await client.legacy.delivery_report(sms_id)
            return report if all(code == 11 for _, code in report) else None

        report = await wait_for(received)
        assert sorted(report) == [("33612345678", 11), ("33698765432", 11)]
        assert await client.legacy.status(sms_id) == 11
        assert await client.legacy.balance() == Decimal(998)

        message = await client.get(f"{sms_id}-0")
        assert message.text == "Déjà vu à 5 € ?" and message.sender == "Acme"

        later = await client.legacy.send_sms("0612345678", "later", date_envoi=datetime.now() + timedelta(days=2))
        assert await client.legacy.status(later) == 10
        await client.legacy.cancel(later)
        with pytest.raises(NotFoundError) as gone:
            await client.legacy.status(later)
        assert gone.value.smsmode_code == 61
        assert await client.legacy.balance() == Decimal(998)

        with pytest.raises(InvalidRequestError) as invalid:
            await client.legacy.send_sms("0612345678", "hi", emetteur="MuchTooLongSender")
        assert invalid.value.field == "emetteur" and invalid.value.smsmode_code == 35


async def test_json_callbacks_verify(database_url: str) -> None:
    async with (
        scripted(default=reply(200)) as receiver,
        running_gateway(database_url, callbacks={"allow_private_networks": True}) as gw,
        AsyncClient(gw.base, gw.token, **FAST) as client,
    ):
        secret = await CallbackStore(gw.db, lambda: int(time.time() * 1000)).secret("acme")
        sent = await client.send("0612345678", "hi", callback_url_status=f"{receiver.base}/status?site=3")

        async def final() -> Received | None:
            for request in receiver.requests:
                resource = parse_callback(request.body)
                if isinstance(resource, Message) and resource.status.value == "DELIVERED":
                    return request
            return None

        request = await wait_for(final)
    assert request.method == "POST" and request.target == "/status?site=3"
    header = request.headers[SIGNATURE_HEADER.lower()]
    assert verify_signature(secret, header, request.body)
    assert not verify_signature(secret, header, request.body.replace(b"DELIVERED", b"UNDELIVERED"))
    assert not verify_signature("0" * 64, header, request.body)
    resource = parse_callback(request.body)
    assert isinstance(resource, Message) and resource.message_id == sent.message_id


async def test_gateway_fixture_type(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw:
        assert isinstance(gw, Gateway)
        async with AsyncClient(gw.base, gw.token) as client:
            assert (await client.balance()).currency == "CREDIT"


async def test_rate_limit_is_waited_out(database_url: str) -> None:
    async with running_gateway(database_url, accounts={"rate_limit": 1}) as gw:
        async with AsyncClient(gw.base, gw.token, retries=0) as impatient:
            await impatient.send("0612345678", "one")
            with pytest.raises(RateLimitedError) as limited:
                await impatient.send("0612345678", "two")
            assert limited.value.error_code == "RATE_LIMITED" and limited.value.retry_after is not None
        async with AsyncClient(gw.base, gw.token, **FAST) as patient:
            sent = [await patient.send("0612345678", f"n{n}") for n in range(3)]
            assert len({m.message_id for m in sent}) == 3
            assert (await patient.balance()).amount == Decimal(996)
