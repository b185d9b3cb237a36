"""Replies reach only the account whose conversation they answer, over the whole pipeline (doors, engine, SMPP
to the simulator, inbound linking, opt-outs, reply callbacks), on both databases.

Two accounts share a connector's reply numbers. Once `bshop` has written to a phone from a reply number, that
(number, phone) pair is its conversation: `ashop` writing to the same phone later gets another number of the
pool (or, when the pool has none left for that phone, its message fails with status 34), so the phone's answer
and its STOP on `bshop`'s number go to `bshop` only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from martinet.app import account_service
from martinet.domain.credits import to_milli
from martinet.smsc import Simulator
from martinet.store.schema import accounts, callbacks, inbound_messages, messages, opt_outs
from tests.engine.carriers import bound, carrier_config, smpp_connector
from tests.gateway import Gateway, running_gateway, wait_for

PHONE, INTERNATIONAL = "0612345678", "33612345678"
OTHER_PHONE = "33698765432"


@pytest.fixture
async def carrier() -> AsyncIterator[Simulator]:
    async with Simulator(carrier_config(seed=7)) as smsc:
        yield smsc


def _settings(port: int, numbers: list[str]) -> dict[str, object]:
    return {
        "connectors": [smpp_connector("carrier", port, reply_numbers=numbers)],
        "marketing": {"quiet_hours": {}},
        "callbacks": {"allow_private_networks": True, "retry_first": 3600},
    }


async def _send(gw: Gateway, token: str, to: str = PHONE, **params: str) -> str:
    async with gw.client() as http:
        reply = await http.post("/sendSMS.do", data={"accessToken": token, "numero": to, "message": "?", **params})
    answer = reply.content.decode("iso-8859-15")
    assert answer.startswith("0 | "), answer
    return answer.rsplit(" | ", 1)[1]


async def _sources(carrier: Simulator, to: str, count: int) -> list[str] | None:
    """The sender numbers of the messages the carrier received for `to`, in order, once there are `count`."""
    found = [m for m in carrier.messages.values() if m.destination.addr == to]
    return [m.source.addr for m in found] if len(found) >= count else None


async def _replies(gw: Gateway, count: int) -> list[tuple[str | None, str | None, str]] | None:
    """(account login, smsID, text) of every stored reply, oldest first, once there are `count`."""
    async with gw.db.reader.connect() as conn:
        rows = (
            await conn.execute(
                select(accounts.c.login, inbound_messages.c.send_id, inbound_messages.c.text)
                .select_from(inbound_messages.outerjoin(accounts, accounts.c.id == inbound_messages.c.account_id))
                .order_by(inbound_messages.c.id)
            )
        ).all()
    return [(r.login, r.send_id, r.text) for r in rows] if len(rows) >= count else None


async def _listed(gw: Gateway, token: str) -> list[str]:
    """The texts `responseList.do` shows to the holder of `token`."""
    async with gw.client() as http:
        listed = (await http.get("/responseList.do", params={"accessToken": token})).text
    return [line.split(" | ")[3] for line in listed.splitlines()]


async def _opted_out_of(gw: Gateway) -> set[str]:
    async with gw.db.reader.connect() as conn:
        rows = await conn.execute(
            select(accounts.c.login).join(opt_outs, opt_outs.c.account_id == accounts.c.id).distinct()
        )
        return {r.login for r in rows}


async def _reply_urls(gw: Gateway) -> list[str]:
    async with gw.db.reader.connect() as conn:
        return list((await conn.scalars(select(callbacks.c.url).where(callbacks.c.kind == "reply"))).all())


async def _tried(gw: Gateway, url: str) -> bool:
    async with gw.db.reader.connect() as conn:
        attempts = await conn.scalar(select(callbacks.c.attempts).where(callbacks.c.url == url))
    return bool(attempts)


async def test_the_phone_answers_the_account_whose_number_it_writes_to(database_url: str, carrier: Simulator) -> None:
    async with running_gateway(database_url, **_settings(carrier.port, ["38100", "38101"])) as gw:
        service = account_service(gw.settings, gw.db)
        bshop = await service.create("bshop", credits=to_milli(100))
        ashop = await service.create("ashop", credits=to_milli(100))
        await wait_for(lambda: bound(carrier), timeout=10)
        b_send = await _send(gw, bshop.token, classe_msg="4", notification_url_reponse="http://127.0.0.1:9/b")
        (b_number,) = await wait_for(lambda: _sources(carrier, INTERNATIONAL, 1), timeout=10)
        # Later, ashop writes to the same phone, expecting replies too, then with a plain notification.
        a_send = await _send(gw, ashop.token, classe_msg="4", notification_url_reponse="http://127.0.0.1:9/a")
        a_number = (await wait_for(lambda: _sources(carrier, INTERNATIONAL, 2), timeout=10))[1]
        await _send(gw, ashop.token, message="Votre colis arrive")
        await wait_for(lambda: _sources(carrier, INTERNATIONAL, 3), timeout=10)
        assert {b_number, a_number} == {"38100", "38101"}  # one number each for this phone
        carrier.inject_mo(INTERNATIONAL, b_number, "Oui pour mardi")
        await wait_for(lambda: _replies(gw, 1), timeout=10)
        carrier.inject_mo(INTERNATIONAL, b_number, "STOP")
        await wait_for(lambda: _replies(gw, 2), timeout=10)
        carrier.inject_mo(INTERNATIONAL, a_number, "Merci")
        replies = await wait_for(lambda: _replies(gw, 3), timeout=10)
        listed_b, listed_a = await _listed(gw, bshop.token), await _listed(gw, ashop.token)
        opted_out = await _opted_out_of(gw)
        urls = await _reply_urls(gw)
        # bshop's receiver fails (nothing listens) and its next try is an hour away: ashop's reply of the same
        # phone is still tried, not held behind another account's callbacks.
        tried = await wait_for(lambda: _tried(gw, "http://127.0.0.1:9/a"), timeout=10)
    assert tried
    assert replies == [("bshop", b_send, "Oui pour mardi"), ("bshop", b_send, "STOP"), ("ashop", a_send, "Merci")]
    assert sorted(listed_b) == ["Oui pour mardi", "STOP"] and listed_a == ["Merci"]
    assert opted_out == {"bshop"}
    assert sorted(urls) == ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b", "http://127.0.0.1:9/b"]


async def test_with_no_number_left_for_that_phone_the_send_fails_and_replies_stay_with_the_first(
    database_url: str, carrier: Simulator
) -> None:
    async with running_gateway(database_url, **_settings(carrier.port, ["38100"])) as gw:
        service = account_service(gw.settings, gw.db)
        bshop = await service.create("bshop", credits=to_milli(100))
        ashop = await service.create("ashop", credits=to_milli(100))
        await wait_for(lambda: bound(carrier), timeout=10)
        b_send = await _send(gw, bshop.token, classe_msg="4")
        await wait_for(lambda: _sources(carrier, INTERNATIONAL, 1), timeout=10)
        refused = await _send(gw, ashop.token, classe_msg="4")
        elsewhere = await _send(gw, ashop.token, to=OTHER_PHONE, classe_msg="4")  # the number is free there
        code, error = await wait_for(lambda: _final(gw, refused), timeout=10)
        assert await wait_for(lambda: _sources(carrier, OTHER_PHONE, 1), timeout=10) == ["38100"]
        carrier.inject_mo(INTERNATIONAL, "38100", "STOP")
        replies = await wait_for(lambda: _replies(gw, 1), timeout=10)
        opted_out = await _opted_out_of(gw)
        async with gw.db.reader.connect() as conn:
            refunded = await conn.scalar(select(func.sum(messages.c.cost)).where(messages.c.send_id == refused))
    assert await _sources(carrier, INTERNATIONAL, 2) is None  # ashop's message never left
    assert code == 34 and "reply number" in (error or ""), (code, error)
    assert refunded == 0
    assert elsewhere
    assert replies == [("bshop", b_send, "STOP")]
    assert opted_out == {"bshop"}


async def _final(gw: Gateway, send_id: str) -> tuple[int, str | None] | None:
    async with gw.db.reader.connect() as conn:
        row = (
            await conn.execute(
                select(messages.c.state, messages.c.code, messages.c.error).where(messages.c.send_id == send_id)
            )
        ).one()
    return (row.code, row.error) if row.state == "failed" else None
