"""Storing inbound messages (MO) as connectors hand them over, linked to the send they answer.

A reply is linked to the last message that reached its sender from the number it was sent to (the reply number a
classe_msg=4 message left from); failing that, to the last message that reached its sender at all (a "STOP" sent
to the STOP number of a campaign's mention). Linked, a reply that is a stop keyword opts its sender out of the
account's marketing, and a reply callback is queued for the send's `notification_url_reponse` or the account's
reply URL, in the same transaction as the reply itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from martinet.clock import now_ms
from martinet.domain.inbound import InboundMessage
from martinet.domain.opt_out import StopKeywords
from martinet.store.database import Database
from martinet.store.opt_outs import add_opt_outs
from martinet.store.schema import accounts, callbacks, inbound_messages, messages, sends


class InboundStore:
    def __init__(
        self,
        db: Database,
        keywords: StopKeywords | None = None,
        now_ms: Callable[[], int] = now_ms,
        owners: Mapping[str, str] | None = None,
    ) -> None:
        """`owners`: receiving number → account login, for replies that answer no send."""
        self._db = db
        self._keywords = keywords or StopKeywords()
        self._now_ms = now_ms
        self._owners = {_digits(number): login for number, login in (owners or {}).items()}

    async def record(self, batch: Sequence[InboundMessage]) -> None:
        if batch:
            now = self._now_ms()
            await self._db.run_write(lambda conn: _record(conn, batch, self._keywords, now, self._owners))

    async def replies(
        self, account_id: int, *, start: int = 0, count: int = 50, since: int | None = None, until: int | None = None
    ) -> list[Reply]:
        """An account's replies, newest first: a page (`start`, `count`) or a time range (`since`..`until`)."""
        query = (
            select(
                inbound_messages.c.id,
                inbound_messages.c.received_at,
                inbound_messages.c.source,
                inbound_messages.c.text,
                inbound_messages.c.destination,
                inbound_messages.c.send_id,
            )
            .where(inbound_messages.c.account_id == account_id)
            .order_by(inbound_messages.c.received_at.desc(), inbound_messages.c.id.desc())
        )
        if since is not None and until is not None:
            query = query.where(inbound_messages.c.received_at.between(since, until))
        else:
            query = query.offset(start).limit(count)
        async with self._db.reader.connect() as conn:
            return [Reply(*row) for row in await conn.execute(query)]

    async def received(self, limit: int = 100) -> list[InboundMessage]:
        """The latest inbound messages, newest first."""
        query = (
            select(
                inbound_messages.c.connector,
                inbound_messages.c.source,
                inbound_messages.c.destination,
                inbound_messages.c.text,
                inbound_messages.c.received_at,
                inbound_messages.c.parts,
            )
            .order_by(inbound_messages.c.id.desc())
            .limit(limit)
        )
        async with self._db.reader.connect() as conn:
            return [InboundMessage(*row) for row in (await conn.execute(query)).all()]


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply as `responseList.do` lists it."""

    id: int
    received_at: int
    source: str
    text: str
    destination: str
    send_id: str | None


@dataclass(frozen=True, slots=True)
class _Answered:
    account_id: int
    send_id: str | None
    url: str | None


def _record(
    conn: Connection, batch: Sequence[InboundMessage], keywords: StopKeywords, now: int, owners: Mapping[str, str]
) -> None:
    for message in batch:
        sender, number = _digits(message.source), _digits(message.destination)
        answered = _answered(conn, sender, number) or _owner(conn, owners.get(number))
        inbound_id = conn.execute(
            insert(inbound_messages)
            .values(
                connector=message.connector,
                source=message.source,
                destination=message.destination,
                text=message.text,
                parts=message.parts,
                received_at=message.received_at,
                account_id=answered.account_id if answered else None,
                send_id=answered.send_id if answered else None,
            )
            .returning(inbound_messages.c.id)
        ).scalar_one()
        if answered is None:
            continue
        if keywords.matches(message.text):
            add_opt_outs(conn, answered.account_id, [sender], "reply", now)
        if answered.url:
            conn.execute(
                insert(callbacks).values(
                    account_id=answered.account_id,
                    kind="reply",
                    inbound_id=inbound_id,
                    order_key=f"r:{sender}"[:40],
                    url=answered.url,
                    state="pending",
                    created_at=now,
                    next_at=now,
                )
            )


def _answered(conn: Connection, sender: str, number: str) -> _Answered | None:
    """The send a reply from `sender` to `number` answers (see the module docstring)."""
    base = (
        select(
            messages.c.account_id,
            messages.c.send_id,
            func.coalesce(sends.c.notification_url_reponse, accounts.c.reply_url),
        )
        .join(sends, sends.c.id == messages.c.send_id)
        .join(accounts, accounts.c.id == messages.c.account_id)
        .where(messages.c.msisdn == sender)
        .order_by(messages.c.id.desc())
        .limit(1)
    )
    row = conn.execute(base.where(messages.c.reply_from == number)).first() if number else None
    if row is None:
        row = conn.execute(base).first()
    return None if row is None else _Answered(row[0], row[1], row[2])


def _owner(conn: Connection, login: str | None) -> _Answered | None:
    """The account that owns the receiving number, for a reply that answers none of its sends."""
    if login is None:
        return None
    row = conn.execute(select(accounts.c.id, accounts.c.reply_url).where(accounts.c.login == login)).first()
    return None if row is None else _Answered(row.id, None, row.reply_url)


def _digits(address: str) -> str:
    """An address as the messages table writes numbers: digits only, no international prefix `00`/`+`."""
    digits = "".join(c for c in address if c.isdigit())
    return digits[2:] if digits.startswith("00") else digits
