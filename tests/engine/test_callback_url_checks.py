"""What is checked about a callback URL at acceptance, and what only at delivery (docs/webhooks.md).

At acceptance, only what the URL itself shows: a host that is an address in any form the resolver reads
(`127.1`, `2130706433`, `0x7f.1`) or a name that always means loopback (`localhost`, `*.localhost`) is refused
with 35 / 422. Names are not resolved then: a name that resolves to a refused address is accepted and refused by
the notifier before it connects, for good; a name that does not resolve is accepted and retried at delivery.
"""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from martinet.domain.webhooks import forbidden_address
from martinet.store.schema import callbacks, sends
from tests.gateway import Gateway, running_gateway, wait_for


async def _send(gw: Gateway, **params: str) -> str:
    async with gw.client() as http:
        reply = await http.post(
            "/sendSMS.do", data={"accessToken": gw.token, "numero": "0612345678", "message": "x", **params}
        )
    return reply.content.decode("iso-8859-15")


async def _callbacks(gw: Gateway) -> list[Any]:
    async with gw.db.reader.connect() as conn:
        query = select(callbacks.c.url, callbacks.c.state, callbacks.c.attempts, callbacks.c.last_error).order_by(
            callbacks.c.id
        )
        return list((await conn.execute(query)).all())


async def _sends(gw: Gateway) -> int:
    async with gw.db.reader.connect() as conn:
        return len((await conn.execute(select(sends.c.id))).all())


async def test_addresses_written_in_any_form_the_resolver_reads_are_refused_at_acceptance(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw:
        for url in ("http://127.1/dlr", "http://2130706433/dlr", "http://0x7f.1:8080/dlr", "http://localhost/dlr"):
            answer = await _send(gw, notification_url=url)
            assert answer.startswith("35 | Paramètre invalide : notification_url ("), (url, answer)
            assert "une adresse de bouclage" in answer, (url, answer)
        answer = await _send(gw, notification_url_reponse="https://shop.localhost./mo")
        assert answer == (
            "35 | Paramètre invalide : notification_url_reponse "
            "(shop.localhost. désigne 127.0.0.1 : 127.0.0.1 est une adresse de bouclage)"
        )
        async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}) as http:
            body = {"recipient": {"to": "+33612345678"}, "body": {"text": "x"}, "callbackUrlStatus": "http://10.1/s"}
            reply = await http.post("/sms/v1/messages", json=body)
        assert reply.status_code == 422
        assert reply.json()["field"] == "callbackUrlStatus"
        assert reply.json()["detail"] == "10.1 means 10.0.0.1: 10.0.0.1 is a private address (10.0.0.0/8)"
        assert await _sends(gw) == 0


async def test_names_are_resolved_at_delivery_only(database_url: str) -> None:
    # The machine's own name resolves to a loopback address (through /etc/hosts, no DNS server needed).
    name = socket.gethostname().lower()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, 80)}
    except OSError:
        addresses = set()
    if not addresses or not all(forbidden_address(str(a)) for a in addresses):
        pytest.skip(f"{name} does not resolve to refused addresses only here: {addresses}")
    internal, unknown = f"http://{name}:9/dlr", "https://hooks.invalid/dlr"  # .invalid never resolves (RFC 2606)
    async with running_gateway(database_url, callbacks={"retry_first": 0.2, "retry_max": 0.5}) as gw:
        assert (await _send(gw, notification_url=internal)).startswith("0 | ")
        assert (await _send(gw, notification_url=unknown)).startswith("0 | ")

        async def settled() -> dict[str, list[Any]] | None:
            rows: dict[str, list[Any]] = {internal: [], unknown: []}
            for row in await _callbacks(gw):  # one per status event, in order
                rows[row.url].append(row)
            if not rows[internal] or any(row.state != "failed" for row in rows[internal]):
                return None
            return rows if rows[unknown] and rows[unknown][0].attempts >= 2 else None

        rows = await wait_for(settled, timeout=20)
    # The internal name: each event refused for good at its first try, the connection never made.
    for row in rows[internal]:
        assert row.attempts == 1 and f"{name} resolves only to refused addresses" in row.last_error, row
    # The unknown name: a failed attempt like any other, tried again (DNS may come back) until max_age_hours.
    first = rows[unknown][0]
    assert first.state == "pending" and first.last_error.startswith("cannot connect"), first
