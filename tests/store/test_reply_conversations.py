"""Reply numbers handed out per conversation, on both databases: one account per (number, phone) while it talks,
the same number again to the account that holds it, free again after the conversation time; and the upgrade
that builds conversations from the messages already sent from reply numbers."""

from __future__ import annotations

from alembic import command
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from martinet.store.conversations import ConversationStore
from martinet.store.database import Database
from martinet.store.migrate import alembic_config, upgrade
from martinet.store.schema import accounts, messages, reply_conversations, sends

HOUR = 3600 * 1000
POOL = ("38100", "+38101")


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000_000

    def __call__(self) -> int:
        return self.now


async def _accounts(db: Database, *logins: str) -> list[int]:
    async with db.write() as conn:
        return [
            (
                await conn.execute(
                    insert(accounts)
                    .values(login=login, language="fr", timezone="Europe/Paris", lane="notification")
                    .values(non_gsm="replace", created_at=0)
                    .returning(accounts.c.id)
                )
            ).scalar_one()
            for login in logins
        ]


async def test_a_number_talks_to_a_phone_for_one_account_at_a_time(db: Database) -> None:
    a, b, c = await _accounts(db, "a", "b", "c")
    clock = Clock()
    store = ConversationStore(db, clock, hours=24)
    first = await store.take(POOL, [(a, "33612345678"), (b, "33612345678"), (c, "33612345678")])
    assert first[(a, "33612345678")] in POOL and first[(b, "33612345678")] in POOL
    assert first[(a, "33612345678")] != first[(b, "33612345678")]
    assert first[(c, "33612345678")] is None  # both numbers are in conversations with that phone
    elsewhere = (await store.take(POOL, [(c, "33698765432")]))[(c, "33698765432")]
    assert elsewhere in POOL  # another phone: the numbers are free there
    clock.now += 23 * HOUR
    again = await store.take(POOL, [(a, "33612345678"), (c, "33612345678")])
    assert again == {(a, "33612345678"): first[(a, "33612345678")], (c, "33612345678"): None}
    clock.now += 2 * HOUR  # b has been silent for 25 hours; a wrote 2 hours ago
    taken = await store.take(POOL, [(c, "33612345678")])
    assert taken == {(c, "33612345678"): first[(b, "33612345678")]}
    async with db.reader.connect() as conn:
        rows = (await conn.execute(select(reply_conversations).order_by(reply_conversations.c.number))).all()
    assert {(r.msisdn, r.number, r.account_id) for r in rows} == {
        ("33612345678", "38100", a if first[(a, "33612345678")] == "38100" else c),
        ("33612345678", "38101", a if first[(a, "33612345678")] == "+38101" else c),
        ("33698765432", (elsewhere or "").lstrip("+"), c),
    }


async def test_no_pool_gives_no_number(db: Database) -> None:
    (a,) = await _accounts(db, "a")
    assert await ConversationStore(db, Clock(), hours=1).take((), [(a, "33612345678")]) == {(a, "33612345678"): None}


async def test_the_upgrade_gives_each_pair_to_the_account_that_used_it_last(db: Database) -> None:
    def down(conn: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0008")

    async with db.writer.begin() as conn:
        await conn.run_sync(down)
    a, b = await _accounts(db, "a", "b")
    async with db.write() as conn:
        for send, account in (("s1", a), ("s2", b), ("s3", a)):
            await conn.execute(
                insert(sends).values(
                    id=send, account_id=account, created_at=0, text="?", encoding="gsm7", segments=1, classe=4
                ),
                {"lane": "notification", "recipient_count": 1, "cost": 0},
            )
        rows = [
            ("s1", a, "33612345678", "38100", 10),
            ("s2", b, "33612345678", "38100", 20),  # b wrote from 38100 to this phone after a
            ("s3", a, "33612345678", "+38101", 30),
            ("s3", a, "33698765432", None, 40),  # not from a reply number
        ]
        for send, account, msisdn, reply_from, at in rows:
            await conn.execute(
                insert(messages).values(
                    send_id=send, account_id=account, msisdn=msisdn, state="delivered", code=11, cost=0
                ),
                {"updated_at": at, "reply_from": reply_from, "lane": "notification"},
            )
    await upgrade(db)
    async with db.reader.connect() as conn:
        found = (await conn.execute(select(reply_conversations))).all()
    assert {(r.msisdn, r.number, r.account_id, r.last_at) for r in found} == {
        ("33612345678", "38100", b, 20),
        ("33612345678", "38101", a, 30),
    }
