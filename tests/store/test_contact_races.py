"""The address book under concurrent writers and very large imports, on SQLite and PostgreSQL.

On PostgreSQL (READ COMMITTED) two requests adding the same new mobile both found it missing and both inserted it:
the second broke the unique constraint and answered 500 (`31` on the smsmode door), where adding an existing mobile
is documented to merge. And an import naming more groups than PostgreSQL takes bound parameters (32,767) failed on
one unchunked `IN` list."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from sqlalchemy import func, insert, select

from martinet.domain.contacts import ContactData
from martinet.services.contacts import ContactService, contact_data
from martinet.store.contacts import ContactStore, GroupExists, NewContact
from martinet.store.database import Database
from martinet.store.schema import accounts, contact_group_members, contact_groups, contacts

NOW = 1_767_225_600_000
WRITERS = 8


@pytest.fixture
async def account(db: Database) -> int:
    """An account to own the contacts (the tests write the address book only)."""
    async with db.write() as conn:
        values = {"language": "fr", "timezone": "UTC", "lane": "notification", "non_gsm": "replace"}
        result = await conn.execute(
            insert(accounts).values(login="acme", created_at=0, **values).returning(accounts.c.id)
        )
        return int(result.scalar_one())


async def _count(db: Database, table_count: object) -> int:
    async with db.reader.connect() as conn:
        return int(await conn.scalar(table_count) or 0)  # type: ignore[call-overload]


async def test_concurrent_adds_of_one_new_mobile_merge(db: Database, account: int) -> None:
    store = ContactStore(db, lambda: NOW)
    service = ContactService(store)
    for round_ in range(3):
        mobile = f"06400000{round_:02d}"
        # The REST door and addContact.do: one contact, several groups, posted by several clients at once.
        added = await asyncio.gather(
            *(
                service.add(account, contact_data(mobile=mobile, first_name=f"n{i}", groups=[f"race{round_}", "all"]))
                for i in range(WRITERS)
            )
        )
        assert sum(created for _, created in added) == 1  # the others merged into it
        assert len({row.id for row, _ in added}) == 1
        # An import of the same new line, several times at once (a client retrying).
        line = f"mobile;nom;groupe\n06500000{round_:02d};Dupont;imp{round_}\n".encode()
        reports = await asyncio.gather(*(service.import_csv(account, line, "imports") for _ in range(WRITERS)))
        assert sorted(r.lines[0].outcome for r in reports) == ["created"] + ["merged"] * (WRITERS - 1)
    assert await _count(db, select(func.count()).select_from(contacts)) == 6
    members = select(func.count()).select_from(
        contact_group_members.join(contact_groups, contact_groups.c.id == contact_group_members.c.group_id)
    )
    assert await _count(db, members.where(contact_groups.c.name == "all")) == 3
    assert await _count(db, members.where(contact_groups.c.name == "imports")) == 3
    # Groups created by many writers at once: one each, and one of two creators is told it exists.
    made = await asyncio.gather(*(store.create_group(account, "new") for _ in range(WRITERS)), return_exceptions=True)
    assert sum(not isinstance(m, BaseException) for m in made) == 1
    assert all(isinstance(m, GroupExists) for m in made if isinstance(m, BaseException))


async def test_concurrent_imports_sharing_mobiles(db: Database, account: int) -> None:
    """Imports whose new mobiles overlap, in different orders: each merges what the others created first."""
    store = ContactStore(db, lambda: NOW)
    mobiles = [f"3361{n:07d}" for n in range(200)]
    orders = [mobiles, mobiles[::-1], mobiles[50:] + mobiles[:50], mobiles[::2] + mobiles[1::2]]
    batches = [[NewContact(m, "FR", ContactData(mobile=m, groups=("g",))) for m in order] for order in orders]
    outcomes = await asyncio.gather(*(store.write(account, batch) for batch in batches))
    assert sum(itertools.chain.from_iterable(outcomes)) == len(mobiles)  # each created once, merged elsewhere
    assert await _count(db, select(func.count()).select_from(contacts)) == len(mobiles)
    assert await _count(db, select(func.count()).select_from(contact_group_members)) == len(mobiles)


async def test_import_naming_more_groups_than_bound_parameters(db: Database, account: int) -> None:
    """32,800 distinct groups in one import: PostgreSQL takes at most 32,767 parameters in a statement."""
    service = ContactService(ContactStore(db, lambda: NOW))
    count = 32_800
    lines = "".join(f"336{n:08d};client-{n}\n" for n in range(count))
    report = await service.import_csv(account, f"mobile;groupe\n{lines}".encode())
    assert report.count("created") == count
    assert await _count(db, select(func.count()).select_from(contact_groups)) == count
    assert await _count(db, select(func.count()).select_from(contact_group_members)) == count
    # Read back as a send names them: every group found, none missing. (A few hundred names: 33,000 in one
    # look-up right after the import is slow on PostgreSQL before its statistics know the table has rows.)
    names = [f"client-{n}" for n in range(0, count, 97)]
    assert await service.store.missing_groups(account, names) == []
    assert await service.store.missing_groups(account, [*names, "nope"]) == ["nope"]


async def test_concurrent_renames_to_one_name_leave_one_group_of_that_name(db: Database, account: int) -> None:
    """Eight groups renamed to the same new name at once: one takes it, the others are told it is taken (on
    PostgreSQL each found it free, and the losers' updates broke the unique constraint: 500)."""
    store = ContactStore(db, lambda: NOW)
    ids = [(await store.create_group(account, f"g{i}")).id for i in range(WRITERS)]
    for round_ in range(3):

        async def rename(group_id: int, name: str = f"taken-{round_}") -> str:
            try:
                await store.rename_group(account, group_id, name)
            except GroupExists:
                return "exists"
            return "renamed"

        outcomes = await asyncio.gather(*(rename(group_id) for group_id in ids))
        assert sorted(outcomes) == ["exists"] * (WRITERS - 1) + ["renamed"]
        renamed = ids[outcomes.index("renamed")]
        await store.rename_group(account, renamed, f"g-back-{round_}")  # free the name for the next round
