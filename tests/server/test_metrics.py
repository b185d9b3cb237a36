"""/metrics of a real gateway (HTTP door and engine in one process, on both databases), read as Prometheus reads it.

The default registry is shared by every test of the process, so each test compares two scrapes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from bench.kannel import write_lock_seconds
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from martinet.store.callbacks import DELIVERED
from martinet.store.schema import accounts, callbacks, ledger, messages
from tests.engine.test_notifier import FAST, Receiver
from tests.gateway import Gateway, running_gateway, wait_for

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(gw: Gateway) -> Samples:
    async with httpx.AsyncClient(timeout=10) as http:
        reply = await http.get(f"{gw.admin}/metrics")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    return parse(reply.text)


def parse(text: str) -> Samples:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Mapping[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """How much a sample grew, rounded: the counters are the process's own, and credits counted by earlier tests
    in it (thousandths, as floats) leave sums whose difference is off in the last bits (0.9999999999999999)."""
    return round(value(after, name, **labels) - value(before, name, **labels), 9)


def _legacy(reply: httpx.Response) -> str:
    return reply.content.decode("iso-8859-15")


async def _ledger(gw: Gateway) -> dict[str, int]:
    async with gw.db.reader.connect() as conn:
        rows = await conn.execute(
            select(ledger.c.reason, func.sum(ledger.c.amount))
            .join(accounts, accounts.c.id == ledger.c.account_id)
            .where(accounts.c.login == "acme")
            .group_by(ledger.c.reason)
        )
        return {reason: int(total) for reason, total in rows}


async def test_doors_queue_dispatch_receipts_and_credits_are_counted(database_url: str) -> None:
    later = (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=2)).strftime("%d%m%Y-%H:%M")
    many = ",".join(f"06123456{i:02d}" for i in range(30))
    async with running_gateway(database_url, credits=30) as gw:
        before = await scrape(gw)
        assert value(before, "martinet_breaker_state", connector="sandbox") == 0  # closed
        async with gw.client() as http:
            send = {"accessToken": gw.token, "message": "hello"}
            assert _legacy(await http.post("/sendSMS.do", data={**send, "numero": "0612345678"})).startswith("0 | ")
            # The sandbox refuses 0699999001 for good (refunded) and 0699999005 once (then takes it).
            both = {**send, "numero": "0699999001,0699999005"}
            assert _legacy(await http.post("/sendSMS.do", data=both)).startswith("0 | ")
            scheduled = {**send, "numero": "0612345601,0612345602", "date_envoi": later}
            scheduled_id = _legacy(await http.post("/sendSMS.do", data=scheduled)).rsplit(" | ", 1)[1]
            assert _legacy(await http.post("/sendSMS.do", data={"accessToken": gw.token, "numero": "0612345678"}))[
                :2
            ] in ("31", "32", "35")
            assert (
                _legacy(await http.post("/sendSMS.do", data={**send, "accessToken": "nope", "numero": "0612345678"}))[
                    :2
                ]
                == "32"
            )
            assert _legacy(await http.post("/sendSMS.do", data={**send, "numero": many})).startswith("33 | ")
        async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}, timeout=10) as rest:
            two_parts = {"recipient": {"to": "+33612345678"}, "body": {"text": "a" * 200}}
            assert (await rest.post("/sms/v1/messages", json=two_parts)).status_code == 201
            assert (await rest.post("/sms/v1/messages", json={"recipient": {"to": "+33612345678"}})).status_code == 422
            too_many = {"recipients": [{"to": f"+336123456{i:02d}"} for i in range(30)], "body": {"text": "x"}}
            assert (await rest.post("/sms/v1/messages", json=too_many)).status_code == 402
            wrong_key = await rest.post("/sms/v1/messages", json=two_parts, headers={"X-Api-Key": "nope"})
            assert wrong_key.status_code == 401

        async def dispatched() -> Samples | None:
            now = await scrape(gw)
            done = (
                delta(before, now, "martinet_parts_submitted_total", connector="sandbox", result="accepted") >= 4
                and delta(before, now, "martinet_receipt_latency_seconds_count", connector="sandbox") >= 4
                and delta(before, now, "martinet_credits_total", movement="refund") >= 1
            )
            return now if done else None

        after = await wait_for(dispatched, timeout=20)
        expected_accepts = {
            ("smsmode", "accepted"): 3,
            ("smsmode", "invalid"): 1,
            ("smsmode", "unauthorized"): 1,
            ("smsmode", "no_credit"): 1,
            ("rest", "accepted"): 1,
            ("rest", "invalid"): 1,
            ("rest", "no_credit"): 1,
            ("rest", "unauthorized"): 1,
        }
        for door in ("smsmode", "rest"):
            for result in ("accepted", "invalid", "no_credit", "rate_limited", "duplicate", "unauthorized", "error"):
                counted = delta(before, after, "martinet_accepts_total", door=door, result=result)
                assert counted == expected_accepts.get((door, result), 0), (door, result)
        assert delta(before, after, "martinet_recipients_accepted_total", door="smsmode") == 5
        assert delta(before, after, "martinet_recipients_accepted_total", door="rest") == 1
        parts = {
            result: delta(before, after, "martinet_parts_submitted_total", connector="sandbox", result=result)
            for result in ("accepted", "refused_temporary", "refused_permanent", "error")
        }
        assert parts == {"accepted": 4, "refused_temporary": 1, "refused_permanent": 1, "error": 0}
        assert delta(before, after, "martinet_receipt_latency_seconds_count", connector="sandbox") == 4
        assert delta(before, after, "martinet_receipt_latency_seconds_sum", connector="sandbox") > 0
        assert value(after, "martinet_queue_depth", lane="notification", state="scheduled") == 2
        assert value(after, "martinet_queue_depth", lane="notification", state="queued") == 0
        assert value(after, "martinet_queue_depth", lane="otp", state="scheduled") == 0

        async with gw.client() as http:
            cancelled = await http.get("/deleteSMS.do", params={"accessToken": gw.token, "smsID": scheduled_id})
            assert _legacy(cancelled).startswith("0 | ")
        final = await scrape(gw)
        assert value(final, "martinet_queue_depth", lane="notification", state="scheduled") == 0
        movements = {
            m: delta(before, final, "martinet_credits_total", movement=m) for m in ("debit", "refund", "withdrawal")
        }
        assert movements == {"debit": 7, "refund": 3, "withdrawal": 0}
        ledger_sums = await _ledger(gw)
        assert ledger_sums == {"topup": 30_000, "send": -7_000, "refund": 3_000}
        assert -ledger_sums["send"] / 1000 == movements["debit"]
        assert ledger_sums["refund"] / 1000 == movements["refund"]
        assert value(final, "martinet_breaker_state", connector="sandbox") == 0
        # Every one of those sends, claims and receipts was a write: SQLite counts the time its lock was held.
        held = delta(before, final, "martinet_sqlite_write_lock_seconds_total", phase="held")
        if database_url.startswith("sqlite"):
            assert held > 0
            # The Kannel comparison reads the same counter (it reports the share of the run the lock was held).
            read_by_bench = await asyncio.to_thread(write_lock_seconds, f"{gw.admin}/metrics")
            assert read_by_bench["held"] >= value(final, "martinet_sqlite_write_lock_seconds_total", phase="held")
            assert read_by_bench["wait"] >= 0
        else:
            assert held == 0  # PostgreSQL takes no process-wide lock


async def test_account_credit_movements_are_counted(database_url: str) -> None:
    async with running_gateway(database_url, credits=10) as gw:
        from martinet.app import account_service

        before = await scrape(gw)
        service = account_service(gw.settings, gw.db)
        await service.credit("acme", 5_000)
        await service.credit("acme", -2_500)
        after = await scrape(gw)
        assert delta(before, after, "martinet_credits_total", movement="topup") == 5
        assert delta(before, after, "martinet_credits_total", movement="withdrawal") == 2.5


async def _callbacks_settled(gw: Gateway) -> bool:
    async with gw.db.reader.connect() as conn:
        states = [row.state for row in await conn.execute(select(callbacks.c.state))]
    return bool(states) and all(state == DELIVERED for state in states)


async def test_callbacks_are_counted_by_outcome(database_url: str) -> None:
    receiver = Receiver(answers=[500])  # the first request fails, its callback is tried again
    await receiver.start()
    try:
        async with running_gateway(database_url, callbacks=FAST) as gw:
            before = await scrape(gw)
            await _send_reported(gw, "0612345678", receiver)
            await wait_for(lambda: _all_delivered_callbacks(gw, receiver), timeout=20)
            after = await scrape(gw)
        delivered = len(receiver.successes())
        assert delivered >= 2  # at least "sent to the operator" and "received"
        assert delta(before, after, "martinet_callbacks_total", kind="status", outcome="delivered") == delivered
        assert delta(before, after, "martinet_callbacks_total", kind="status", outcome="retry") == 1
        assert delta(before, after, "martinet_callbacks_total", kind="status", outcome="failed") == 0
        assert delta(before, after, "martinet_callbacks_total", kind="reply", outcome="delivered") == 0
    finally:
        await receiver.stop()


async def _send_reported(gw: Gateway, numbers: str, receiver: Receiver) -> None:
    """A send whose delivery reports go to `receiver`."""
    async with gw.client() as http:
        reply = await http.post(
            "/sendSMS.do",
            data={
                "accessToken": gw.token,
                "numero": numbers,
                "message": "hello",
                "notification_url": f"http://127.0.0.1:{receiver.port}/dlr",
            },
        )
    assert _legacy(reply).startswith("0 | ")


async def _all_delivered_callbacks(gw: Gateway, receiver: Receiver) -> bool:
    """Every callback of the outbox delivered, the final status's among them."""
    if not await _callbacks_settled(gw):
        return False
    return any(call.query.get("statut") == "11" for call in receiver.successes())


async def test_the_outbox_gauge_shows_dead_letters(database_url: str) -> None:
    receiver = Receiver(answers=[500] * 1000)  # never accepts: every callback ends as a dead letter
    await receiver.start()
    try:
        async with running_gateway(database_url, callbacks={**FAST, "max_age_hours": 0.0002}) as gw:
            await _send_reported(gw, "0612345678,0612345679", receiver)
            await wait_for(lambda: _all_failed(gw), timeout=30)
            samples = await scrape(gw)
            failed = await _count_callbacks(gw)
    finally:
        await receiver.stop()
    assert failed >= 4  # at least "sent to the operator" and "received" of each recipient
    assert value(samples, "martinet_callbacks_outbox", state="failed") == failed
    assert value(samples, "martinet_callbacks_outbox", state="pending") == 0


async def _count_callbacks(gw: Gateway) -> int:
    async with gw.db.reader.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(callbacks)) or 0)


async def _all_failed(gw: Gateway) -> bool:
    """Both recipients received, and every callback of the outbox given up."""
    async with gw.db.reader.connect() as conn:
        states = [row.state for row in await conn.execute(select(callbacks.c.state))]
        received = await conn.scalar(select(func.count()).where(messages.c.code == 11))
    return received == 2 and bool(states) and all(state == "failed" for state in states)
