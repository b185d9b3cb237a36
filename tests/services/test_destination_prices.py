"""Acceptance charges each recipient the price of its country for its account, and applies the country rules:
what is written (cost per message, status) and what the preview says, over a real store on both databases."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from martinet.app import account_service, country_rules, open_store, price_table
from martinet.clock import now_ms
from martinet.domain.credits import to_milli
from martinet.domain.ids import new_send_id
from martinet.domain.routing import OperatorLookup
from martinet.domain.status import NOT_ROUTABLE
from martinet.services.accept import SendRequest, SendService
from martinet.services.destination_rules import DestinationRules
from martinet.store.acceptance import AcceptanceWriter
from martinet.store.accounts import AccountStore
from martinet.store.migrate import upgrade
from martinet.store.schema import messages
from tests.gateway import test_settings as gateway_settings


async def test_account_prices_zones_and_rules_at_acceptance(database_url: str) -> None:
    settings = gateway_settings(
        database_url, pricing={"prices": {"TH": Decimal("2.5")}, "accounts": {"bigco": {"TH": Decimal("1.2")}}}
    )
    db = open_store(settings)
    await upgrade(db)
    writer = AcceptanceWriter(db, opt_out_lanes=settings.optout.lanes)
    await writer.start()
    try:
        service = account_service(settings, db)
        for login in ("acme", "bigco"):
            await service.create(login, credits=to_milli(100))
        store = AccountStore(db, now_ms)
        sends = SendService(
            writer,
            price_table(settings),
            stop_mention="STOP 36180",
            now_ms=now_ms,
            new_id=new_send_id,
            destination_rules=DestinationRules(country_rules(settings), OperatorLookup.default()),
        )
        numero = "+66812345678,+2348031234567,+12015550123,+8501921234567,+84912345678"  # TH NG US KP VN
        costs = {}
        for login in ("acme", "bigco"):
            found = await store.by_login(login)
            assert found is not None
            accepted = await sends.accept(SendRequest(found[0], "Hello", numero, sender="ACME"))
            async with db.reader.connect() as conn:
                rows = await conn.execute(select(messages).where(messages.c.send_id == accepted.send_id))
                costs[login] = {r.country: (r.cost, r.code) for r in rows}
        assert costs["acme"]["TH"][0] == 2500  # the configuration's price
        assert costs["bigco"]["TH"][0] == 1200  # the account's own
        assert costs["acme"]["NG"][0] == costs["bigco"]["NG"][0] == 6000  # the Sub-Saharan Africa zone
        assert costs["acme"]["US"] == (0, NOT_ROUTABLE)  # alphanumeric sender: refused there alone
        assert costs["acme"]["KP"] == (0, NOT_ROUTABLE)  # closed
        assert costs["acme"]["VN"] == (0, NOT_ROUTABLE)  # senders are registered there first
        found = await store.by_login("acme")
        assert found is not None
        preview = await sends.preview(SendRequest(found[0], "Hello", numero, sender="ACME"))
        problems = {r.recipient.country: r.problem for r in preview.recipients}  # type: ignore[union-attr]
        assert problems == {
            "TH": None,
            "NG": None,
            "US": "US: alphanumeric senders are not delivered, numeric senders only",
            "KP": "not routable",
            "VN": "VN: sender 'ACME' is not registered with the carriers there",
        }
        assert preview.cost == 2500 + 6000
    finally:
        await writer.stop()
        await db.dispose()
