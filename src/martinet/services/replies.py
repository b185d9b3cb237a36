"""Reading an account's replies (MO): the one query behind `responseList.do`, `/sms/v1/replies` and the console.

Replies are stored by the engine as connectors hand them over (`martinet.store.inbound`); the doors only read
them, newest first, each with the send it answers when one was found.
"""

from __future__ import annotations

from martinet.domain.resources import ReplyFacts
from martinet.store.messages import MessageStore


class ReplyService:
    def __init__(self, messages: MessageStore) -> None:
        self._messages = messages

    async def page(
        self, account_id: int, *, since: int | None = None, until: int | None = None, offset: int = 0, limit: int | None
    ) -> list[ReplyFacts]:
        """The account's replies received between `since` and `until` (Unix ms, inclusive, each optional), newest
        first, `offset` skipped, at most `limit` (None: all of them)."""
        return await self._messages.replies(account_id, since, until, offset, limit)

    async def one(self, account_id: int, reply_id: int) -> ReplyFacts | None:
        """One of the account's replies, None when the account received no reply of that number."""
        return await self._messages.reply(account_id, reply_id)
