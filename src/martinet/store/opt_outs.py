"""Each account's opt-out list: numbers that asked it to stop sending (marketing) messages."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.engine import Connection

from martinet.domain.valueclass import valueclass
from martinet.store.database import Database, dialect_insert
from martinet.store.schema import opt_outs


@valueclass
class OptOut:
    msisdn: str
    created_at: int
    source: str


class OptOutStore:
    def __init__(self, db: Database, now_ms: Callable[[], int]) -> None:
        self._db = db
        self._now_ms = now_ms

    async def add(self, account_id: int, numbers: Sequence[str], source: str) -> int:
        """Add `numbers` (E.164 digits); returns how many were not on the list already."""
        now = self._now_ms()
        return await self._db.run_write(lambda conn: add_opt_outs(conn, account_id, numbers, source, now))

    async def remove(self, account_id: int, numbers: Sequence[str]) -> int:
        def work(conn: Connection) -> int:
            result = conn.execute(
                delete(opt_outs).where(opt_outs.c.account_id == account_id, opt_outs.c.msisdn.in_(list(numbers)))
            )
            return int(result.rowcount or 0)

        return await self._db.run_write(work)

    async def list(self, account_id: int) -> list[OptOut]:
        query = (
            select(opt_outs.c.msisdn, opt_outs.c.created_at, opt_outs.c.source)
            .where(opt_outs.c.account_id == account_id)
            .order_by(opt_outs.c.created_at, opt_outs.c.msisdn)
        )
        async with self._db.reader.connect() as conn:
            return [OptOut(*row) for row in await conn.execute(query)]


def add_opt_outs(conn: Connection, account_id: int, numbers: Sequence[str], source: str, now: int) -> int:
    if not numbers:
        return 0
    rows = [
        {"account_id": account_id, "msisdn": n, "created_at": now, "source": source} for n in dict.fromkeys(numbers)
    ]
    result = conn.execute(dialect_insert(conn, opt_outs).on_conflict_do_nothing(), rows)
    return int(result.rowcount or 0)


def opted_out(conn: Connection, account_id: int, numbers: Collection[str]) -> set[str]:
    """Which of `numbers` are on the account's list (indexed queries, in the caller's transaction), asked
    `_CHUNK` numbers at a time: PostgreSQL takes at most 32,767 parameters per statement, a campaign has more."""
    found: set[str] = set()
    wanted = list(numbers)
    if len(wanted) > _CHUNK:  # a campaign: the account's list is usually the smaller, so read it whole if it is
        listed = conn.scalar(select(func.count()).select_from(opt_outs).where(opt_outs.c.account_id == account_id))
        if (listed or 0) <= len(wanted):
            rows = conn.execute(select(opt_outs.c.msisdn).where(opt_outs.c.account_id == account_id))
            return {row.msisdn for row in rows}.intersection(wanted)
    for start in range(0, len(wanted), _CHUNK):
        rows = conn.execute(_OPTED_OUT, {"account": account_id, "numbers": wanted[start : start + _CHUNK]})
        found.update(row.msisdn for row in rows)
    return found


_CHUNK = 10_000
_OPTED_OUT = select(opt_outs.c.msisdn).where(
    opt_outs.c.account_id == bindparam("account"), opt_outs.c.msisdn.in_(bindparam("numbers", expanding=True))
)
