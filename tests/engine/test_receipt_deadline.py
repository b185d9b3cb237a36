"""Every message reaches a final status: a part whose final receipt is overdue is asked about (query_sm) or
recorded as unknown (3599), with its callback and no refund; a receipt arriving later still applies."""

from __future__ import annotations

from prometheus_client import REGISTRY
from sqlalchemy import select

from martinet.clock import now_ms
from martinet.domain.receipts import Receipt
from martinet.domain.status import FINAL_STATES, State
from martinet.smpp import MessageState
from martinet.smsc import Simulator
from martinet.store.receipts import ReceiptStore
from martinet.store.schema import accounts, callbacks, messages, parts, status_history
from tests.engine.carriers import carrier_config, smpp_connector
from tests.gateway import Gateway, running_gateway, wait_for

DELIVERED = "33759990001"
NEVER_REPORTED = "33759990005"  # the simulator sends an intermediate receipt only
RECEIPT_LOST = "33759990007"  # delivered, query_sm says so, the final receipt never comes


async def _send(gw: Gateway, *numbers: str) -> None:
    async with gw.client() as http:
        reply = await http.post(
            "/sendSMS.do",
            data={
                "accessToken": gw.token,
                "numero": ",".join(numbers),
                "message": "rendez-vous demain",
                "notification_url": "http://127.0.0.1:9/dlr",  # nobody listens: the callback rows are what we check
            },
        )
    assert reply.text.startswith("0 | "), reply.text


async def _statuses(gw: Gateway) -> dict[str, tuple[str, int]]:
    async with gw.db.reader.connect() as conn:
        rows = (await conn.execute(select(messages.c.msisdn, messages.c.state, messages.c.code))).all()
    return {row.msisdn: (row.state, row.code) for row in rows}


async def _history(gw: Gateway, msisdn: str) -> list[tuple[int, str | None]]:
    async with gw.db.reader.connect() as conn:
        rows = await conn.execute(
            select(status_history.c.code, status_history.c.detail)
            .join(messages, messages.c.id == status_history.c.message_id)
            .where(messages.c.msisdn == msisdn)
            .order_by(status_history.c.id)
        )
        return [(row.code, row.detail) for row in rows]


def _count(connector: str, outcome: str) -> float:
    return (
        REGISTRY.get_sample_value("martinet_receipt_deadline_total", {"connector": connector, "outcome": outcome}) or 0
    )


async def test_a_part_never_reported_is_concluded_unknown_and_a_late_receipt_still_applies(database_url: str) -> None:
    async with Simulator(carrier_config(intermediate_receipt=MessageState.ENROUTE, intermediate_delay=0.01)) as smsc:
        connectors = [smpp_connector("silent", smsc.port, receipt_deadline=1)]
        async with running_gateway(
            database_url, credits=10, connectors=connectors, callbacks={"allow_private_networks": True}
        ) as gw:
            unknown_before = _count("silent", "unknown")
            await _send(gw, DELIVERED, NEVER_REPORTED)
            async with gw.db.reader.connect() as conn:
                balance = await conn.scalar(select(accounts.c.balance))  # both messages paid for

            async def concluded() -> bool:
                return (await _statuses(gw)).get(NEVER_REPORTED) == ("undelivered", 3599)

            await wait_for(concluded, timeout=15)
            statuses = await _statuses(gw)
            assert statuses[DELIVERED] == ("delivered", 11)  # reported in time: left alone
            history = await _history(gw, NEVER_REPORTED)
            assert history[-1] == (3599, "no delivery receipt within the receipt deadline")
            assert 13 in [code for code, _ in history]  # the intermediate receipt was recorded before
            assert _count("silent", "unknown") == unknown_before + 1
            async with gw.db.reader.connect() as conn:
                assert await conn.scalar(select(accounts.c.balance)) == balance  # nothing refunded
                reported = (
                    (
                        await conn.execute(
                            select(status_history.c.code)
                            .join(callbacks, callbacks.c.history_id == status_history.c.id)
                            .join(messages, messages.c.id == status_history.c.message_id)
                            .where(messages.c.msisdn == NEVER_REPORTED)
                        )
                    )
                    .scalars()
                    .all()
                )
                assert 3599 in reported  # the conclusion is called back like any final status
                carrier_id = await conn.scalar(
                    select(parts.c.carrier_id)
                    .join(messages, messages.c.id == parts.c.message_id)
                    .where(messages.c.msisdn == NEVER_REPORTED)
                )
            # The carrier's receipt turns up after all: it replaces the unknown outcome, and is called back.
            late = Receipt("silent", carrier_id, State.DELIVERED, 11, now_ms(), "id:late stat:DELIVRD")
            assert await ReceiptStore(gw.db, now_ms).apply([late]) == 1
            assert (await _statuses(gw))[NEVER_REPORTED] == ("delivered", 11)
            assert (await _history(gw, NEVER_REPORTED))[-1] == (11, "id:late stat:DELIVRD")


async def test_query_sm_asks_the_carrier_about_an_overdue_part(database_url: str) -> None:
    config = carrier_config(intermediate_receipt=MessageState.ENROUTE, intermediate_delay=0.01, receipt_delay=0.3)
    async with Simulator(config) as smsc:
        connectors = [smpp_connector("asking", smsc.port, receipt_deadline=1, query_sm=True)]
        async with running_gateway(
            database_url, credits=10, connectors=connectors, callbacks={"allow_private_networks": True}
        ) as gw:
            queried_before = _count("asking", "queried")
            await _send(gw, RECEIPT_LOST, NEVER_REPORTED)

            async def concluded() -> bool:
                statuses = await _statuses(gw)
                return len(statuses) == 2 and all(state in FINAL_STATES for state, _ in statuses.values())

            await wait_for(concluded, timeout=15)
            statuses = await _statuses(gw)
    assert statuses[RECEIPT_LOST] == ("delivered", 11)  # the carrier knew: delivered
    assert statuses[NEVER_REPORTED] == ("undelivered", 3599)  # it did not: unknown
    assert _count("asking", "queried") == queried_before + 1
