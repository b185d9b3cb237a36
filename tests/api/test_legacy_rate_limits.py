"""Per-account rate limits at sendSMS.do, over real HTTP on both databases.

A send over the limit answers smsmode's `50 | Temporairement indisponible` (clients retry later on 50) and leaves
no trace: no send, no ledger row, no debit. The checks count rows in the database, not only answers.
"""

from __future__ import annotations

import asyncio
import re

import httpx
from sqlalchemy import func, select

from martinet.app import account_service
from martinet.domain.credits import to_milli
from martinet.store.schema import accounts, ledger, sends
from tests.gateway import Gateway, running_gateway

ACCEPTED = re.compile(r"0 \| Accepté \| [A-Za-z0-9]{12}")
ACCEPTED_EN = re.compile(r"0 \| Accepted \| [A-Za-z0-9]{12}")


async def _send(http: httpx.AsyncClient, token: str, message: str = "Bonjour") -> str:
    reply = await http.post("/sendSMS.do", data={"accessToken": token, "numero": "0612345678", "message": message})
    assert reply.status_code == 200
    return reply.content.decode("iso-8859-15")


async def _stored(gw: Gateway, login: str) -> tuple[int, int, int]:
    """Sends, ledger rows and balance (millicredits) of an account, read from the database."""
    async with gw.db.reader.connect() as conn:
        account_id, balance = (
            await conn.execute(select(accounts.c.id, accounts.c.balance).where(accounts.c.login == login))
        ).one()
        send_count = await conn.scalar(select(func.count()).select_from(sends).where(sends.c.account_id == account_id))
        ledger_count = await conn.scalar(
            select(func.count()).select_from(ledger).where(ledger.c.account_id == account_id)
        )
    return int(send_count or 0), int(ledger_count or 0), int(balance)


async def _create(gw: Gateway, login: str, *, language: str | None = None, rate_limit: float | None = None) -> str:
    service = account_service(gw.settings, gw.db)
    created = await service.create(login, credits=to_milli(100), language=language, rate_limit=rate_limit)
    return created.token


async def test_over_the_limit_answers_50_in_the_account_language_and_stores_nothing(database_url: str) -> None:
    # The default limit (0.2/s: one send, then one every five seconds) applies to accounts without their own.
    async with running_gateway(database_url, with_engine=False, accounts={"rate_limit": 0.2}) as gw:
        english = await _create(gw, "bob", language="en")
        async with gw.client() as http:
            assert ACCEPTED.fullmatch(await _send(http, gw.token)), "the first send is within the limit"
            for _ in range(3):
                assert await _send(http, gw.token) == "50 | Temporairement indisponible"
            assert ACCEPTED_EN.fullmatch(await _send(http, english))
            assert await _send(http, english) == "50 | Temporarily unavailable"
            assert (await http.get("/credit.do", params={"accessToken": gw.token})).text == "999"
        # One send, the opening credit and one debit: the refused sends left nothing.
        assert await _stored(gw, "acme") == (1, 2, to_milli(999))
        assert await _stored(gw, "bob") == (1, 2, to_milli(99))


async def test_an_account_limit_overrides_the_default(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False, accounts={"rate_limit": 0.2}) as gw:
        unlimited = await _create(gw, "bulk", rate_limit=0)
        slow = await _create(gw, "slow", rate_limit=0.1)
        async with gw.client() as http:
            answers = await asyncio.gather(*(_send(http, unlimited) for _ in range(20)))
            assert all(ACCEPTED.fullmatch(answer) for answer in answers), answers
            assert ACCEPTED.fullmatch(await _send(http, slow))
            assert (await _send(http, slow)).startswith("50 | ")
        assert (await _stored(gw, "bulk"))[0] == 20
        assert (await _stored(gw, "slow"))[0] == 1


async def test_no_limit_when_neither_the_account_nor_the_configuration_sets_one(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
        assert gw.settings.accounts.rate_limit == 0
        answers = await asyncio.gather(*(_send(http, gw.token) for _ in range(40)))
        assert all(ACCEPTED.fullmatch(answer) for answer in answers), answers
        assert (await _stored(gw, "acme"))[0] == 40


async def test_a_client_under_the_limit_is_never_refused(database_url: str) -> None:
    """A client calling steadily below its limit, past the first second's burst, gets every send accepted."""
    async with running_gateway(database_url, with_engine=False) as gw:
        token = await _create(gw, "steady", rate_limit=10)
        async with gw.client() as http:
            for index in range(25):  # about 8 per second, for three seconds
                answer = await _send(http, token, f"Message {index}")
                assert ACCEPTED.fullmatch(answer), (index, answer)
                await asyncio.sleep(0.12)
        assert (await _stored(gw, "steady"))[0] == 25


async def test_a_changed_limit_applies_once_the_authentication_cache_expires(database_url: str) -> None:
    # The test gateway caches nothing (token_cache_seconds = 0): the change applies to the next call.
    async with running_gateway(database_url, with_engine=False) as gw:
        token = await _create(gw, "changing", rate_limit=0.1)
        service = account_service(gw.settings, gw.db)
        async with gw.client() as http:
            assert ACCEPTED.fullmatch(await _send(http, token))
            assert (await _send(http, token)).startswith("50 | ")
            await service.update("changing", rate_limit=0)
            assert ACCEPTED.fullmatch(await _send(http, token))
            assert ACCEPTED.fullmatch(await _send(http, token))
            await service.update("changing", rate_limit=0.1)
            assert ACCEPTED.fullmatch(await _send(http, token))  # a new limit starts with a full bucket
            assert (await _send(http, token)).startswith("50 | ")
        assert (await _stored(gw, "changing"))[0] == 4


async def test_other_endpoints_are_not_limited(database_url: str) -> None:
    limited = {"rate_limit": 0.1}
    async with running_gateway(database_url, with_engine=False, accounts=limited) as gw, gw.client() as http:
        assert ACCEPTED.fullmatch(await _send(http, gw.token))
        assert (await _send(http, gw.token)).startswith("50 | ")
        for _ in range(5):
            assert (await http.get("/credit.do", params={"accessToken": gw.token})).text == "999"
