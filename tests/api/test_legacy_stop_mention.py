"""The STOP mention on marketing sends from a custom sender, over real HTTP on both databases.

French rules want an opt-out mention on commercial SMS. A marketing send from a custom sender (`emetteur`)
without `stop=1/2` gets it added as with `stop=1` (`marketing.stop_mention = "add"`, the default), is refused
with `35` naming `stop` ("refuse"), or goes as it is ("off"). What was stored is read back with smsList.do.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx

from martinet.app import account_service
from martinet.domain.credits import to_milli
from tests.gateway import Gateway, running_gateway

STOP = " STOP 36180"


async def _marketing_account(gw: Gateway, login: str = "shop", language: str | None = None) -> str:
    service = account_service(gw.settings, gw.db)
    created = await service.create(login, credits=to_milli(100), lane="marketing", language=language)
    return created.token


async def _send(http: httpx.AsyncClient, token: str, message: str, **params: str) -> str:
    data = {"accessToken": token, "numero": "0612345678", "message": message, **params}
    reply = await http.post("/sendSMS.do", data=data)
    assert reply.status_code == 200
    return reply.content.decode("iso-8859-15")


async def _texts(http: httpx.AsyncClient, token: str) -> set[str]:
    """The stored texts of an account's sends (each test sends different texts)."""
    listing = (await http.get("/smsList.do", params={"accessToken": token})).content.decode("iso-8859-15")
    return {line.split(" | ")[2] for line in listing.splitlines()}


def _gateway(database_url: str, policy: str | None = None) -> AbstractAsyncContextManager[Gateway]:
    overrides: dict[str, Any] = {} if policy is None else {"marketing": {"stop_mention": policy}}
    return running_gateway(database_url, with_engine=False, **overrides)


async def test_added_by_default_as_with_stop_1(database_url: str) -> None:
    async with _gateway(database_url) as gw, gw.client() as http:
        assert gw.settings.marketing.stop_mention == "add"
        token = await _marketing_account(gw)
        assert (await _send(http, token, "Soldes", emetteur="MaBoutique")).startswith("0 | ")
        assert (await _send(http, token, "Promo", emetteur="MaBoutique", stop="2")).startswith("0 | ")
        assert (await _send(http, token, "Sans emetteur")).startswith("0 | ")  # nothing added
        # As with stop=1, the mention is not added when it would cost another part.
        full = "x" * 155
        assert (await _send(http, token, full, emetteur="MaBoutique")).startswith("0 | ")
        assert await _texts(http, token) == {"Soldes" + STOP, "Promo" + STOP, "Sans emetteur", full}
        assert (await http.get("/credit.do", params={"accessToken": token})).text == "96"


async def test_only_on_the_marketing_lane(database_url: str) -> None:
    async with _gateway(database_url, "refuse") as gw, gw.client() as http:
        assert (await _send(http, gw.token, "Alerte", emetteur="MaBoutique")).startswith("0 | ")  # a notification
        assert await _texts(http, gw.token) == {"Alerte"}


async def test_refused_naming_stop_and_nothing_stored(database_url: str) -> None:
    async with _gateway(database_url, "refuse") as gw, gw.client() as http:
        french = await _marketing_account(gw)
        english = await _marketing_account(gw, "shop-en", language="en")
        assert await _send(http, french, "Soldes", emetteur="MaBoutique") == (
            "35 | Paramètre invalide : stop (obligatoire pour un envoi marketing avec émetteur)"
        )
        assert await _send(http, english, "Sales", emetteur="MaBoutique") == (
            "35 | Invalid parameter: stop (required for marketing sends with emetteur)"
        )
        assert await _texts(http, french) == set()
        assert (await http.get("/credit.do", params={"accessToken": french})).text == "100"
        # With the mention asked for, or without a custom sender, the send goes.
        assert (await _send(http, french, "Soldes", emetteur="MaBoutique", stop="1")).startswith("0 | ")
        assert (await _send(http, french, "Sans emetteur")).startswith("0 | ")
        assert await _texts(http, french) == {"Soldes" + STOP, "Sans emetteur"}


async def test_off_sends_as_given(database_url: str) -> None:
    async with _gateway(database_url, "off") as gw, gw.client() as http:
        token = await _marketing_account(gw)
        assert (await _send(http, token, "Soldes", emetteur="MaBoutique")).startswith("0 | ")
        assert (await _send(http, token, "Promo", emetteur="MaBoutique", stop="1")).startswith("0 | ")
        assert await _texts(http, token) == {"Soldes", "Promo" + STOP}
