"""Every bad input gets smsmode's answer, names the parameter at fault, and leaves nothing behind."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from tests.gateway import Gateway, running_gateway, wait_for


async def _history(http: httpx.AsyncClient, gw: Gateway) -> str:
    return (await http.get("/smsList.do", params={"accessToken": gw.token})).content.decode("iso-8859-15")


async def _credit(http: httpx.AsyncClient, gw: Gateway) -> str:
    return (await http.get("/credit.do", params={"accessToken": gw.token})).text


def _text(reply: httpx.Response) -> str:
    assert reply.status_code == 200
    return reply.content.decode("iso-8859-15")


BAD_SENDS = [
    ({"numero": "0612345678"}, "message"),
    ({"message": "x"}, "numero"),
    ({"message": "x", "numero": "0612345678", "date_envoi": "2026-12-01 10:00"}, "date_envoi"),
    ({"message": "x", "numero": "0612345678", "date_envoi": "31022027-10:00"}, "date_envoi"),
    ({"message": "x", "numero": "0612345678", "emetteur": "ABCDEFGHIJKL"}, "emetteur"),
    ({"message": "x", "numero": "0612345678", "emetteur": "My Shop"}, "emetteur"),
    ({"message": "x", "numero": "0612345678", "emetteur": "Café"}, "emetteur"),
    ({"message": "x", "numero": "0612345678", "emetteur": "Shop", "classe_msg": "4"}, "emetteur"),
    ({"message": "x", "numero": "0612345678", "refClient": "r" * 41}, "refClient"),
    ({"message": "x", "numero": "0612345678", "nbr_msg": "0"}, "nbr_msg"),
    ({"message": "x", "numero": "0612345678", "nbr_msg": "11"}, "nbr_msg"),
    ({"message": "x", "numero": "0612345678", "nbr_msg": "two"}, "nbr_msg"),
    ({"message": "x", "numero": "0612345678", "classe_msg": "3"}, "classe_msg"),
    ({"message": "x", "numero": "0612345678", "stop": "3"}, "stop"),
    ({"message": "x", "numero": "123,abc"}, "numero"),
    ({"message": "x", "numero": "0612345678", "validity": "59"}, "validity"),
    ({"message": "x", "numero": "0612345678", "validity": "259201"}, "validity"),
    ({"message": "x", "numero": "0612345678", "validity": "1h"}, "validity"),
]


async def test_bad_sends_answer_35_naming_the_parameter_and_store_nothing(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
        for params, name in BAD_SENDS:
            reply = _text(await http.post("/sendSMS.do", data={"accessToken": gw.token, **params}))
            assert reply.startswith("35 | "), (params, reply)
            assert name in reply, (params, reply)
        assert await _history(http, gw) == ""
        assert await _credit(http, gw) == "1000"


async def test_more_than_300_recipients_on_get_but_not_on_post(database_url: str) -> None:
    numbers = ",".join(f"0612{i:06d}" for i in range(301))
    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
        reply = _text(
            await http.get("/sendSMS.do", params={"accessToken": gw.token, "message": "x", "numero": numbers})
        )
        assert reply.startswith("35 | ") and "numero" in reply
        reply = _text(await http.post("/sendSMS.do", data={"accessToken": gw.token, "message": "x", "numero": numbers}))
        assert reply.startswith("0 | Accepté | ")
        assert await _credit(http, gw) == "699"


async def test_unknown_token_and_bad_password_answer_32(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
        for params in (
            {"accessToken": "nope"},
            {},
            {"pseudo": "acme", "pass": "wrong"},
            {"pseudo": "nobody", "pass": "secret"},
        ):
            reply = await http.post("/sendSMS.do", data={**params, "message": "x", "numero": "0612345678"})
            assert _text(reply) == "32 | Erreur d'authentification"
        good = await http.post(
            "/sendSMS.do", data={"pseudo": "acme", "pass": "secret", "message": "x", "numero": "0612345678"}
        )
        assert _text(good).startswith("0 | Accepté | ")


async def test_a_send_costing_more_than_the_balance_answers_33_and_stores_nothing(database_url: str) -> None:
    async with running_gateway(database_url, credits=2, with_engine=False) as gw, gw.client() as http:
        reply = await http.post(
            "/sendSMS.do", data={"accessToken": gw.token, "message": "x", "numero": "0612345678,0612345679,0612345670"}
        )
        assert _text(reply) == "33 | Crédits insuffisants"
        assert await _history(http, gw) == ""
        assert await _credit(http, gw) == "2"


async def test_invalid_numbers_among_valid_ones_get_3998(database_url: str) -> None:
    async with running_gateway(database_url) as gw, gw.client() as http:
        reply = _text(
            await http.post(
                "/sendSMS.do",
                data={"accessToken": gw.token, "message": "x", "numero": "0612345678, 12345,+33 7 58 12 34 56"},
            )
        )
        sms_id = reply.rsplit(" | ", 1)[1]
        assert await _credit(http, gw) == "998"  # the invalid one costs nothing

        async def report() -> str | None:
            text = (await http.get("/compteRendu.do", params={"accessToken": gw.token, "smsID": sms_id})).text
            return text if text.count(" 11") == 2 else None

        assert await wait_for(report) == "33612345678 11 | 12345 3998 | 33758123456 11"


async def test_unknown_or_foreign_sms_id_answers_61(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
        for endpoint in ("/compteRendu.do", "/smsStatus.do", "/deleteSMS.do"):
            reply = await http.get(endpoint, params={"accessToken": gw.token, "smsID": "AAAAAAAAAAAA"})
            assert _text(reply) == "61 | SMS n'existant pas ou plus", endpoint
        reply = await http.get("/compteRendu.do", params={"accessToken": gw.token})
        assert _text(reply).startswith("35 | ") and "smsID" in _text(reply)


async def test_scheduled_send_reports_10_and_can_be_cancelled_with_refund(database_url: str) -> None:
    later = (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=2)).strftime("%d%m%Y-%H:%M")
    async with running_gateway(database_url) as gw, gw.client() as http:
        reply = _text(
            await http.post(
                "/sendSMS.do",
                data={"accessToken": gw.token, "message": "later", "numero": "0612345678", "date_envoi": later},
            )
        )
        sms_id = reply.rsplit(" | ", 1)[1]
        assert await _credit(http, gw) == "999"
        status = await http.get("/smsStatus.do", params={"accessToken": gw.token, "smsID": sms_id})
        assert _text(status) == "10 | Programmé"
        listed = await _history(http, gw)
        assert re.fullmatch(
            rf"{sms_id} \| {later[:2]}/{later[2:4]}/{later[4:8]} {later[9:]} \| later \| 33612345678 \| 1 \| 1 \|",
            listed,
        )
        assert (
            _text(await http.get("/deleteSMS.do", params={"accessToken": gw.token, "smsID": sms_id}))
            == "0 | SMS supprimé"
        )
        assert await _credit(http, gw) == "1000"
        assert _text(await http.get("/deleteSMS.do", params={"accessToken": gw.token, "smsID": sms_id})).startswith(
            "61 | "
        )
        assert _text(await http.get("/smsStatus.do", params={"accessToken": gw.token, "smsID": sms_id})).startswith(
            "61 | "
        )


async def test_delete_by_number_cancels_the_latest_scheduled_send_to_it(database_url: str) -> None:
    later = (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=1)).strftime("%d%m%Y-%H:%M")
    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
        for text in ("first", "second"):
            await http.post(
                "/sendSMS.do",
                data={"accessToken": gw.token, "message": text, "numero": "0612345678", "date_envoi": later},
            )
        assert await _credit(http, gw) == "998"
        reply = await http.get("/deleteSMS.do", params={"accessToken": gw.token, "numero": "+33612345678"})
        assert _text(reply) == "0 | SMS supprimé"
        assert await _credit(http, gw) == "999"
        assert [line.split(" | ")[2] for line in (await _history(http, gw)).splitlines()] == ["first"]


async def test_a_send_that_already_left_cannot_be_deleted(database_url: str) -> None:
    async with running_gateway(database_url) as gw, gw.client() as http:
        reply = _text(
            await http.post("/sendSMS.do", data={"accessToken": gw.token, "message": "now", "numero": "0612345678"})
        )
        sms_id = reply.rsplit(" | ", 1)[1]
        assert _text(await http.get("/deleteSMS.do", params={"accessToken": gw.token, "smsID": sms_id})).startswith(
            "61 | "
        )
        assert await _credit(http, gw) == "999"


async def test_english_accounts_get_english_answers(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False, accounts={"language": "en"}) as gw, gw.client() as http:
        reply = _text(await http.post("/sendSMS.do", data={"accessToken": gw.token, "numero": "0612345678"}))
        assert reply == "35 | Invalid parameter: message (missing)"
        reply = _text(
            await http.post("/sendSMS.do", data={"accessToken": gw.token, "numero": "0612345678", "message": "x"})
        )
        assert reply.startswith("0 | Accepted | ")


async def test_sms_list_pages_newest_first(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
        for i in range(5):
            await http.post(
                "/sendSMS.do", data={"accessToken": gw.token, "message": f"m{i}\nline", "numero": "0612345678"}
            )
        lines = (await _history(http, gw)).splitlines()
        assert [line.split(" | ")[2] for line in lines] == [f"m{i} line" for i in range(4, -1, -1)]
        assert all(line.endswith(" | 1 | 1 |") for line in lines)
        page = (await http.get("/smsList.do", params={"accessToken": gw.token, "start": 1, "offset": 2})).text
        assert [line.split(" | ")[2] for line in page.splitlines()] == ["m3 line", "m2 line"]
        bad = await http.get("/smsList.do", params={"accessToken": gw.token, "offset": 10001})
        assert _text(bad).startswith("35 | ") and "offset" in _text(bad)


async def test_unknown_endpoint_is_404(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
        assert (await http.get("/nothing.do")).status_code == 404
