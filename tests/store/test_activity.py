"""The console's reads on both databases: counts and time buckets of an account's traffic (a message at the last
millisecond of a bucket stays in it), delivery times, a send's history, the queue per account. Each reads only
the account asked for."""

from __future__ import annotations

from sqlalchemy import insert

from martinet.store.activity import ActivityStore
from martinet.store.database import Database
from martinet.store.schema import accounts, messages, sends, status_history

HOUR = 3600 * 1000
BASE = 1_800_000_000_000 - 1_800_000_000_000 % HOUR  # the start of an hour


async def _account(db: Database, login: str) -> int:
    async with db.write() as conn:
        values = {"language": "fr", "timezone": "UTC", "lane": "notification", "non_gsm": "replace"}
        result = await conn.execute(
            insert(accounts).values(login=login, created_at=0, **values).returning(accounts.c.id)
        )
        return int(result.scalar_one())


async def _send(db: Database, send_id: str, account: int, at: int, states: list[str], done_after: int = 0) -> None:
    async with db.write() as conn:
        await conn.execute(
            insert(sends).values(
                id=send_id, account_id=account, created_at=at, text="?", encoding="GSM-7", segments=1, classe=2
            ),
            {"lane": "notification", "recipient_count": len(states), "cost": 0},
        )
        for seq, state in enumerate(states):
            result = await conn.execute(
                insert(messages)
                .values(send_id=send_id, account_id=account, msisdn=f"3361234567{seq}", state=state, code=11, seq=seq)
                .returning(messages.c.id),
                {"cost": 0, "updated_at": at + done_after, "lane": "notification"},
            )
            message_id = result.scalar_one()
            await conn.execute(
                insert(status_history).values(message_id=message_id, at=at, state="queued", code=1),
            )
            await conn.execute(
                insert(status_history).values(
                    message_id=message_id, at=at + done_after, state=state, code=11, part_seq=0, detail="stat:DELIVRD"
                ),
            )


async def test_traffic_counts_buckets_and_history_of_one_account(db: Database) -> None:
    acme, other = await _account(db, "acme"), await _account(db, "other")
    await _send(db, "A1", acme, BASE + HOUR - 1, ["delivered", "delivered"], done_after=4000)
    await _send(db, "A2", acme, BASE + HOUR, ["failed"])
    await _send(db, "A3", acme, BASE + 2 * HOUR + HOUR // 2, ["queued"])
    await _send(db, "O1", other, BASE + HOUR, ["delivered"], done_after=1000)
    store = ActivityStore(db)

    assert await store.counts_by_state(acme, BASE) == {"delivered": 2, "failed": 1, "queued": 1}
    assert await store.counts_by_state(acme, BASE + HOUR) == {"failed": 1, "queued": 1}
    buckets = [(b.start, b.state, b.count) for b in await store.series(acme, BASE, HOUR)]
    assert buckets == [
        (BASE, "delivered", 2),  # the last millisecond of the first hour stays in it
        (BASE + HOUR, "failed", 1),
        (BASE + 2 * HOUR, "queued", 1),
    ]
    shifted = [(b.start, b.state) for b in await store.series(acme, BASE, HOUR, offset_ms=HOUR // 2)]
    assert shifted[-1] == (BASE + 2 * HOUR + HOUR // 2, "queued")  # buckets aligned on the local half hour
    assert await store.delivery_times(acme, BASE) == [4000, 4000]

    history, _parts = await store.page_details(acme, "A1", 0, 1)
    assert [(h.seq, h.state) for h in history] == [(0, "queued"), (0, "delivered"), (1, "queued"), (1, "delivered")]
    assert history[1].detail == "stat:DELIVRD"
    assert [(h.seq, h.state) for h in (await store.page_details(acme, "A1", 1, 1))[0]] == [
        (1, "queued"),
        (1, "delivered"),
    ]
    assert await store.page_details(other, "A1", 0, 1) == ([], [])  # another account's send reads as nothing
    assert (await store.send_counts(acme, "A1")).states == {"delivered": 2}
    assert (await store.send_counts(other, "A1")).total == 0

    queue = await store.queue_by_account()
    assert queue == [("notification", "acme", "queued", 1)]
    listed = await store.accounts()
    assert [line.account.login for line in listed] == ["acme", "other"]
