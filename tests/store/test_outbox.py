"""Status callbacks are queued in the transaction of the change they report, one per reportable change."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select, update

from martinet.store.schema import accounts, callbacks, status_history
from tests.gateway import Gateway, running_gateway, wait_for


async def _send(gw: Gateway, **params: str) -> str:
    async with gw.client() as http:
        reply = await http.post("/sendSMS.do", data={"accessToken": gw.token, "message": "Bonjour", **params})
    answer = reply.content.decode("iso-8859-15")
    assert answer.startswith("0 | "), answer
    return answer.rsplit(" | ", 1)[1]


async def _queued(gw: Gateway) -> list[tuple[str, str, str, str, int]]:
    async with gw.db.reader.connect() as conn:
        rows = await conn.execute(
            select(
                callbacks.c.kind, callbacks.c.order_key, callbacks.c.url, status_history.c.state, status_history.c.code
            )
            .join(status_history, status_history.c.id == callbacks.c.history_id)
            .order_by(callbacks.c.id)
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_each_status_change_of_a_send_with_a_url_is_queued_in_order(database_url: str) -> None:
    async with running_gateway(database_url) as gw:
        await _send(gw, numero="0612345678", notification_url="https://hooks.example.com/dlr?x=1")
        await _send(gw, numero="0612345679")  # no URL anywhere: nothing queued
        await wait_for(lambda: _count(gw, 3), timeout=10)
        queued = await _queued(gw)
    assert [(state, code) for *_rest, state, code in queued] == [("sent", 0), ("sent", 13), ("delivered", 11)]
    assert {kind for kind, *_ in queued} == {"status"}
    assert len({key for _k, key, *_ in queued}) == 1  # one recipient, one order key
    assert {url for _k, _o, url, *_ in queued} == {"https://hooks.example.com/dlr?x=1"}


async def test_the_account_default_url_applies_when_the_send_names_none(database_url: str) -> None:
    async with running_gateway(database_url) as gw:
        async with gw.db.write() as conn:
            await conn.execute(update(accounts).values(callback_url="https://hooks.example.com/default"))
        await _send(gw, numero="0612345678")
        await wait_for(lambda: _count(gw, 3), timeout=10)
        assert {url for _k, _o, url, *_ in await _queued(gw)} == {"https://hooks.example.com/default"}


async def _count(gw: Gateway, count: int) -> bool:
    return len(await _queued(gw)) >= count


async def test_cancelling_a_scheduled_send_queues_its_report(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw:
        sms_id = await _send(
            gw,
            numero="0612345678",
            date_envoi=f"{date.today() + timedelta(days=30):%d%m%Y}-10:00",
            notification_url="https://hooks.example.com/dlr",
        )
        async with gw.client() as http:
            answer = await http.get("/deleteSMS.do", params={"accessToken": gw.token, "smsID": sms_id})
        assert answer.text.startswith("0 | ")
        queued = await _queued(gw)
    assert [(state, code) for *_rest, state, code in queued] == [("cancelled", 50)]  # final: not delivered
