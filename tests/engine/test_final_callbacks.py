"""An account may ask for final statuses only (`callback_statuses = "final"`): its sends get one callback per
recipient, the final one, while other accounts keep smsmode's callback for every status change. Both databases,
a real receiver on loopback, the setting changed through the CLI's service."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from martinet.app import account_service
from martinet.domain.credits import to_milli
from martinet.domain.status import FINAL_STATES
from martinet.services.accounts import InvalidAccountSetting
from martinet.store.schema import callbacks, messages
from tests.engine.test_notifier import FAST, Receiver
from tests.gateway import Gateway, running_gateway, wait_for


async def _send(gw: Gateway, token: str, numbers: str, url: str) -> None:
    async with gw.client() as http:
        reply = await http.post(
            "/sendSMS.do", data={"accessToken": token, "numero": numbers, "message": "hi", "notification_url": url}
        )
    assert reply.text.startswith("0 | "), reply.text


async def _all_done(gw: Gateway, expected_messages: int) -> bool:
    async with gw.db.reader.connect() as conn:
        states = (await conn.execute(select(messages.c.state))).scalars().all()
        pending = (await conn.execute(select(callbacks.c.state).where(callbacks.c.state != "delivered"))).all()
    return len(states) == expected_messages and all(s in FINAL_STATES for s in states) and not pending


async def test_an_account_asking_for_final_statuses_gets_only_those(database_url: str) -> None:
    receiver = Receiver()
    await receiver.start()
    try:
        async with running_gateway(database_url, callbacks=FAST) as gw:
            service = account_service(gw.settings, gw.db)
            final = await service.create("final-only", credits=to_milli(10), callback_statuses="final")
            assert final.account.callback_statuses == "final"
            view = await service.update("acme", callback_statuses="all")
            assert view.account.callback_statuses == "all"
            try:
                await service.update("acme", callback_statuses="some")
            except InvalidAccountSetting as exc:
                assert "all, final" in str(exc)
            else:
                raise AssertionError("an unknown callback_statuses value was accepted")
            base = f"http://127.0.0.1:{receiver.port}"
            await _send(gw, final.token, "0612345601,0612345602", f"{base}/final")
            await _send(gw, gw.token, "0612345603", f"{base}/all")
            await wait_for(lambda: _all_done(gw, 3), timeout=20)
    finally:
        await receiver.stop()
    statuses: dict[str, Counter[str]] = {}
    for call in receiver.successes():
        statuses.setdefault(call.target.split("?")[0], Counter())[call.query["statut"]] += 1
    assert statuses["/final"] == Counter({"11": 2}), statuses
    assert statuses["/all"]["11"] == 1 and sum(statuses["/all"].values()) > 1, statuses
