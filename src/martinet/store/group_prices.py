"""What a send to contact groups holds, counted in SQL rather than read contact by contact: the web console's live
counter prices a group of 50,000 from a few rows (`api/console/counter.py`).

Read-only. The counts are of distinct contacts (a contact in two of the groups counts once), grouped by country
and by the columns a template names, so that every contact of one row gets the same text and the same price.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.engine import Connection

from martinet.store.database import Database
from martinet.store.schema import contact_group_members, contact_groups, contacts

#: Typed numbers looked up among the groups' contacts per statement (well under the drivers' parameter limits).
CHUNK = 500

#: The columns a mix may be grouped by beside the country (those a template's fields are read from).
MIX_COLUMNS = frozenset({"msisdn", "last_name", "first_name", "company", "birth_date", "other", "fields"})


def member_mix(
    conn: Connection,
    account_id: int,
    group_names: Sequence[str],
    columns: Sequence[str],
    only: Sequence[str] | None = None,
) -> list[tuple[Any, ...]]:
    """One statement: rows of (country, *columns, contacts) over the distinct contacts of the account's groups
    `group_names`, grouped by country and `columns` (names of `MIX_COLUMNS`); `only`: those contacts whose mobile
    is one of these only (the numbers a send names beside its groups)."""
    unknown = set(columns) - MIX_COLUMNS
    if unknown:
        raise ValueError(f"not a mix column: {sorted(unknown)}")
    in_groups = (
        select(contact_group_members.c.contact_id)
        .join(contact_groups, contact_groups.c.id == contact_group_members.c.group_id)
        .where(contact_groups.c.account_id == account_id, contact_groups.c.name.in_(list(group_names)))
    )
    keys: list[ColumnElement[Any]] = [contacts.c.country, *(contacts.c[name] for name in columns)]
    query = (
        select(*keys, func.count())
        .where(contacts.c.account_id == account_id, contacts.c.id.in_(in_groups))
        .group_by(*keys)
    )
    if only is not None:
        query = query.where(contacts.c.msisdn.in_(list(only)))
    return [tuple(row) for row in conn.execute(query)]


class GroupMixStore:
    """`member_mix` on a database, as the console's counter reads it."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def mix(
        self, account_id: int, group_names: Sequence[str], columns: Sequence[str], typed: Sequence[str]
    ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """In one read: the mix of the groups' contacts, and the mix of those among `typed` (the numbers named
        beside the groups, which a send prices once, as typed)."""

        def read(conn: Connection) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
            every = member_mix(conn, account_id, group_names, columns)
            overlap = [
                row
                for start in range(0, len(typed), CHUNK)
                for row in member_mix(conn, account_id, group_names, columns, only=typed[start : start + CHUNK])
            ]
            return every, overlap

        async with self._db.reader.connect() as conn:
            return await conn.run_sync(read)
