"""Callback URLs whose address is not globally routable are refused at acceptance and, for URLs that were not
checked then (an account's default set by the operator), by the notifier before it connects.

The addresses here are ones the guard must stop although they are neither loopback nor private: a cloud
metadata address in the carrier-grade NAT range, a site-local IPv6 address, and a 6to4 address wrapping one.
"""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import select, update

from martinet.app import account_service
from martinet.domain.credits import to_milli
from martinet.engine.notifier import ForbiddenAddress, GuardedResolver
from martinet.store.schema import accounts, callbacks
from tests.gateway import Gateway, running_gateway, wait_for

METADATA = "http://100.100.100.200/latest/meta-data/"
SITE_LOCAL = "http://[fec0::1]/dlr"
#: 169.254.169.254 written in full-width digits: a name to `urlsplit`, the address itself once through IDNA.
WIDE_METADATA = "http://１６９.２５４.１６９.２５４/latest/"


async def _answer(gw: Gateway, token: str, **params: str) -> str:
    async with gw.client() as http:
        reply = await http.post("/sendSMS.do", data={"accessToken": token, "numero": "0612345678", **params})
    return reply.content.decode("iso-8859-15")


async def _failed(gw: Gateway) -> dict[str, tuple[int, str]] | None:
    """URL → (attempts, last error) of every callback, once there are some and all have failed."""
    async with gw.db.reader.connect() as conn:
        rows = (
            await conn.execute(select(callbacks.c.url, callbacks.c.state, callbacks.c.attempts, callbacks.c.last_error))
        ).all()
    if len({r.url for r in rows}) < 3 or any(r.state != "failed" for r in rows):
        return None
    return {r.url: (r.attempts, r.last_error) for r in rows}


async def test_non_global_addresses_are_refused_at_acceptance_and_before_connecting(database_url: str) -> None:
    async with running_gateway(database_url, callbacks={"retry_first": 0.2, "retry_max": 0.5}) as gw:
        refusals = [
            await _answer(gw, gw.token, message="x", notification_url=METADATA),
            await _answer(gw, gw.token, message="x", notification_url_reponse="http://[2002:a9fe:a9fe::1]/mo"),
            await _answer(gw, gw.token, message="x", notification_url=SITE_LOCAL),
            await _answer(gw, gw.token, message="x", notification_url="http://１２７.０.０.１:8502/dlr"),
            await _answer(gw, gw.token, message="x", notification_url="http://10。0。0。1/dlr"),
            await _answer(gw, gw.token, message="x", notification_url="http://127.0.0.1\u00ad:8502/dlr"),
        ]
        other = await account_service(gw.settings, gw.db).create("other", credits=to_milli(10))
        third = await account_service(gw.settings, gw.db).create("third", credits=to_milli(10))
        async with gw.db.write() as conn:  # set by the operator: checked only when delivered
            await conn.execute(update(accounts).where(accounts.c.login == "acme").values(callback_url=METADATA))
            await conn.execute(update(accounts).where(accounts.c.login == "other").values(callback_url=SITE_LOCAL))
            await conn.execute(update(accounts).where(accounts.c.login == "third").values(callback_url=WIDE_METADATA))
        for token in (gw.token, other.token, third.token):
            sent = await _answer(gw, token, message="y")
            assert sent.startswith("0 | "), sent
        failed = await wait_for(lambda: _failed(gw), timeout=15)
    assert refusals[0].startswith("35 | ") and "notification_url" in refusals[0], refusals
    assert "une adresse partagée (NAT d'opérateur) (100.64.0.0/10)" in refusals[0]
    assert refusals[1].startswith("35 | ") and "notification_url_reponse" in refusals[1], refusals
    assert "(6to4), une adresse lien-local" in refusals[1]
    assert refusals[2].startswith("35 | ") and "site-local" in refusals[2], refusals
    # Refused for good at the first try, without a connection attempt being retried.
    attempts, error = failed[METADATA]
    assert attempts == 1 and "100.100.100.200" in error and "carrier-grade NAT" in error, failed
    attempts, error = failed[SITE_LOCAL]
    assert attempts == 1 and "site-local" in error, failed
    # Addresses written in other digits or dots are the addresses they stand for, at acceptance and delivery.
    for refused in refusals[3:]:
        assert refused.startswith("35 | ") and "notification_url" in refused, refusals
    attempts, error = failed[WIDE_METADATA]
    assert attempts == 1 and "169.254.169.254" in error and "link-local" in error, failed


async def test_names_are_checked_by_the_resolver_the_http_client_connects_through() -> None:
    resolver = GuardedResolver()
    try:
        with pytest.raises(ForbiddenAddress, match="loopback"):
            await resolver.resolve("localhost", 80, socket.AF_UNSPEC)
        with pytest.raises(ForbiddenAddress, match="loopback"):
            await resolver.resolve("127.1", 80, socket.AF_INET)  # the short form the C resolver still reads
    finally:
        await resolver.close()
