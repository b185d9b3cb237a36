"""A scheduled time is bounded: at most `accounts.schedule_horizon_days` ahead (365 by default) and not before the
year 2000. Outside, the smsmode door answers 35 naming `date_envoi` and the REST door a 422 problem naming
`sentDate`; nothing is stored or charged. The rule lives in the send service, shared by both doors."""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from martinet.app import account_service, open_store, price_table
from martinet.clock import now_ms
from martinet.domain.credits import to_milli
from martinet.domain.ids import new_send_id
from martinet.services.accept import InvalidParameter, SendRequest, SendService
from martinet.store.acceptance import AcceptanceWriter
from martinet.store.accounts import Account, AccountStore
from martinet.store.migrate import upgrade
from martinet.store.schema import accounts, messages, sends
from tests.gateway import Gateway, running_gateway
from tests.gateway import test_settings as gateway_settings

DAY_MS = 86_400_000
# 2030-01-01T00:00:00Z: the service's clock in the tests that need the exact boundary.
NOW = 1_893_456_000_000
UTC = datetime.UTC


async def _stored(gw: Gateway) -> tuple[int, int, int]:
    """Sends, messages and the balance (millicredits) of the test account."""
    async with gw.db.reader.connect() as conn:
        balance = await conn.scalar(select(accounts.c.balance).where(accounts.c.login == "acme"))
        counts = [await conn.scalar(select(func.count()).select_from(table)) for table in (sends, messages)]
    return int(counts[0] or 0), int(counts[1] or 0), int(balance or 0)


def _smsmode_date(moment: datetime.datetime) -> str:
    return moment.strftime("%d%m%Y-%H:%M")


# --- the rule, at its exact boundary (the service with a fixed clock, over a real store) ----------------------


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[tuple[SendService, Account]]:
    settings = gateway_settings(database_url)
    db = open_store(settings)
    await upgrade(db)
    await account_service(settings, db).create("acme", credits=to_milli(100))
    found = await AccountStore(db, now_ms).by_login("acme")
    assert found is not None
    writer = AcceptanceWriter(db, opt_out_lanes=settings.optout.lanes)
    await writer.start()
    sends_ = SendService(
        writer,
        price_table(settings),
        stop_mention="STOP 36180",
        now_ms=lambda: NOW,
        new_id=new_send_id,
        schedule_horizon_days=30,
    )
    try:
        yield sends_, found[0]
    finally:
        await writer.stop()
        await db.dispose()


async def test_exactly_the_horizon_is_accepted_and_a_millisecond_more_is_not(
    service: tuple[SendService, Account],
) -> None:
    sends_, account = service

    def request(at: int) -> SendRequest:
        return SendRequest(account=account, text="rappel", recipients="0612345678", scheduled_at=at)

    accepted = await sends_.accept(request(NOW + 30 * DAY_MS))
    assert accepted.scheduled and accepted.send.scheduled_at == NOW + 30 * DAY_MS
    with pytest.raises(InvalidParameter) as beyond:
        await sends_.accept(request(NOW + 30 * DAY_MS + 1))
    assert (beyond.value.name, beyond.value.problem) == ("scheduled_at", "more than 30 days ahead")
    with pytest.raises(InvalidParameter):
        await sends_.preview(request(NOW + 30 * DAY_MS + 1))  # the preview applies the same rule

    # The earliest time is 2000-01-01 00:00 in the account's time zone (Europe/Paris): 1999-12-31 23:00 UTC.
    paris_2000 = int(datetime.datetime(1999, 12, 31, 23, 0, tzinfo=UTC).timestamp() * 1000)
    assert not (await sends_.accept(request(paris_2000))).scheduled  # in the past: sent at once
    with pytest.raises(InvalidParameter) as early:
        await sends_.accept(request(paris_2000 - 1))
    assert (early.value.name, early.value.problem) == ("scheduled_at", "before the year 2000")


# --- the smsmode door ------------------------------------------------------------------------------------------


async def test_sendsms_refuses_dates_beyond_the_horizon_or_before_2000_with_35(database_url: str) -> None:
    # UTC accounts: the boundary below is computed in UTC, with no daylight-saving hour read twice.
    async with running_gateway(database_url, accounts={"timezone": "UTC"}) as gw, gw.client() as http:

        async def send(date_envoi: str) -> str:
            data = {"accessToken": gw.token, "message": "plus tard", "numero": "0612345678", "date_envoi": date_envoi}
            return (await http.post("/sendSMS.do", data=data)).text

        before = await _stored(gw)
        horizon = datetime.datetime.now(UTC) + datetime.timedelta(days=365)
        too_far = "35 | Paramètre invalide : date_envoi (plus de 365 jours à l'avance)"
        assert await send(_smsmode_date(horizon + datetime.timedelta(minutes=2))) == too_far
        assert await send("31129999-23:59") == too_far
        assert await send("31121999-23:59") == "35 | Paramètre invalide : date_envoi (antérieure à l'an 2000)"
        assert await send("01011970-00:00") == "35 | Paramètre invalide : date_envoi (antérieure à l'an 2000)"
        assert await _stored(gw) == before  # nothing stored, nothing charged

        # The last minute within the horizon is scheduled; 2000-01-01 is the past: sent at once.
        last = await send(_smsmode_date(horizon))
        assert last.startswith("0 | "), last
        status = await http.get("/smsStatus.do", params={"accessToken": gw.token, "smsID": last.split(" | ")[2]})
        assert status.text.startswith("10 | ")
        assert (await send("01012000-00:00")).startswith("0 | ")


async def test_the_horizon_is_configurable_and_answered_in_english_too(database_url: str) -> None:
    async with running_gateway(database_url, accounts={"schedule_horizon_days": 7, "language": "en"}) as gw:
        in_eight_days = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=8)
        paris = in_eight_days.astimezone(datetime.timezone(datetime.timedelta(hours=1)))  # never earlier than Paris
        async with gw.client() as http:
            data = {"accessToken": gw.token, "message": "x", "numero": "0612345678", "date_envoi": _smsmode_date(paris)}
            answer = (await http.get("/sendSMS.do", params=data)).text
        assert answer == "35 | Invalid parameter: date_envoi (more than 7 days ahead)"


# --- the REST door ---------------------------------------------------------------------------------------------


async def test_rest_refuses_sent_dates_beyond_the_horizon_or_before_2000_with_422(database_url: str) -> None:
    async with (
        running_gateway(database_url) as gw,
        httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}, timeout=30) as http,
    ):

        async def send(sent_date: str, path: str = "/sms/v1/messages") -> httpx.Response:
            body = {"recipient": {"to": "+33612345678"}, "body": {"text": "Later"}, "sentDate": sent_date}
            return await http.post(path, json=body)

        def refused(reply: httpx.Response, detail: str) -> None:
            assert reply.status_code == 422, reply.text
            problem = reply.json()
            assert (problem["errorCode"], problem["field"], problem["detail"]) == (
                "INVALID_PARAMETER",
                "sentDate",
                detail,
            )

        before = await _stored(gw)
        horizon = datetime.datetime.now(UTC) + datetime.timedelta(days=365)
        refused(await send((horizon + datetime.timedelta(minutes=1)).isoformat()), "more than 365 days ahead")
        refused(await send("9999-12-31T23:59:59Z"), "more than 365 days ahead")
        refused(await send("9999-12-31T23:59:59"), "more than 365 days ahead")  # the account's time zone
        refused(await send("1999-12-31T23:59:59+01:00"), "before the year 2000")
        refused(await send("0001-01-01T00:00:00Z"), "before the year 2000")
        refused(await send("1999-06-01T00:00:00Z", "/sms/v1/messages:preview"), "before the year 2000")
        assert await _stored(gw) == before

        within = await send(horizon.replace(microsecond=0).isoformat())
        assert within.status_code == 201, within.text
        assert within.json()["status"]["value"] == "SCHEDULED"
