"""Reply numbers held per conversation, so that a phone's answer reaches only the account it answers.

A message that expects replies (`classe_msg=4`, or a REST send with a reply URL and no sender) leaves from one of
its connector's reply numbers. The pair (reply number, phone) is a conversation and belongs to one account at a
time: the account whose message last left from that number to that phone, for `replies.conversation_hours`
after that message. Another account writing to the same phone meanwhile leaves from another number of the pool,
or, with none left, cannot send it a message expecting replies. A reply from the phone to the number goes to the
conversation's account (`martinet.store.inbound`). See docs/compatibility.md, "Replies".

A number is taken with one conditional upsert, written only where the pair is free, already the account's, or
idle past the conversation time, so two engines sharing a PostgreSQL database never hand the same pair to two
accounts.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import or_, select
from sqlalchemy.engine import Connection

from martinet.domain.inbound import digits
from martinet.store.database import Database, dialect_insert
from martinet.store.schema import reply_conversations

#: What the dispatcher asks for: (account id, phone digits).
Pair = tuple[int, str]


class ConversationStore:
    def __init__(self, db: Database, now_ms: Callable[[], int], hours: float) -> None:
        self._db = db
        self._now_ms = now_ms
        self._hold_ms = int(hours * 3600 * 1000)

    async def take(self, pool: Sequence[str], wanted: Iterable[Pair]) -> dict[Pair, str | None]:
        """For each (account, phone), the number of `pool` (as configured) its message leaves from: the one the
        account already talks to the phone from, else one no other account does; None when others hold them all.
        """
        pairs = list(dict.fromkeys(wanted))
        if not pairs or not pool:
            return dict.fromkeys(pairs)
        now = self._now_ms()
        return await self._db.run_write(lambda conn: _take(conn, tuple(pool), pairs, now, now - self._hold_ms))


def holder(conn: Connection, number: str, msisdn: str) -> int | None:
    """The account that talks to `msisdn` from reply number `number` (both digits), or None: the last one to
    have, even idle, since no other account has taken the pair since."""
    found = conn.scalar(
        select(reply_conversations.c.account_id).where(
            reply_conversations.c.msisdn == msisdn, reply_conversations.c.number == number
        )
    )
    return None if found is None else int(found)


def _take(conn: Connection, pool: tuple[str, ...], pairs: list[Pair], now: int, idle_at: int) -> dict[Pair, str | None]:
    numbers = {digits(n): n for n in pool}
    held: dict[str, dict[str, tuple[int, int]]] = {}  # phone → number → (account, last_at)
    rows = conn.execute(
        select(reply_conversations).where(
            reply_conversations.c.msisdn.in_({phone for _, phone in pairs}),
            reply_conversations.c.number.in_(list(numbers)),
        )
    )
    for row in rows:
        held.setdefault(row.msisdn, {})[row.number] = (row.account_id, row.last_at)
    taken: dict[Pair, str | None] = {}
    for account, phone in pairs:
        ours = held.setdefault(phone, {})
        order = _order(list(numbers), phone)
        mine = [n for n in order if n in ours and ours[n][0] == account]
        free = [n for n in order if n not in ours or (ours[n][0] != account and ours[n][1] <= idle_at)]
        chosen = next((n for n in mine + free if _claim(conn, n, phone, account, now, idle_at)), None)
        if chosen is not None:
            ours[chosen] = (account, now)
        taken[(account, phone)] = None if chosen is None else numbers[chosen]
    return taken


def _order(numbers: list[str], phone: str) -> list[str]:
    """The pool starting at a place that depends on the phone: a phone is usually written to from the same
    number whichever account writes, and different phones spread over the pool."""
    start = zlib.crc32(phone.encode()) % len(numbers)
    return numbers[start:] + numbers[:start]


def _claim(conn: Connection, number: str, phone: str, account: int, now: int, idle_at: int) -> bool:
    """Write (number, phone) → account unless another account holds it and talked within the conversation time."""
    table = reply_conversations
    statement = (
        dialect_insert(conn, table)
        .values(msisdn=phone, number=number, account_id=account, last_at=now)
        .on_conflict_do_update(
            index_elements=[table.c.msisdn, table.c.number],
            set_={"account_id": account, "last_at": now},
            where=or_(table.c.account_id == account, table.c.last_at <= idle_at),
        )
        .returning(table.c.number)
    )
    return conn.execute(statement).first() is not None
