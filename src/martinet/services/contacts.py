"""The address book's use cases, for every door (smsmode `addContact.do`, the REST resources, the command line):
adding and merging contacts, importing and exporting CSV files, groups and their members.

Mobiles are normalised as recipients are (`domain.recipients`), so a contact and a send name a phone the same
way. An import reports each line: created, merged (the file or the address book already had the mobile) or
refused with the reason; refused lines do not stop the others.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterator, Sequence

from martinet.domain.contacts import (
    MAX_OTHER,
    ContactData,
    ContactError,
    check_free_fields,
    check_group_name,
    clean_text,
    format_birth_date,
    free_field_name,
    parse_birth_date,
    split_groups,
)
from martinet.domain.csv_records import CsvError, declared_codec, read_all, spreadsheet_cell
from martinet.domain.recipients import InvalidRecipient, Recipient, parse_recipient
from martinet.domain.valueclass import valueclass
from martinet.store.contacts import ContactRow, ContactStore, GroupRow, NewContact, Outcome

#: Lines an import may have (besides its header).
MAX_IMPORT_LINES = 1_000_000
#: Lines an import checks and writes at a time (one transaction for the whole file all the same): what it holds.
IMPORT_BATCH = 5000
EXPORT_CHUNK = 5000

#: Column names of import files (compared as `free_field_name` writes them) → the field they fill.
_COLUMNS = {
    **dict.fromkeys(("mobile", "numero", "telephone", "portable", "phone", "tel", "msisdn", "gsm"), "mobile"),
    **dict.fromkeys(("nom", "name", "last_name", "lastname", "nom_de_famille"), "last_name"),
    **dict.fromkeys(("prenom", "first_name", "firstname"), "first_name"),
    **dict.fromkeys(("societe", "company", "entreprise"), "company"),
    **dict.fromkeys(("date", "date_de_naissance", "birth_date", "birthdate", "birthday", "naissance"), "birth_date"),
    **dict.fromkeys(("other", "autre"), "other"),
    **dict.fromkeys(("groupes", "groupe", "groups", "group"), "groups"),
}
#: Export columns, in the names an import reads back.
EXPORT_HEADER = ("mobile", "nom", "prenom", "societe", "date", "other", "groupes")


@valueclass
class LineResult:
    line: int  # in the file, the header being 1
    outcome: str  # "created", "merged" or "refused"
    mobile: str | None = None  # normalised, when the line had a usable one
    reason: str | None = None  # why it was refused


@valueclass
class ImportReport:
    lines: list[LineResult]

    def count(self, outcome: str) -> int:
        return sum(1 for line in self.lines if line.outcome == outcome)


def normalise_mobile(raw: str, name: str = "mobile") -> Recipient:
    parsed = parse_recipient(raw.strip())
    if isinstance(parsed, InvalidRecipient):
        raise ContactError(name, parsed.reason)
    return parsed


def contact_data(
    *,
    mobile: str,
    last_name: str | None = None,
    first_name: str | None = None,
    company: str | None = None,
    birth_date: str | None = None,
    other: str | None = None,
    fields: dict[str, str] | None = None,
    groups: Sequence[str] = (),
    names: dict[str, str] | None = None,
) -> ContactData:
    """Checked contact data; `names` maps each field to the parameter a refusal names (smsmode's by default)."""
    n = {
        "last_name": "nom",
        "first_name": "prenom",
        "company": "societe",
        "birth_date": "date",
        "other": "other",
        "groups": "groupes",
        **(names or {}),
    }
    return ContactData(
        mobile=mobile,
        last_name=clean_text(last_name, n["last_name"]),
        first_name=clean_text(first_name, n["first_name"]),
        company=clean_text(company, n["company"]),
        birth_date=None if birth_date is None else parse_birth_date(birth_date, n["birth_date"]) or "",
        other=clean_text(other, n["other"], MAX_OTHER),
        fields=check_free_fields(fields or {}),
        groups=tuple(check_group_name(g, n["groups"]) for g in groups),
    )


class ContactService:
    def __init__(self, store: ContactStore) -> None:
        self._store = store

    @property
    def store(self) -> ContactStore:
        """The reads (pages, groups), which apply no rule."""
        return self._store

    async def add(self, account_id: int, data: ContactData, mobile_name: str = "mobile") -> tuple[ContactRow, bool]:
        """Create the contact, or merge `data` into the one with the same mobile; True when created."""
        recipient = normalise_mobile(data.mobile, mobile_name)
        created = (await self._store.write(account_id, [NewContact(recipient.msisdn, recipient.country, data)]))[0]
        if isinstance(created, ContactError):  # the merge would exceed the free fields' bound
            raise created
        found = await self._store.by_msisdn(account_id, [recipient.msisdn])
        row = found[recipient.msisdn]
        return (await self._store.get(account_id, row.id)) or row, created

    async def update(self, account_id: int, contact_id: int, data: ContactData) -> ContactRow | None:
        recipient = normalise_mobile(data.mobile) if data.mobile else None
        return await self._store.update(
            account_id,
            contact_id,
            None if recipient is None else recipient.msisdn,
            None if recipient is None else recipient.country,
            data,
        )

    async def import_csv(
        self, account_id: int, data: bytes, group: str | None = None, charset: str | None = None
    ) -> ImportReport:
        """Import a CSV file (header first; `;` or `,`; UTF-8, UTF-16, ISO-8859-15 or Windows-1252, or the
        `charset` its upload declares): every usable line created or merged in one transaction, the others refused
        with their reason; each contact also joins `group`.

        The lines are read, checked and written `IMPORT_BATCH` at a time inside that transaction, so that the
        worker holds one batch of contacts (and its rows as merged), not the file's: a 16 MiB file made a peak of
        600 MB. A file found broken halfway (not CSV, too many lines) undoes the batches written before it."""
        extra = (check_group_name(group, "group"),) if group else ()
        results: list[LineResult] = []
        try:
            records = read_all(data, codec=declared_codec(charset))
        except CsvError as exc:
            raise ContactError("charset", exc.problem) from None
        try:
            first = next(records, None)
        except CsvError as exc:
            raise ContactError("file", str(exc)) from None
        if first is None:
            raise ContactError("file", "empty file")
        columns = _columns(first[1])
        lines: list[int] = []  # the file's line of each contact of the batch being written

        def batches() -> Iterator[list[NewContact]]:
            items: list[NewContact] = []
            read = 0
            try:
                for line, record in records:
                    read += 1
                    if read > MAX_IMPORT_LINES:
                        raise ContactError("file", f"more than {MAX_IMPORT_LINES} lines")
                    try:
                        items.append(_import_line(columns, record))
                    except ContactError as exc:
                        results.append(LineResult(line, "refused", None, f"{exc.name}: {exc.problem}"))
                        continue
                    lines.append(line)
                    if len(items) == IMPORT_BATCH:
                        yield items
                        items = []
            except CsvError as exc:
                raise ContactError("file", str(exc)) from None
            if items:
                yield items

        def written(items: Sequence[NewContact], outcomes: list[Outcome]) -> None:
            results.extend(
                LineResult(line, "refused", None, f"{outcome.name}: {outcome.problem}")
                if isinstance(outcome, ContactError)
                else LineResult(line, "created" if outcome else "merged", item.msisdn)
                for line, item, outcome in zip(lines, items, outcomes, strict=True)
            )
            lines.clear()

        await self._store.write_batches(account_id, batches(), written, extra)
        results.sort(key=lambda r: r.line)
        return ImportReport(results)

    async def export_csv(self, account_id: int, group: str | None = None) -> AsyncIterator[bytes]:
        """The contacts (of `group`, or all) as a CSV file in chunks: UTF-8 with a byte-order mark (so Excel reads
        its accents right), `;`-separated, with the columns an import reads back; each free field has a column of
        its own, named after it (the names are found in a first pass over the contacts)."""
        names: dict[str, None] = {}
        after = 0
        while True:
            rows = await self._store.page(
                account_id, search=None, group=group, after=after, offset=0, limit=EXPORT_CHUNK
            )
            for row in rows:
                names.update(dict.fromkeys(row.fields))
            if len(rows) < EXPORT_CHUNK:
                break
            after = rows[-1].id
        free = sorted(names)
        yield b"\xef\xbb\xbf" + _csv_line([*EXPORT_HEADER, *free])
        after = 0
        while True:
            rows = await self._store.page(
                account_id, search=None, group=group, after=after, offset=0, limit=EXPORT_CHUNK
            )
            if not rows:
                break
            yield b"".join(_csv_line(_export_row(row, free)) for row in rows)
            if len(rows) < EXPORT_CHUNK:
                break
            after = rows[-1].id

    async def create_group(self, account_id: int, name: str) -> GroupRow:
        return await self._store.create_group(account_id, check_group_name(name, "name"))

    async def rename_group(self, account_id: int, group_id: int, name: str) -> GroupRow | None:
        return await self._store.rename_group(account_id, group_id, check_group_name(name, "name"))


def _csv_line(values: Sequence[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerow(values)
    return out.getvalue().encode("utf-8")


def _export_row(row: ContactRow, free: Sequence[str]) -> list[str]:
    """The contact's cells; the texts its owner typed pass through `_cell` (the mobile and the date are the
    gateway's own writing: `+` and digits, `dd/mm/yyyy`)."""
    return [
        "+" + row.msisdn,
        _cell(row.last_name),
        _cell(row.first_name),
        _cell(row.company),
        format_birth_date(row.birth_date),
        _cell(row.other),
        _cell(",".join(row.groups)),
        *(_cell(row.fields.get(name, "")) for name in free),
    ]


def _cell(text: str) -> str:
    """A text as a cell a spreadsheet shows, never runs (`spreadsheet_cell`); a text that starts with `'` gets
    one more, since an import takes one off (`_imported`): an export always reads back as it was."""
    return "'" + text if text[:1] == "'" else spreadsheet_cell(text)


def _imported(value: str) -> str:
    """A cell as an import reads it: without the one `'` an export (ours, or a spreadsheet's "as text") put
    before it."""
    return value[1:] if value[:1] == "'" else value


def _columns(header: list[str]) -> list[tuple[str, str]]:
    """Each column as (field, name): a known field, or "free" with the free field's name."""
    columns: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw in header:
        name = free_field_name(raw)
        field = _COLUMNS.get(name, "free")
        key = name if field == "free" else field
        if not name or key in seen:
            columns.append(("skip", name))
            continue
        seen.add(key)
        columns.append((field, name))
    if not any(field == "mobile" for field, _ in columns):
        raise ContactError("file", "no mobile column (mobile, numero, telephone...) in the header")
    return columns


def _import_line(columns: list[tuple[str, str]], record: list[str]) -> NewContact:
    if len(record) > len(columns):
        raise ContactError("line", f"{len(record)} fields for {len(columns)} columns")
    values: dict[str, str] = {}
    free: dict[str, str] = {}
    for (field, name), cell in zip(columns, record, strict=False):
        value = _imported(cell)
        if field == "free":
            if value.strip():
                free[name] = value
        elif field != "skip":
            values[field] = value
    recipient = normalise_mobile(values.get("mobile", ""))
    data = contact_data(
        mobile=recipient.msisdn,
        last_name=values.get("last_name") or None,
        first_name=values.get("first_name") or None,
        company=values.get("company") or None,
        birth_date=values.get("birth_date") or None,
        other=values.get("other") or None,
        fields=free,
        groups=split_groups(values.get("groups"), "groupes"),
    )
    return NewContact(recipient.msisdn, recipient.country, data)
