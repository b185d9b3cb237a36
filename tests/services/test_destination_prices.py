"""Acceptance charges each recipient the price of its country for its account, and applies the country rules:
what is written (cost per message, status) and what the preview says, over a real store on both databases."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from martinet.app import account_service, country_rules, open_store, price_table
from martinet.clock import now_ms
from martinet.domain.credits import to_milli
from martinet.domain.ids import new_send_id
from martinet.domain.routing import OperatorLookup
from martinet.domain.status import NOT_ROUTABLE
from martinet.services.accept import InvalidParameter, SendRequest, SendService
from martinet.services.contacts import ContactService, contact_data
from martinet.services.destination_rules import DestinationRules
from martinet.services.personal_sends import CampaignRow
from martinet.store.acceptance import AcceptanceWriter
from martinet.store.accounts import AccountStore
from martinet.store.contacts import ContactStore
from martinet.store.migrate import upgrade
from martinet.store.schema import messages, status_history
from tests.gateway import test_settings as gateway_settings


async def _details(conn: AsyncConnection, send_id: str) -> dict[str, str | None]:
    """Recipient → the detail of its first status."""
    rows = await conn.execute(
        select(messages.c.msisdn, status_history.c.detail)
        .join(status_history, status_history.c.message_id == messages.c.id)
        .where(messages.c.send_id == send_id)
        .order_by(status_history.c.id)
    )
    first: dict[str, str | None] = {}
    for row in rows:
        first.setdefault(row.msisdn, row.detail)
    return first


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
                details = await _details(conn, accepted.send_id)
        assert costs["acme"]["TH"][0] == 2500  # the configuration's price
        assert costs["bigco"]["TH"][0] == 1200  # the account's own
        assert costs["acme"]["NG"][0] == costs["bigco"]["NG"][0] == 6000  # the Sub-Saharan Africa zone
        assert costs["acme"]["US"] == (0, NOT_ROUTABLE)  # alphanumeric sender: refused there alone
        assert costs["acme"]["KP"] == (0, NOT_ROUTABLE)  # closed
        assert costs["acme"]["VN"] == (0, NOT_ROUTABLE)  # senders are registered there first
        # The reason stays with the refused recipient's first status (the console's timeline shows it).
        assert details == {
            "66812345678": None,
            "2348031234567": None,
            "12015550123": "US: alphanumeric senders are not delivered, numeric senders only",
            "8501921234567": None,
            "84912345678": "VN: sender 'ACME' is not registered with the carriers there",
        }
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


async def test_group_contacts_and_campaign_rows_meet_their_country_rules(database_url: str) -> None:
    settings = gateway_settings(database_url)
    db = open_store(settings)
    await upgrade(db)
    writer = AcceptanceWriter(db, opt_out_lanes=settings.optout.lanes)
    await writer.start()
    try:
        await account_service(settings, db).create("acme", credits=to_milli(100))
        found = await AccountStore(db, now_ms).by_login("acme")
        assert found is not None
        account = found[0]
        store = ContactStore(db, now_ms)
        contacts = ContactService(store)
        for mobile in ("+33612345678", "+12015550123"):
            await contacts.add(account.id, contact_data(mobile=mobile, groups=["g"]))
        await contacts.add(account.id, contact_data(mobile="+12015550124", groups=["us"]))
        sends = SendService(
            writer,
            price_table(settings),
            stop_mention="STOP 36180",
            now_ms=now_ms,
            new_id=new_send_id,
            contacts=store,
            destination_rules=DestinationRules(country_rules(settings), OperatorLookup.default()),
        )

        async def codes(send_id: str) -> dict[str, tuple[int, int]]:
            async with db.reader.connect() as conn:
                rows = await conn.execute(select(messages).where(messages.c.send_id == send_id))
                return {r.msisdn: (r.code, r.cost) for r in rows}

        group = await sends.accept(SendRequest(account, "Hello {prenom}", None, groups=("g",), sender="ACME"))
        assert (await codes(group.send_id))["12015550123"] == (NOT_ROUTABLE, 0)  # the US contact alone
        async with db.reader.connect() as conn:
            assert (await _details(conn, group.send_id))["12015550123"] == (
                "US: alphanumeric senders are not delivered, numeric senders only"
            )
        preview = await sends.preview(SendRequest(account, "Hello {prenom}", None, groups=("g",), sender="ACME"))
        assert [r.problem for r in preview.recipients] == [
            None,
            "US: alphanumeric senders are not delivered, numeric senders only",
        ]
        assert (await codes(group.send_id))["33612345678"][1] == 1000
        rows = [CampaignRow(2, "0612345678", "Hello", "ACME", None), CampaignRow(3, "+12015550125", "Hi", "ACME", None)]
        campaign = await sends.accept(SendRequest(account, None, None, rows=rows))
        assert (await codes(campaign.send_id))["12015550125"] == (NOT_ROUTABLE, 0)
        # The same rows read from a file as sendSMSBatch.do reads them: spooled, the reason kept all the same.
        spooled = await sends.open_campaign(SendRequest(account, None, None))
        try:
            for row in rows:
                spooled.add(row)
            from_file = await sends.accept(SendRequest(account, None, None, rows=spooled))
        finally:
            spooled.close()
        assert (await codes(from_file.send_id))["12015550125"] == (NOT_ROUTABLE, 0)
        async with db.reader.connect() as conn:
            assert (await _details(conn, from_file.send_id)) == {
                "33612345678": None,
                "12015550125": "US: alphanumeric senders are not delivered, numeric senders only",
            }
        # A group is expanded inside the acceptance transaction: a group none of whose contacts may be reached is
        # accepted, each contact refused on its own (free), where numbers named in the send are refused whole.
        only_us = await sends.accept(SendRequest(account, "Hello", None, groups=("us",), sender="ACME"))
        assert await codes(only_us.send_id) == {"12015550124": (NOT_ROUTABLE, 0)}
        with pytest.raises(InvalidParameter) as named:
            await sends.accept(SendRequest(account, "Hello", "+12015550124", sender="ACME"))
        assert (named.value.name, named.value.problem) == (
            "sender",
            "US: alphanumeric senders are not delivered, numeric senders only",
        )
    finally:
        await writer.stop()
        await db.dispose()
