"""Replies (MO) over SMPP: linked to the send they answer, listed by responseList.do, posted to the reply
callback, and a "Stop" opts the number out of the account's marketing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from sqlalchemy import func, select

from martinet.app import account_service
from martinet.domain.credits import to_milli
from martinet.smsc import Simulator
from martinet.store.schema import callbacks, inbound_messages, messages, opt_outs
from tests.engine.carriers import bound, carrier_config, smpp_connector
from tests.gateway import Gateway, running_gateway, wait_for

REPLY_NUMBER = "38100"


@pytest.fixture
async def carrier() -> AsyncIterator[Simulator]:
    async with Simulator(carrier_config(seed=4)) as smsc:
        yield smsc


def _settings(port: int) -> dict[str, object]:
    connector = smpp_connector("carrier", port, reply_numbers=[REPLY_NUMBER])
    return {"connectors": [connector], "marketing": {"quiet_hours": {}}}


async def _send(gw: Gateway, token: str, **params: str) -> str:
    async with gw.client() as http:
        reply = await http.post("/sendSMS.do", data={"accessToken": token, **params})
    answer = reply.content.decode("iso-8859-15")
    assert answer.startswith("0 | "), answer
    return answer.rsplit(" | ", 1)[1]


async def _submitted_to(carrier: Simulator, number: str) -> bool:
    return any(m.destination.addr == number for m in carrier.messages.values())


async def _linked(gw: Gateway) -> bool:
    async with gw.db.reader.connect() as conn:
        return bool(await conn.scalar(select(func.count()).where(inbound_messages.c.send_id.is_not(None))))


async def test_a_reply_is_linked_listed_and_posted_to_its_callback(database_url: str, carrier: Simulator) -> None:
    received: list[web.Request] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(request)
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_get("/mo", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    settings = {**_settings(carrier.port), "callbacks": {"allow_private_networks": True}}
    async with running_gateway(database_url, **settings) as gw:
        await wait_for(lambda: bound(carrier), timeout=10)
        sms_id = await _send(
            gw,
            gw.token,
            numero="0612345678",
            message="Confirmez-vous le rendez-vous ? Répondez OUI",
            classe_msg="4",
            notification_url_reponse=f"http://127.0.0.1:{port}/mo",
        )
        await wait_for(lambda: _submitted_to(carrier, "33612345678"), timeout=10)
        sent = next(m for m in carrier.messages.values() if m.destination.addr == "33612345678")
        assert sent.source.addr == REPLY_NUMBER  # classe_msg=4 leaves from the connector's reply number
        carrier.inject_mo("33612345678", REPLY_NUMBER, "Oui, merci")
        await wait_for(lambda: _linked(gw), timeout=10)
        async with gw.client() as http:
            listed = (await http.get("/responseList.do", params={"accessToken": gw.token})).text
        await wait_for(lambda: _at_least(received, 1), timeout=10)
        # The notifier records how a delivery went after the receiver answered: wait for that write.
        state = await wait_for(lambda: _reply_callback_state(gw, "delivered"), timeout=10)
    await runner.cleanup()
    (line,) = listed.splitlines()
    response_id, _date, source, text, destination, answered = line.split(" | ")
    assert (source, text, destination, answered) == ("33612345678", "Oui, merci", REPLY_NUMBER, sms_id)
    (request,) = received
    query = dict(request.query)
    assert {k: query[k] for k in ("numero", "emetteur", "message", "smsID", "responseID")} == {
        "numero": REPLY_NUMBER,
        "emetteur": "33612345678",
        "message": "Oui, merci",
        "smsID": sms_id,
        "responseID": response_id,
    }
    assert re.fullmatch(r"\d{8}-\d{6}", query["date_reception"])
    assert request.headers["X-Martinet-Event-Id"] == f"r{response_id}"
    assert state == "delivered"


async def test_a_stop_reply_opts_out_and_the_next_campaign_skips_the_number_at_no_cost(
    database_url: str, carrier: Simulator
) -> None:
    async with running_gateway(database_url, **_settings(carrier.port)) as gw:
        shop = await account_service(gw.settings, gw.db).create("shop", credits=to_milli(100), lane="marketing")
        await wait_for(lambda: bound(carrier), timeout=10)
        await _send(gw, shop.token, numero="0612345678", message="Soldes -50%", emetteur="BOUTIQUE")
        await wait_for(lambda: _submitted_to(carrier, "33612345678"), timeout=10)
        carrier.inject_mo("+33612345678", "36180", "Stop !")  # to the STOP number of the mention
        await wait_for(lambda: _opted_out(gw), timeout=10)
        second = await _send(gw, shop.token, numero="0612345678", message="Encore -70%", emetteur="BOUTIQUE")
        async with gw.db.reader.connect() as conn:
            code, cost = (
                await conn.execute(select(messages.c.code, messages.c.cost).where(messages.c.send_id == second))
            ).one()
    assert (code, cost) == (3999, 0)
    assert sum(1 for m in carrier.messages.values() if m.destination.addr == "33612345678") == 1


async def test_date_range_and_paging_are_exclusive(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
        both = await http.get(
            "/responseList.do",
            params={"accessToken": gw.token, "startDate": "01012026-00:00", "endDate": "31122026-23:59", "start": "0"},
        )
        half = await http.get("/responseList.do", params={"accessToken": gw.token, "startDate": "01012026-00:00"})
        empty = await http.get(
            "/responseList.do",
            params={"accessToken": gw.token, "startDate": "01012026-00:00", "endDate": "31122026-23:59"},
        )
        # PHP's http_build_query sends every key: an empty page parameter is no page parameter.
        dates = {"startDate": "01012026-00:00", "endDate": "31122026-23:59"}
        blank = await http.get("/responseList.do", params={"accessToken": gw.token, **dates, "start": "", "offset": ""})
        offset = await http.get(
            "/responseList.do", params={"accessToken": gw.token, **dates, "start": "", "offset": "5"}
        )
    assert blank.text == ""
    assert offset.text.startswith("35 | Paramètre invalide : offset (")
    assert both.text.startswith("35 | ") and "start" in both.text
    assert half.text.startswith("35 | ") and "endDate" in half.text
    assert empty.text == ""


async def _reply_callback_state(gw: Gateway, wanted: str) -> str | None:
    async with gw.db.reader.connect() as conn:
        state = await conn.scalar(select(callbacks.c.state).where(callbacks.c.kind == "reply"))
    return state if state == wanted else None


async def _at_least(items: list[web.Request], count: int) -> bool:
    return len(items) >= count


async def _opted_out(gw: Gateway) -> bool:
    async with gw.db.reader.connect() as conn:
        return bool(await conn.scalar(select(func.count()).select_from(opt_outs)))


async def test_an_unanswered_long_reply_goes_whole_to_the_owner_of_its_number(
    database_url: str, carrier: Simulator
) -> None:
    settings = {**_settings(carrier.port), "replies": {"owners": {"38200": "acme"}}}
    long_text = "Bonjour, je voudrais savoir si la boutique est ouverte dimanche. " * 4  # 4 parts on the air
    async with running_gateway(database_url, **settings) as gw:
        await wait_for(lambda: bound(carrier), timeout=10)
        assert carrier.inject_mo("33698765432", "38200", long_text) > 1
        await wait_for(lambda: _inbound(gw, 1), timeout=10)
        async with gw.client() as http:
            listed = (await http.get("/responseList.do", params={"accessToken": gw.token})).text
    (line,) = listed.splitlines()
    _id, _date, source, text, destination, answered = line.split(" | ")
    assert (source, destination, answered) == ("33698765432", "38200", "")
    assert text.strip() == long_text.strip()  # one reply, whole, not one per part


async def _inbound(gw: Gateway, count: int) -> bool:
    async with gw.db.reader.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(inbound_messages)) or 0) >= count
