"""Which account a reply goes to, on both databases: the conversation's on a reply number, the owner's on an
owned number, and on any other number the one account that wrote to the phone; when several did, nobody's (a
stop keyword then opts the phone out of each of them)."""

from __future__ import annotations

from sqlalchemy import insert, select

from martinet.domain.inbound import InboundMessage
from martinet.domain.opt_out import StopKeywords
from martinet.store.conversations import ConversationStore
from martinet.store.database import Database
from martinet.store.inbound import InboundStore
from martinet.store.schema import accounts, inbound_messages, messages, opt_outs, sends

NOW = 1_800_000_000_000
HOUR = 3600 * 1000
PHONE = "33612345678"


async def _account(db: Database, login: str) -> int:
    async with db.write() as conn:
        values = {"language": "fr", "timezone": "Europe/Paris", "lane": "marketing", "non_gsm": "replace"}
        result = await conn.execute(
            insert(accounts).values(login=login, created_at=0, **values).returning(accounts.c.id)
        )
        return int(result.scalar_one())


async def _sent(db: Database, send_id: str, account: int, at: int, reply_from: str | None = None) -> None:
    async with db.write() as conn:
        await conn.execute(
            insert(sends).values(
                id=send_id, account_id=account, created_at=at, text="?", encoding="gsm7", segments=1, classe=2
            ),
            {"lane": "marketing", "recipient_count": 1, "cost": 0},
        )
        await conn.execute(
            insert(messages).values(send_id=send_id, account_id=account, msisdn=PHONE, state="delivered", code=11),
            {"cost": 0, "updated_at": at, "reply_from": reply_from, "lane": "marketing"},
        )


async def _linked(db: Database) -> list[tuple[int | None, str | None]]:
    async with db.reader.connect() as conn:
        rows = await conn.execute(
            select(inbound_messages.c.account_id, inbound_messages.c.send_id).order_by(inbound_messages.c.id)
        )
        return [(r.account_id, r.send_id) for r in rows]


async def _opted_out(db: Database) -> set[int]:
    async with db.reader.connect() as conn:
        return set((await conn.scalars(select(opt_outs.c.account_id).where(opt_outs.c.msisdn == PHONE))).all())


def _store(db: Database, owners: dict[str, str] | None = None) -> InboundStore:
    return InboundStore(db, StopKeywords(["STOP"]), lambda: NOW, owners, conversation_hours=24)


def _reply(to: str, text: str = "STOP") -> InboundMessage:
    return InboundMessage("carrier", PHONE, to, text, NOW)


async def test_a_reply_number_answers_for_its_conversation_not_the_last_writer(db: Database) -> None:
    bshop, ashop = await _account(db, "bshop"), await _account(db, "ashop")
    taken = await ConversationStore(db, lambda: NOW - 2 * HOUR, hours=24).take(["38100"], [(bshop, PHONE)])
    assert taken == {(bshop, PHONE): "38100"}
    await _sent(db, "b1", bshop, NOW - 2 * HOUR, reply_from="38100")
    await _sent(db, "a1", ashop, NOW - HOUR, reply_from="38100")  # sent before conversations existed
    await _store(db).record([_reply("38100")])
    assert await _linked(db) == [(bshop, "b1")]
    assert await _opted_out(db) == {bshop}


async def test_an_owned_number_answers_for_its_owner(db: Database) -> None:
    shop, other = await _account(db, "shop"), await _account(db, "other")
    await _sent(db, "s1", shop, NOW - 3 * HOUR)
    await _sent(db, "o1", other, NOW - HOUR)
    await _store(db, {"36180": "shop"}).record([_reply("36180")])
    assert await _linked(db) == [(shop, "s1")]
    assert await _opted_out(db) == {shop}


async def test_a_shared_number_answers_for_the_only_account_that_wrote(db: Database) -> None:
    shop, other = await _account(db, "shop"), await _account(db, "other")
    await _sent(db, "o1", other, NOW - 48 * HOUR)  # long before the conversation time
    await _sent(db, "s1", shop, NOW - HOUR)
    await _sent(db, "s2", shop, NOW - HOUR // 2)
    await _store(db).record([_reply("36180", "Oui")])
    assert await _linked(db) == [(shop, "s2")]


async def test_a_shared_number_several_accounts_wrote_to_answers_for_none(db: Database) -> None:
    shop, other, quiet = await _account(db, "shop"), await _account(db, "other"), await _account(db, "quiet")
    await _sent(db, "q1", quiet, NOW - 48 * HOUR)
    await _sent(db, "s1", shop, NOW - 2 * HOUR)
    await _sent(db, "o1", other, NOW - HOUR)
    await _store(db).record([_reply("36180", "Oui"), _reply("36180", "STOP")])
    assert await _linked(db) == [(None, None), (None, None)]
    assert await _opted_out(db) == {shop, other}  # not `quiet`: it wrote before the conversation time


async def test_with_nobody_writing_lately_the_last_account_ever_is_asked_alone(db: Database) -> None:
    shop, other = await _account(db, "shop"), await _account(db, "other")
    await _sent(db, "s1", shop, NOW - 72 * HOUR)
    await _store(db).record([_reply("36180", "Oui")])
    await _sent(db, "o1", other, NOW - 48 * HOUR)
    await _store(db).record([_reply("36180", "Oui")])
    assert await _linked(db) == [(shop, "s1"), (None, None)]
