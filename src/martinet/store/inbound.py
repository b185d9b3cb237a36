"""Storing inbound messages (MO) as connectors hand them over, linked to the account and send they answer.

A reply goes only to an account whose conversation it can be told to answer (docs/compatibility.md, "Replies"):
1. to a reply number that holds a conversation with its sender (`martinet.store.conversations`): that
   conversation's account, linked to its last message to the sender from that number;
2. else to a number with an owner (`[replies] owners`): the owner, linked to its last message to the sender;
3. else (a shared STOP number, a carrier's default sender): the one account that wrote to the sender within the
   conversation time (or, if none did, ever), linked to its last message. When several did, nobody can tell
   which one it answers: it is kept without an account, and a stop keyword opts the sender out of each of them.

Linked, a reply that is a stop keyword opts its sender out of the account's marketing, and a reply callback is
queued for the send's `notification_url_reponse` or the account's reply URL, in the same transaction as the
reply itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from martinet.clock import now_ms
from martinet.domain.inbound import InboundMessage, digits
from martinet.domain.opt_out import StopKeywords
from martinet.domain.valueclass import valueclass
from martinet.store.conversations import holder
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
        *,
        conversation_hours: float = 168.0,
    ) -> None:
        """`owners`: receiving number → account login, for replies that answer no conversation."""
        self._db = db
        self._keywords = keywords or StopKeywords()
        self._now_ms = now_ms
        self._owners = {digits(number): login for number, login in (owners or {}).items()}
        self._window_ms = int(conversation_hours * 3600 * 1000)

    async def record(self, batch: Sequence[InboundMessage]) -> None:
        if batch:
            now = self._now_ms()
            rules = _Rules(self._keywords, self._owners, now, now - self._window_ms)
            await self._db.run_write(lambda conn: _record(conn, batch, rules))

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


@valueclass
class _Rules:
    keywords: StopKeywords
    owners: Mapping[str, str]  # number digits → account login
    now: int
    since: int  # start of the conversation time: who wrote to the sender after it


@valueclass
class _Answered:
    account_id: int
    send_id: str | None
    url: str | None


def _record(conn: Connection, batch: Sequence[InboundMessage], rules: _Rules) -> None:
    for message in batch:
        sender, number = digits(message.source), digits(message.destination)
        answered, unclear = _answered(conn, sender, number, rules)
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
        if rules.keywords.matches(message.text):
            for account_id in [answered.account_id] if answered else unclear:
                add_opt_outs(conn, account_id, [sender], "reply", rules.now)
        if answered is not None and answered.url:
            conn.execute(
                insert(callbacks).values(
                    account_id=answered.account_id,
                    kind="reply",
                    inbound_id=inbound_id,
                    # One phone's replies to one account in order; another account's receiver never waits
                    # behind this one's (a failing receiver holds back only its own account's replies).
                    order_key=f"r:{answered.account_id}:{sender}"[:40],
                    url=answered.url,
                    state="pending",
                    created_at=rules.now,
                    next_at=rules.now,
                )
            )


def _answered(conn: Connection, sender: str, number: str, rules: _Rules) -> tuple[_Answered | None, list[int]]:
    """Who a reply from `sender` to `number` goes to (see the module docstring); when that cannot be told, the
    accounts it may answer."""
    if number:
        account_id = holder(conn, number, sender)
        if account_id is not None:
            return _latest(conn, account_id, sender, number) or _latest(conn, account_id, sender), []
        login = rules.owners.get(number)
        owner = None if login is None else conn.scalar(select(accounts.c.id).where(accounts.c.login == login))
        if owner is not None:
            return _latest(conn, owner, sender), []
    wrote = select(messages.c.account_id).where(messages.c.msisdn == sender).distinct()
    candidates = list(conn.scalars(wrote.where(messages.c.updated_at >= rules.since)))
    if not candidates:
        candidates = list(conn.scalars(wrote))
    if len(candidates) == 1:
        return _latest(conn, candidates[0], sender), []
    return None, sorted(candidates)


def _latest(conn: Connection, account_id: int, sender: str, number: str | None = None) -> _Answered | None:
    """The account's last message to `sender` (from reply number `number`, when given), with where its replies
    go; with no message at all (`number` None), the account alone and its default reply URL."""
    query = (
        select(messages.c.send_id, func.coalesce(sends.c.notification_url_reponse, accounts.c.reply_url))
        .join(sends, sends.c.id == messages.c.send_id)
        .join(accounts, accounts.c.id == messages.c.account_id)
        .where(messages.c.account_id == account_id, messages.c.msisdn == sender)
        .order_by(messages.c.id.desc())
        .limit(1)
    )
    if number is not None:  # as configured, with or without its international prefix
        query = query.where(messages.c.reply_from.in_([number, f"+{number}", f"00{number}"]))
    row = conn.execute(query).first()
    if row is not None:
        return _Answered(account_id, row[0], row[1])
    if number is not None:
        return None
    return _Answered(account_id, None, conn.scalar(select(accounts.c.reply_url).where(accounts.c.id == account_id)))
