"""The engine moves messages from acceptance to a final status through the sandbox, on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from martinet.clock import now_ms
from martinet.store.scheduler import ScheduleStore
from martinet.store.schema import messages, parts, status_history
from tests.gateway import Gateway, running_gateway, wait_for


async def _send(gw: Gateway, **params: str) -> str:
    async with gw.client() as http:
        reply = await http.post("/sendSMS.do", data={"accessToken": gw.token, **params})
    text = reply.content.decode("iso-8859-15")
    assert text.startswith("0 | "), text
    return text.rsplit(" | ", 1)[1]


async def _report(gw: Gateway, sms_id: str) -> str:
    async with gw.client() as http:
        return (await http.get("/compteRendu.do", params={"accessToken": gw.token, "smsID": sms_id})).text


async def _credit(gw: Gateway) -> str:
    async with gw.client() as http:
        return (await http.get("/credit.do", params={"accessToken": gw.token})).text


async def test_history_records_in_progress_sent_operator_received(database_url: str) -> None:
    async with running_gateway(database_url) as gw:
        sms_id = await _send(gw, numero="0612345678", message="x")
        await wait_for(lambda: _ends_with(gw, sms_id, " 11"))
        async with gw.db.reader.connect() as conn:
            codes = (
                (
                    await conn.execute(
                        select(status_history.c.code)
                        .join(messages)
                        .where(messages.c.send_id == sms_id)
                        .order_by(status_history.c.id)
                    )
                )
                .scalars()
                .all()
            )
        assert codes == [1, 0, 13, 11]


async def _ends_with(gw: Gateway, sms_id: str, suffix: str) -> bool:
    return (await _report(gw, sms_id)).endswith(suffix)


async def test_a_long_message_goes_out_in_parts_and_is_received_when_every_part_is(database_url: str) -> None:
    async with running_gateway(database_url) as gw:
        sms_id = await _send(gw, numero="0612345678", message="a" * 400)  # 3 parts of 153
        assert await _credit(gw) == "997"
        await wait_for(lambda: _ends_with(gw, sms_id, " 11"))
        async with gw.db.reader.connect() as conn:
            count = await conn.scalar(
                select(func.count()).select_from(parts).join(messages).where(messages.c.send_id == sms_id)
            )
        assert count == 3


async def test_sandbox_failures_get_their_documented_statuses_and_refunds(database_url: str) -> None:
    async with running_gateway(database_url) as gw:
        refused = await _send(gw, numero="33699999001", message="x")
        undeliverable = await _send(gw, numero="33699999002", message="x")
        expired = await _send(gw, numero="33699999003", message="x")
        flaky = await _send(gw, numero="33699999005", message="x")
        await wait_for(lambda: _ends_with(gw, refused, " 34"))
        await wait_for(lambda: _ends_with(gw, undeliverable, " 21"))
        await wait_for(lambda: _ends_with(gw, expired, " 37"))
        await wait_for(lambda: _ends_with(gw, flaky, " 11"))  # temporary refusal, then delivered on retry
        # Only the message refused before leaving is refunded: the others reached the network.
        assert await _credit(gw) == "997"


async def test_a_scheduled_send_is_released_when_due(database_url: str) -> None:
    soon = (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(minutes=5)).strftime("%d%m%Y-%H:%M")
    async with running_gateway(database_url) as gw:
        sms_id = await _send(gw, numero="0612345678", message="x", date_envoi=soon)
        assert await _report(gw, sms_id) == "33612345678 10"
        # Let the minute pass: move the due time to the past; the running scheduler must notice by itself.
        async with gw.db.write() as conn:
            await conn.execute(update(messages).where(messages.c.send_id == sms_id).values(due_at=now_ms() - 1))
        await wait_for(lambda: _ends_with(gw, sms_id, " 11"))
        assert await ScheduleStore(gw.db, now_ms).next_scheduled_at() is None
