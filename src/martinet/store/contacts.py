"""The address book: contacts, groups and memberships, per account.

Contacts are merged by mobile (`uq_contacts_account_id_msisdn`): writing a contact whose mobile the account
already has updates that contact with what the new data says and adds its groups, it never makes a second row.
Imports are written in one transaction with multi-row statements (existing rows read in chunks, new rows inserted
in batches, memberships inserted in batches), so a 100,000-line file costs a few dozen statements, not 100,000.

Every query names the account: an account sees only its own contacts and groups.

Writers race: two requests adding the same new mobile (a client retrying, a form posted twice, two imports) both
find it missing, and on PostgreSQL (READ COMMITTED) the second insert then breaks the unique constraint. Groups
are created with `INSERT ... ON CONFLICT DO NOTHING` and read back; a contact write runs in a savepoint and, when
another transaction committed one of its rows first, is done again from a fresh read (`_retrying`): it then merges
into the row the other committed, as adding an existing mobile always does. Imports keep COPY for their new rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import orjson
from sqlalchemy import Select, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from martinet.domain.contacts import MAX_FREE_FIELDS, ContactData, ContactError
from martinet.domain.valueclass import valueclass
from martinet.store.bulk import insert_rows
from martinet.store.database import Database
from martinet.store.schema import contact_group_members, contact_groups, contacts

T = TypeVar("T")

#: Values per `IN (...)` list: well under the bound-parameter limits of both databases.
CHUNK = 2000
#: Times a contact write is tried when concurrent writers commit its rows first: each conflict means another
#: transaction committed, so the next read sees its rows; more than a few in a row is not a race but a fault.
WRITE_ATTEMPTS = 5
#: SQLSTATEs of a write that lost a race: unique violation, deadlock (two imports inserting shared mobiles).
_RACE_STATES = frozenset({"23505", "40P01"})


@valueclass
class NewContact:
    """A contact to write: `data` as said, with its mobile normalised (`msisdn`, digits) and its country."""

    msisdn: str
    country: str | None
    data: ContactData


@valueclass
class ContactRow:
    id: int
    msisdn: str
    country: str | None
    last_name: str
    first_name: str
    company: str
    birth_date: str | None
    other: str
    fields: dict[str, str]
    created_at: int
    updated_at: int
    groups: tuple[str, ...] = ()


@valueclass
class GroupRow:
    id: int
    name: str
    created_at: int
    members: int


class GroupExists(Exception):
    """A group of that name already exists in the account."""


class MobileTaken(Exception):
    """Another contact of the account already has that mobile."""


_COLUMNS = (
    contacts.c.id,
    contacts.c.msisdn,
    contacts.c.country,
    contacts.c.last_name,
    contacts.c.first_name,
    contacts.c.company,
    contacts.c.birth_date,
    contacts.c.other,
    contacts.c.fields,
    contacts.c.created_at,
    contacts.c.updated_at,
)


def _row(row: Any) -> ContactRow:
    return ContactRow(
        row.id,
        row.msisdn,
        row.country,
        row.last_name,
        row.first_name,
        row.company,
        row.birth_date,
        row.other,
        orjson.loads(row.fields) if row.fields else {},
        row.created_at,
        row.updated_at,
    )


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _fields_json(fields: Mapping[str, str]) -> str | None:
    return orjson.dumps(dict(fields)).decode() if fields else None


# --- Writing contacts (sync: run in one write transaction) ---


#: What became of a contact written: True created, False merged, or the ContactError that refused it (a merge
#: that would leave the contact with more free fields than any contact may have).
Outcome = bool | ContactError


def write_contacts(
    conn: Connection, account_id: int, items: Sequence[NewContact], now: int, extra_groups: Sequence[str] = ()
) -> list[Outcome]:
    """Create or merge each contact (True: created, False: merged into one the account had, or into an earlier
    item with the same mobile); add every contact to its groups and to `extra_groups`, creating missing groups.
    An item whose merge is refused (`_merge`) changes nothing, joins no group, and its outcome is the refusal: the
    others are written all the same, as an import's refused lines do not stop the others.
    Safe against concurrent writers of the same mobiles (`_retrying`)."""
    return _retrying(conn, lambda: _write_contacts(conn, account_id, items, now, extra_groups))


def _retrying(conn: Connection, work: Callable[[], T]) -> T:
    """`work` in a savepoint, done again from scratch when a concurrent transaction committed a row it inserts
    first (a unique violation, or a deadlock between two imports).

    Under READ COMMITTED the losing insert waits for the other transaction and fails once it commits; the savepoint
    undoes this attempt only, and the next one reads the committed rows and merges into them. On SQLite writers
    take turns, so the first attempt is the only one. A COPY fails with the driver's own exception (asyncpg's, not
    wrapped by SQLAlchemy), hence the SQLSTATE test rather than an `except IntegrityError`.
    """
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            with conn.begin_nested():
                return work()
        except Exception as exc:
            if attempt == WRITE_ATTEMPTS or not _lost_race(exc):
                raise
    raise AssertionError("unreachable")


def _lost_race(exc: BaseException) -> bool:
    """Whether `exc` is PostgreSQL's unique violation or deadlock, raised through SQLAlchemy or by the driver
    (SQLite, whose writers take turns, never loses such a race)."""
    cause: object = exc.orig if isinstance(exc, DBAPIError) else exc
    for found in (cause, getattr(cause, "__cause__", None)):
        state = getattr(found, "sqlstate", None) or getattr(found, "pgcode", None)
        if state is not None:
            return state in _RACE_STATES
    return False


def _write_contacts(
    conn: Connection, account_id: int, items: Sequence[NewContact], now: int, extra_groups: Sequence[str]
) -> list[Outcome]:
    merged: dict[str, ContactRow] = {}  # msisdn → the row as it will be
    new: set[str] = set()
    existing = _by_msisdn(conn, account_id, sorted({i.msisdn for i in items}))
    outcomes: list[Outcome] = []
    memberships: dict[str, set[str]] = {}  # group name → msisdns
    changed: set[str] = set()
    for item in items:
        current = merged.get(item.msisdn) or existing.get(item.msisdn)
        if current is None:
            merged[item.msisdn] = _fresh(item, now)
            new.add(item.msisdn)
            outcomes.append(True)
        else:
            try:
                merged[item.msisdn] = _merge(current, item.data, now)
            except ContactError as refused:
                outcomes.append(refused)
                continue
            outcomes.append(False)
        changed.add(item.msisdn)
        for group in (*item.data.groups, *extra_groups):
            memberships.setdefault(group, set()).add(item.msisdn)
    # In the order of the unique index, so that two imports sharing mobiles wait on each other, not deadlock.
    insert_rows(conn, contacts, _INSERTED, (_insert_row(account_id, merged[m]) for m in sorted(new)))
    to_update = [_update_row(merged[m]) for m in changed if m not in new]
    for chunk in _chunks(to_update):
        conn.execute(_UPDATE, list(chunk))
    if memberships:
        ids = {m: r.id for m, r in existing.items()}
        if new:
            ids.update(_ids(conn, account_id, sorted(new)))
        groups = ensure_groups(conn, account_id, list(memberships), now)
        _add_memberships(conn, [(groups[name], ids[m]) for name, numbers in memberships.items() for m in numbers])
    return outcomes


def _ids(conn: Connection, account_id: int, msisdns: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(msisdns):
        rows = conn.execute(_IDS, {"account": account_id, "msisdns": list(chunk)})
        found.update((row.msisdn, row.id) for row in rows)
    return found


_UPDATE = (
    update(contacts)
    .where(contacts.c.id == bindparam("id_"))
    .values(
        last_name=bindparam("last_name_"),
        first_name=bindparam("first_name_"),
        company=bindparam("company_"),
        birth_date=bindparam("birth_date_"),
        other=bindparam("other_"),
        fields=bindparam("fields_"),
        updated_at=bindparam("updated_at_"),
    )
)


def _update_row(row: ContactRow) -> dict[str, object]:
    return {
        "id_": row.id,
        "last_name_": row.last_name,
        "first_name_": row.first_name,
        "company_": row.company,
        "birth_date_": row.birth_date,
        "other_": row.other,
        "fields_": _fields_json(row.fields),
        "updated_at_": row.updated_at,
    }


_INSERTED = (
    "account_id",
    "msisdn",
    "country",
    "last_name",
    "first_name",
    "company",
    "birth_date",
    "other",
    "fields",
    "created_at",
    "updated_at",
)


def _insert_row(account_id: int, row: ContactRow) -> tuple[object, ...]:
    return (
        account_id,
        row.msisdn,
        row.country,
        row.last_name,
        row.first_name,
        row.company,
        row.birth_date,
        row.other,
        _fields_json(row.fields),
        row.created_at,
        row.updated_at,
    )


def _fresh(item: NewContact, now: int) -> ContactRow:
    data = item.data
    return ContactRow(
        0,
        item.msisdn,
        item.country,
        data.last_name or "",
        data.first_name or "",
        data.company or "",
        data.birth_date or None,
        data.other or "",
        dict(data.fields),
        now,
        now,
    )


def _merge(row: ContactRow, data: ContactData, now: int) -> ContactRow:
    """`row` with what `data` says (None: not said, kept), its free fields added to the known ones.

    Raises ContactError naming `fields` when the free fields added would take the contact beyond
    `MAX_FREE_FIELDS`: each request is checked alone (`check_free_fields`), so three of 20 different fields each
    made a contact of 60, whose export no import could read back. A contact that already has more (written before
    this check) is not refused a merge that adds no new field."""
    fields = {**row.fields, **data.fields} if data.fields else row.fields
    if len(fields) > MAX_FREE_FIELDS and len(fields) > len(row.fields):
        raise ContactError(
            "fields",
            f"more than {MAX_FREE_FIELDS} free fields once merged: the contact has {len(row.fields)},"
            f" this adds {len(fields) - len(row.fields)}",
        )
    return replace(
        row,
        last_name=row.last_name if data.last_name is None else data.last_name,
        first_name=row.first_name if data.first_name is None else data.first_name,
        company=row.company if data.company is None else data.company,
        birth_date=row.birth_date if data.birth_date is None else data.birth_date or None,
        other=row.other if data.other is None else data.other,
        fields=fields,
        updated_at=now,
    )


# Expanding parameters: compiled once and cached, the list spliced in at execution (not 2,000 bound parameters
# compiled again for every chunk).
_BY_MSISDN = select(*_COLUMNS).where(
    contacts.c.account_id == bindparam("account"), contacts.c.msisdn.in_(bindparam("msisdns", expanding=True))
)
_IDS = select(contacts.c.msisdn, contacts.c.id).where(
    contacts.c.account_id == bindparam("account"), contacts.c.msisdn.in_(bindparam("msisdns", expanding=True))
)


def _by_msisdn(conn: Connection, account_id: int, msisdns: Sequence[str]) -> dict[str, ContactRow]:
    found: dict[str, ContactRow] = {}
    for chunk in _chunks(msisdns):
        rows = conn.execute(_BY_MSISDN, {"account": account_id, "msisdns": list(chunk)})
        found.update((row.msisdn, _row(row)) for row in rows)
    return found


def ensure_groups(conn: Connection, account_id: int, names: Sequence[str], now: int) -> dict[str, int]:
    """The IDs of the account's groups `names`, creating those it does not have. A group another transaction
    creates meanwhile is not an error (`ON CONFLICT DO NOTHING`, then read back): naming a group creates it or
    finds it, whoever was first."""
    found = _group_ids(conn, account_id, names)
    missing = [n for n in dict.fromkeys(names) if n not in found]
    if missing:
        # One multi-row INSERT per chunk: asyncpg's executemany took a round trip a row (33,000 groups: a minute).
        # The new rows' IDs come back from the INSERT itself: a read of thousands of groups just written ran on
        # a plan made for an empty table (seconds per chunk on PostgreSQL).
        for chunk in _chunks(missing):
            rows = [{"account_id": account_id, "name": n, "created_at": now} for n in chunk]
            inserted = _insert_groups(conn, rows).returning(contact_groups.c.name, contact_groups.c.id)
            found.update((row.name, row.id) for row in conn.execute(inserted))
        raced = [n for n in missing if n not in found]  # created meanwhile by another transaction
        if raced:
            found.update(_group_ids(conn, account_id, raced))
    return found


def _insert_groups(conn: Connection, rows: list[dict[str, object]]) -> Any:
    """INSERT of groups that skips a name the account has (both dialects write `ON CONFLICT DO NOTHING`)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return (
        dialect.insert(contact_groups)
        .values(rows)
        .on_conflict_do_nothing(index_elements=[contact_groups.c.account_id, contact_groups.c.name])
    )


_GROUP_IDS = select(contact_groups.c.name, contact_groups.c.id).where(
    contact_groups.c.account_id == bindparam("account"), contact_groups.c.name.in_(bindparam("names", expanding=True))
)


def _group_ids(conn: Connection, account_id: int, names: Sequence[str]) -> dict[str, int]:
    """By chunks, as `_by_msisdn`: an import may name more groups than PostgreSQL takes parameters (32,767)."""
    found: dict[str, int] = {}
    for chunk in _chunks(list(dict.fromkeys(names))):
        found.update((row.name, row.id) for row in conn.execute(_GROUP_IDS, {"account": account_id, "names": chunk}))
    return found


def _add_memberships(conn: Connection, pairs: Sequence[tuple[int, int]]) -> int:
    """Insert the (group, contact) pairs not yet there; returns how many were added.

    The pairs present are read by chunks of contacts, not group by group: an import may name one group per line,
    and a query per group made 33,000 groups a few minutes."""
    wanted = set(pairs)
    group_ids = sorted({g for g, _ in wanted})
    present: set[tuple[int, int]] = set()
    for chunk in _chunks(sorted({c for _, c in wanted})):
        query = select(contact_group_members.c.group_id, contact_group_members.c.contact_id).where(
            contact_group_members.c.contact_id.in_(list(chunk))
        )
        if len(group_ids) <= CHUNK:  # the usual import: a few groups, read those only
            query = query.where(contact_group_members.c.group_id.in_(group_ids))
        present.update((row.group_id, row.contact_id) for row in conn.execute(query))
    return insert_rows(conn, contact_group_members, ("group_id", "contact_id"), sorted(wanted - present))


# --- Reading (sync), also used inside the acceptance transaction ---


def groups_of(conn: Connection, contact_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    names: dict[int, list[str]] = {}
    for chunk in _chunks(contact_ids):
        query = (
            select(contact_group_members.c.contact_id, contact_groups.c.name)
            .join(contact_groups, contact_groups.c.id == contact_group_members.c.group_id)
            .where(contact_group_members.c.contact_id.in_(list(chunk)))
            .order_by(contact_groups.c.name)
        )
        for row in conn.execute(query):
            names.setdefault(row.contact_id, []).append(row.name)
    return {cid: tuple(found) for cid, found in names.items()}


def missing_groups(conn: Connection, account_id: int, names: Sequence[str]) -> list[str]:
    found = _group_ids(conn, account_id, names)
    return [n for n in names if n not in found]


def member_count(conn: Connection, account_id: int, names: Sequence[str], cap: int) -> int:
    """How many distinct contacts the account's groups `names` hold between them, counted up to `cap + 1` only:
    enough to tell an empty send and one beyond the recipients' cap, without counting a huge group whole."""
    ids = list(_group_ids(conn, account_id, names).values())
    if not ids:
        return 0
    distinct = (
        select(contact_group_members.c.contact_id)
        .join(contacts, contacts.c.id == contact_group_members.c.contact_id)
        .where(contact_group_members.c.group_id.in_(ids), contacts.c.account_id == account_id)
        .distinct()
        .limit(cap + 1)
        .subquery()
    )
    return int(conn.scalar(select(func.count()).select_from(distinct)) or 0)


def members(conn: Connection, account_id: int, group_names: Sequence[str]) -> list[ContactRow]:
    """The contacts of the account's groups `group_names`, each once, group by group in order of creation."""
    ids = _group_ids(conn, account_id, group_names)
    seen: set[int] = set()
    found: list[ContactRow] = []
    for name in group_names:
        group_id = ids.get(name)
        if group_id is None:
            continue
        query = (
            select(*_COLUMNS)
            .join(contact_group_members, contact_group_members.c.contact_id == contacts.c.id)
            .where(contact_group_members.c.group_id == group_id, contacts.c.account_id == account_id)
            .order_by(contacts.c.id)
        )
        for row in conn.execute(query):
            if row.id not in seen:
                seen.add(row.id)
                found.append(_row(row))
    return found


def by_msisdn(conn: Connection, account_id: int, msisdns: Sequence[str]) -> dict[str, ContactRow]:
    return _by_msisdn(conn, account_id, msisdns)


def _search(query: Select[Any], search: str | None) -> Select[Any]:
    if not search:
        return query
    pattern = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    digits = "".join(c for c in search if c.isdigit())
    conditions = [
        func.lower(contacts.c.last_name).like(pattern, escape="\\"),
        func.lower(contacts.c.first_name).like(pattern, escape="\\"),
        func.lower(contacts.c.company).like(pattern, escape="\\"),
    ]
    if digits:
        conditions.append(contacts.c.msisdn.like(f"%{digits.lstrip('0') or digits}%"))
    return query.where(or_(*conditions))


class ContactStore:
    def __init__(self, db: Database, now_ms: Callable[[], int]) -> None:
        self._db = db
        self._now_ms = now_ms

    async def write(
        self, account_id: int, items: Sequence[NewContact], extra_groups: Sequence[str] = ()
    ) -> list[Outcome]:
        """Create or merge `items` in one transaction (see `write_contacts`)."""
        now = self._now_ms()
        return await self._db.run_write(lambda conn: write_contacts(conn, account_id, items, now, extra_groups))

    async def write_batches(
        self,
        account_id: int,
        batches: Iterable[Sequence[NewContact]],
        on_written: Callable[[Sequence[NewContact], list[Outcome]], None],
        extra_groups: Sequence[str] = (),
    ) -> None:
        """Create or merge every batch of `batches` in one transaction, a batch at a time (`write_contacts`), and
        hand each batch and its outcomes to `on_written`: an import holds one batch, not the whole file's contacts
        (nor their rows as merged), and the file is still written whole or not at all. `batches` is consumed inside
        the transaction; an exception it raises (a file found broken halfway) undoes every batch written before.
        A later batch reads what the earlier ones wrote, so a mobile met again merges as within one batch."""
        now = self._now_ms()

        def work(conn: Connection) -> None:
            for batch in batches:
                on_written(batch, write_contacts(conn, account_id, batch, now, extra_groups))

        await self._db.run_write(work)

    async def get(self, account_id: int, contact_id: int) -> ContactRow | None:
        def work(conn: Connection) -> ContactRow | None:
            row = conn.execute(
                select(*_COLUMNS).where(contacts.c.account_id == account_id, contacts.c.id == contact_id)
            ).first()
            if row is None:
                return None
            return replace(_row(row), groups=groups_of(conn, [contact_id]).get(contact_id, ()))

        return await self._read(work)

    async def page(
        self, account_id: int, *, search: str | None, group: str | None, after: int, offset: int, limit: int
    ) -> list[ContactRow]:
        """Contacts by ID (`after`: the last ID of the previous chunk, for exports), with their groups."""

        def work(conn: Connection) -> list[ContactRow]:
            query = select(*_COLUMNS).where(contacts.c.account_id == account_id, contacts.c.id > after)
            if group is not None:
                query = query.join(contact_group_members, contact_group_members.c.contact_id == contacts.c.id).join(
                    contact_groups,
                    (contact_groups.c.id == contact_group_members.c.group_id)
                    & (contact_groups.c.account_id == account_id)
                    & (contact_groups.c.name == group),
                )
            query = _search(query, search).order_by(contacts.c.id).offset(offset).limit(limit)
            rows = [_row(r) for r in conn.execute(query)]
            names = groups_of(conn, [r.id for r in rows])
            return [replace(r, groups=names.get(r.id, ())) for r in rows]

        return await self._read(work)

    async def update(
        self, account_id: int, contact_id: int, msisdn: str | None, country: str | None, data: ContactData
    ) -> ContactRow | None:
        """Change what `data` says (and the mobile, when given), and add the contact to `data.groups`. None when
        the account has no such contact; MobileTaken when another of its contacts has the mobile."""
        now = self._now_ms()

        def work(conn: Connection) -> ContactRow | None:
            row = conn.execute(
                select(*_COLUMNS).where(contacts.c.account_id == account_id, contacts.c.id == contact_id)
            ).first()
            if row is None:
                return None
            merged = _merge(_row(row), data, now)
            values = _update_row(merged)
            conn.execute(_UPDATE, values)
            if msisdn is not None and msisdn != merged.msisdn:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            update(contacts).where(contacts.c.id == contact_id).values(msisdn=msisdn, country=country)
                        )
                except IntegrityError:
                    raise MobileTaken(msisdn) from None
            if data.groups:
                groups = ensure_groups(conn, account_id, list(data.groups), now)
                pairs = [(groups[name], contact_id) for name in data.groups]
                _retrying(conn, lambda: _add_memberships(conn, pairs))  # the same pairs added concurrently
            return merged

        if await self._db.run_write(work) is None:
            return None
        return await self.get(account_id, contact_id)

    async def delete(self, account_id: int, contact_id: int) -> bool:
        def work(conn: Connection) -> bool:
            owned = conn.scalar(
                select(contacts.c.id).where(contacts.c.account_id == account_id, contacts.c.id == contact_id)
            )
            if owned is None:
                return False
            conn.execute(delete(contact_group_members).where(contact_group_members.c.contact_id == contact_id))
            conn.execute(delete(contacts).where(contacts.c.id == contact_id))
            return True

        return await self._db.run_write(work)

    # --- Groups ---

    async def create_group(self, account_id: int, name: str) -> GroupRow:
        now = self._now_ms()

        def work(conn: Connection) -> None:
            # One statement: a check then an insert would let two requests both pass the check.
            added = conn.execute(_insert_groups(conn, [{"account_id": account_id, "name": name, "created_at": now}]))
            if not added.rowcount:
                raise GroupExists(name)

        await self._db.run_write(work)
        found = await self.group(account_id, name=name)
        assert found is not None
        return found

    async def group(self, account_id: int, *, group_id: int | None = None, name: str | None = None) -> GroupRow | None:
        def work(conn: Connection) -> GroupRow | None:
            rows = _groups(conn, account_id, group_id=group_id, name=name, search=None, offset=0, limit=1)
            return rows[0] if rows else None

        return await self._read(work)

    async def groups(self, account_id: int, *, search: str | None, offset: int, limit: int) -> list[GroupRow]:
        return await self._read(
            lambda conn: _groups(conn, account_id, group_id=None, name=None, search=search, offset=offset, limit=limit)
        )

    async def rename_group(self, account_id: int, group_id: int, name: str) -> GroupRow | None:
        def work(conn: Connection) -> bool:
            other = _group_ids(conn, account_id, [name]).get(name)
            if other is not None and other != group_id:
                raise GroupExists(name)
            try:
                with conn.begin_nested():
                    result = conn.execute(
                        update(contact_groups)
                        .where(contact_groups.c.account_id == account_id, contact_groups.c.id == group_id)
                        .values(name=name)
                    )
            except IntegrityError:  # PostgreSQL: another transaction took the name since we looked
                raise GroupExists(name) from None
            return bool(result.rowcount)

        if not await self._db.run_write(work):
            return None
        return await self.group(account_id, group_id=group_id)

    async def delete_group(self, account_id: int, group_id: int) -> bool:
        """Delete the group (its contacts stay in the address book)."""

        def work(conn: Connection) -> bool:
            owned = conn.scalar(
                select(contact_groups.c.id).where(
                    contact_groups.c.account_id == account_id, contact_groups.c.id == group_id
                )
            )
            if owned is None:
                return False
            conn.execute(delete(contact_group_members).where(contact_group_members.c.group_id == group_id))
            conn.execute(delete(contact_groups).where(contact_groups.c.id == group_id))
            return True

        return await self._db.run_write(work)

    async def change_members(
        self, account_id: int, group_id: int, *, add: Sequence[int] = (), remove: Sequence[int] = ()
    ) -> tuple[int, list[int]] | None:
        """Add and remove contacts of the account to and from the group; returns how many were added and the IDs
        that are not contacts of the account (nothing changed then), or None when there is no such group."""

        def work(conn: Connection) -> tuple[int, list[int]] | None:
            owned = conn.scalar(
                select(contact_groups.c.id).where(
                    contact_groups.c.account_id == account_id, contact_groups.c.id == group_id
                )
            )
            if owned is None:
                return None
            wanted = sorted({*add, *remove})
            mine: set[int] = set()
            for chunk in _chunks(wanted):
                mine.update(
                    conn.scalars(
                        select(contacts.c.id).where(contacts.c.account_id == account_id, contacts.c.id.in_(list(chunk)))
                    )
                )
            unknown = [c for c in wanted if c not in mine]
            if unknown:
                return 0, unknown
            added = _retrying(conn, lambda: _add_memberships(conn, [(group_id, c) for c in add]))
            for chunk in _chunks(sorted(set(remove))):
                conn.execute(
                    delete(contact_group_members).where(
                        contact_group_members.c.group_id == group_id,
                        contact_group_members.c.contact_id.in_(list(chunk)),
                    )
                )
            return added, []

        return await self._db.run_write(work)

    async def missing_groups(self, account_id: int, names: Sequence[str]) -> list[str]:
        return await self._read(lambda conn: missing_groups(conn, account_id, names))

    async def member_count(self, account_id: int, names: Sequence[str], cap: int) -> int:
        return await self._read(lambda conn: member_count(conn, account_id, names, cap))

    async def members(self, account_id: int, group_names: Sequence[str]) -> list[ContactRow]:
        return await self._read(lambda conn: members(conn, account_id, group_names))

    async def by_msisdn(self, account_id: int, msisdns: Sequence[str]) -> dict[str, ContactRow]:
        return await self._read(lambda conn: _by_msisdn(conn, account_id, msisdns))

    async def _read(self, work: Callable[[Connection], T]) -> T:
        async with self._db.reader.connect() as conn:
            return await conn.run_sync(work)


def _groups(
    conn: Connection,
    account_id: int,
    *,
    group_id: int | None,
    name: str | None,
    search: str | None,
    offset: int,
    limit: int,
) -> list[GroupRow]:
    count = (
        select(func.count())
        .select_from(contact_group_members)
        .where(contact_group_members.c.group_id == contact_groups.c.id)
        .scalar_subquery()
    )
    query = select(contact_groups.c.id, contact_groups.c.name, contact_groups.c.created_at, count.label("members"))
    query = query.where(contact_groups.c.account_id == account_id)
    if group_id is not None:
        query = query.where(contact_groups.c.id == group_id)
    if name is not None:
        query = query.where(contact_groups.c.name == name)
    if search:
        pattern = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(func.lower(contact_groups.c.name).like(pattern, escape="\\"))
    query = query.order_by(contact_groups.c.id).offset(offset).limit(limit)
    return [GroupRow(r.id, r.name, r.created_at, int(r.members)) for r in conn.execute(query)]
