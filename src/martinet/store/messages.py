"""Reading messages and replies one by one and page by page, as the doors show them (`martinet.domain.resources`).

Pages are newest first by acceptance time, bounded by the send index (`ix_sends_account_created`): a page of an
account's recent messages reads that page, not the account's history.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Select, func, select

from martinet.domain.resources import MessageFacts, ReplyFacts
from martinet.domain.valueclass import valueclass
from martinet.store.database import Database
from martinet.store.schema import inbound_messages, messages, parts, sends


@valueclass
class MessageFilter:
    """Optional conditions of a listing; times are Unix ms of acceptance, inclusive."""

    since: int | None = None
    until: int | None = None
    states: Sequence[str] | None = None
    msisdn: str | None = None
    ref_client: str | None = None
    lanes: Sequence[str] | None = None  # those of the caller's key; None: every lane
    send_id: str | None = None  # one send's messages only


_FACTS = select(
    sends.c.id,
    messages.c.seq,
    sends.c.created_at,
    sends.c.lane,
    messages.c.msisdn,
    # A personalised message's own text, sender, parts and reference, else its send's.
    func.coalesce(messages.c.sender, sends.c.sender),
    func.coalesce(messages.c.text, sends.c.text),
    sends.c.encoding,
    func.coalesce(messages.c.segments, sends.c.segments),
    messages.c.state,
    messages.c.code,
    messages.c.cost,
    messages.c.updated_at,
    func.coalesce(messages.c.ref_client, sends.c.ref_client),
    sends.c.scheduled_at,
    sends.c.channel,
).select_from(messages.join(sends, sends.c.id == messages.c.send_id))

_REPLIES = select(
    inbound_messages.c.id,
    inbound_messages.c.received_at,
    inbound_messages.c.source,
    inbound_messages.c.destination,
    inbound_messages.c.text,
    inbound_messages.c.send_id,
    sends.c.ref_client,
).select_from(inbound_messages.outerjoin(sends, sends.c.id == inbound_messages.c.send_id))


def _facts(row: Any) -> MessageFacts:
    return MessageFacts(*row)


class MessageStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, account_id: int, send_id: str, seq: int) -> MessageFacts | None:
        query = _FACTS.where(sends.c.id == send_id, sends.c.account_id == account_id, messages.c.seq == seq)
        async with self._db.reader.connect() as conn:
            row = (await conn.execute(query)).first()
        return _facts(row) if row else None

    async def of_send(self, account_id: int, send_id: str) -> list[MessageFacts]:
        query = _FACTS.where(sends.c.id == send_id, sends.c.account_id == account_id).order_by(messages.c.seq)
        async with self._db.reader.connect() as conn:
            return [_facts(row) for row in await conn.execute(query)]

    async def page(self, account_id: int, where: MessageFilter, offset: int, limit: int) -> list[MessageFacts]:
        """Up to `limit` messages after skipping `offset`, newest first."""
        query: Select[Any] = _FACTS.where(sends.c.account_id == account_id)
        if where.since is not None:
            query = query.where(sends.c.created_at >= where.since)
        if where.until is not None:
            query = query.where(sends.c.created_at <= where.until)
        if where.states is not None:
            query = query.where(messages.c.state.in_(list(where.states)))
        if where.msisdn is not None:
            query = query.where(messages.c.msisdn == where.msisdn)
        if where.ref_client is not None:
            query = query.where(func.coalesce(messages.c.ref_client, sends.c.ref_client) == where.ref_client)
        if where.lanes is not None:
            query = query.where(sends.c.lane.in_(list(where.lanes)))
        if where.send_id is not None:
            query = query.where(sends.c.id == where.send_id)
        query = query.order_by(sends.c.created_at.desc(), sends.c.id.desc(), messages.c.seq).offset(offset).limit(limit)
        async with self._db.reader.connect() as conn:
            return [_facts(row) for row in await conn.execute(query)]

    async def carrier_ids(self, account_id: int, send_ids: Collection[str]) -> dict[tuple[str, int], list[str]]:
        """The IDs the carriers gave each submitted part, by (send ID, message seq), parts in order: what an
        operator quotes to a carrier about a message (`martinet messages`)."""
        if not send_ids:
            return {}
        query = (
            select(messages.c.send_id, messages.c.seq, parts.c.carrier_id)
            .select_from(parts.join(messages, messages.c.id == parts.c.message_id))
            .where(messages.c.account_id == account_id, messages.c.send_id.in_(sorted(send_ids)))
            .order_by(messages.c.send_id, messages.c.seq, parts.c.seq)
        )
        found: dict[tuple[str, int], list[str]] = {}
        async with self._db.reader.connect() as conn:
            for send_id, seq, carrier_id in await conn.execute(query):
                found.setdefault((send_id, seq), []).append(carrier_id)
        return found

    async def reply(self, account_id: int, inbound_id: int) -> ReplyFacts | None:
        query = _REPLIES.where(inbound_messages.c.id == inbound_id, inbound_messages.c.account_id == account_id)
        async with self._db.reader.connect() as conn:
            row = (await conn.execute(query)).first()
        return ReplyFacts(*row) if row else None

    async def replies(
        self, account_id: int, since: int | None, until: int | None, offset: int, limit: int | None
    ) -> list[ReplyFacts]:
        """An account's replies, newest first by reception time (`limit` None: every one after `offset`)."""
        query: Select[Any] = _REPLIES.where(inbound_messages.c.account_id == account_id)
        if since is not None:
            query = query.where(inbound_messages.c.received_at >= since)
        if until is not None:
            query = query.where(inbound_messages.c.received_at <= until)
        query = query.order_by(inbound_messages.c.received_at.desc(), inbound_messages.c.id.desc())
        async with self._db.reader.connect() as conn:
            return [ReplyFacts(*row) for row in await conn.execute(query.offset(offset).limit(limit))]
