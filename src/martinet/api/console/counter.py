"""The send form's live counter for a send to contact groups, priced without reading the groups contact by contact.

The counter is posted at every pause in typing. Pricing a group of 50,000 by `SendService.preview` reads, renders
and prices each contact, a second or more on the worker's event loop per keystroke. Instead:

1. one aggregated query counts the groups' distinct contacts per country and per value of the fields the text
   names (`store.group_prices`), less those among the numbers typed beside the groups (a number both
   typed and in a group is sent once, as typed);
2. contacts whose texts cannot differ in price are put in one bucket: same country, and field values of the same
   *shape*, each character replaced by a stand-in of its class (GSM-7 basic or extension, other BMP, outside the
   BMP, each as whitespace or not). Encoding, units, parts, where a part may be cut, the opt-out mention's space
   and a blank text depend on those classes only (`domain.text`), so every contact of a bucket pays the same;
3. the send service's own `preview` prices one stand-in contact per bucket (through a stand-in address book, see
   `_Buckets`), and each stand-in's price counts once per contact of its bucket.

So the figures are the send service's rules, applied to a few stand-ins instead of every contact. The buckets
depend on the groups, the numbers typed and the fields named, not on the rest of the text: they are kept
`CACHE_SECONDS` per account, so typing re-analyses the text only. Sorting the rows into buckets runs in a thread,
off the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import orjson

from martinet.domain.contacts import STANDARD_FIELDS, TemplateError, format_birth_date, parse_template
from martinet.domain.recipients import Recipient, parse_recipients
from martinet.domain.text import GSM_BASIC, GSM_EXTENSION
from martinet.services.accept import SendRequest, SendService
from martinet.store.contacts import ContactRow, ContactStore
from martinet.store.group_prices import GroupMixStore

#: How long a group's buckets are reused while the holder types (contacts added meanwhile show after it).
CACHE_SECONDS = 5.0
CACHE_ENTRIES = 256
#: The contact column each standard template field is read from; any other name is a free field (`fields`).
FIELD_COLUMNS = {
    "nom": "last_name",
    "prenom": "first_name",
    "societe": "company",
    "mobile": "msisdn",
    "date": "birth_date",
    "other": "other",
}
assert set(FIELD_COLUMNS) == set(STANDARD_FIELDS)

# One stand-in per class of character (see the module's docstring); `_stand_in` checks them at import.
_BASIC, _BASIC_SPACE = "a", " "
_EXTENSION, _EXTENSION_SPACE = "€", "\x0c"
_OTHER, _OTHER_SPACE = "Ж", "\xa0"
_ASTRAL = "😀"
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _stand_in(char: str) -> str:
    space = char.isspace()
    if char in GSM_BASIC:
        return _BASIC_SPACE if space else _BASIC
    if char in GSM_EXTENSION:
        return _EXTENSION_SPACE if space else _EXTENSION
    if ord(char) > 0xFFFF:
        return _ASTRAL
    return _OTHER_SPACE if space else _OTHER


for _char in (_BASIC, _BASIC_SPACE, _EXTENSION, _EXTENSION_SPACE, _OTHER, _OTHER_SPACE, _ASTRAL):
    assert _stand_in(_char) == _char, _char


def shape(value: str, memo: dict[str, str]) -> str:
    """`value` with every character replaced by its class's stand-in: texts that differ only where `shape` does
    not are encoded, counted and cut alike."""
    out = []
    for char in value:
        found = memo.get(char)
        if found is None:
            found = memo[char] = _stand_in(char)
        out.append(found)
    return "".join(out)


@dataclass
class Mix:
    """The groups' contacts that a send would price as members (not typed), by bucket."""

    rows: list[ContactRow]  # one stand-in contact per bucket
    counts: dict[str, int]  # contacts per bucket, by the stand-in's mobile
    total: int  # every distinct contact of the groups, typed numbers included (the send's recipient cap)


@dataclass
class _Entry:
    expires: float
    mix: Mix


@dataclass
class GroupCounter:
    """Buckets of groups' contacts per account, kept briefly; one per console door (so per database)."""

    store: GroupMixStore
    clock: Callable[[], float] = time.monotonic
    _cache: dict[tuple[object, ...], _Entry] = field(default_factory=dict)

    async def price(self, sends: SendService, store: ContactStore, request: SendRequest) -> tuple[int, int]:
        """(millicredits, valid recipients) of `request` (a send to groups) as `sends.preview` finds them, or
        InvalidParameter as it raises it."""
        try:
            names = tuple(dict.fromkeys(parse_template(request.text or "").names))
        except TemplateError:  # the preview refuses it, naming the text
            names = ()
        typed = sorted({r.msisdn for r in parse_recipients(request.recipients or "") if isinstance(r, Recipient)})
        mix = await self._mix(request.account.id, request.groups, names, typed)
        # The same rules and prices, reading the groups as buckets.
        preview = await sends.with_contacts(_Buckets(store, mix)).preview(request)
        cost = valid = 0
        for item in preview.recipients:
            recipient = item.recipient
            times = mix.counts.get(recipient.msisdn, 1) if isinstance(recipient, Recipient) else 1
            cost += item.cost * times
            if item.problem is None:
                valid += times
        return cost, valid

    async def _mix(self, account_id: int, groups: Sequence[str], names: Sequence[str], typed: list[str]) -> Mix:
        digest = hashlib.sha256("\n".join(typed).encode()).hexdigest()
        key: tuple[object, ...] = (account_id, tuple(groups), tuple(names), digest)
        now = self.clock()
        entry = self._cache.get(key)
        if entry is not None and entry.expires > now:
            return entry.mix
        columns = sorted({FIELD_COLUMNS.get(name, "fields") for name in names})
        every, overlap = await self.store.mix(account_id, groups, columns, typed)
        mix = await asyncio.to_thread(_buckets, every, overlap, columns, names)
        if len(self._cache) >= CACHE_ENTRIES:
            self._cache = {k: e for k, e in self._cache.items() if e.expires > now}
            if len(self._cache) >= CACHE_ENTRIES:
                self._cache.clear()
        self._cache[key] = _Entry(now + CACHE_SECONDS, mix)
        return mix


def _buckets(
    every: list[tuple[object, ...]], overlap: list[tuple[object, ...]], columns: list[str], names: Sequence[str]
) -> Mix:
    memo: dict[str, str] = {}

    def key_of(row: tuple[object, ...]) -> tuple[tuple[str, tuple[str, ...]], dict[str, object]]:
        values = dict(zip(columns, row[1:-1], strict=True))
        free = orjson.loads(str(values["fields"])) if values.get("fields") else {}
        free = {str(k).lower(): str(v) for k, v in free.items()} if isinstance(free, dict) else {}
        shapes = []
        for name in names:
            column = FIELD_COLUMNS.get(name)
            if column is None:
                text = free.get(name, "")
            elif column == "birth_date":
                text = format_birth_date(str(values[column]) if values[column] else None)
            else:
                text = str(values[column] or "")
            shapes.append(shape(text, memo))
        return (str(row[0] or ""), tuple(shapes)), values

    counts: dict[tuple[str, tuple[str, ...]], int] = {}
    sources: dict[tuple[str, tuple[str, ...]], dict[str, object]] = {}
    total = 0
    for row in every:
        key, values = key_of(row)
        number = int(str(row[-1]))
        counts[key] = counts.get(key, 0) + number
        sources.setdefault(key, values)
        total += number
    for row in overlap:  # typed numbers that are also contacts: priced as typed, not again as members
        key, _values = key_of(row)
        counts[key] = counts.get(key, 0) - int(str(row[-1]))
    rows: list[ContactRow] = []
    by_mobile: dict[str, int] = {}
    for index, (key, count) in enumerate(counts.items()):
        if count <= 0:
            continue
        country, shapes = key
        values = sources[key]
        length = len(str(values["msisdn"])) if "msisdn" in values else 0
        mobile = _letters(index, length)  # unique, never a typed number (digits), of the shape of the real ones
        own = dict(zip(names, shapes, strict=True))
        rows.append(
            ContactRow(
                id=-1 - index,
                msisdn=mobile,
                country=country,
                last_name=own.get("nom", ""),
                first_name=own.get("prenom", ""),
                company=own.get("societe", ""),
                birth_date=str(values["birth_date"]) if values.get("birth_date") else None,
                other=own.get("other", ""),
                fields={name: text for name, text in own.items() if name not in FIELD_COLUMNS},
                created_at=0,
                updated_at=0,
            )
        )
        by_mobile[mobile] = count
    return Mix(rows, by_mobile, total)


def _letters(index: int, length: int) -> str:
    """`index` in base 26 with letters, padded to `length` with "a": a stand-in mobile."""
    digits = ""
    while True:
        index, rest = divmod(index, 26)
        digits = _LETTERS[rest] + digits
        if not index:
            break
    if len(digits) > length > 0:
        raise ValueError("more buckets than mobiles of that length")
    return digits.rjust(length, "a")


class _Buckets(ContactStore):
    """The address book as `SendService.preview` reads it for the counter: one stand-in contact per bucket. The
    other reads go to the real store."""

    def __init__(self, store: ContactStore, mix: Mix) -> None:  # no database of its own
        self._store = store
        self._mix = mix

    async def missing_groups(self, account_id: int, names: Sequence[str]) -> list[str]:
        return await self._store.missing_groups(account_id, names)

    async def member_count(self, account_id: int, names: Sequence[str], cap: int) -> int:
        return min(self._mix.total, cap + 1)

    async def members(self, account_id: int, group_names: Sequence[str]) -> list[ContactRow]:
        return self._mix.rows

    async def by_msisdn(self, account_id: int, msisdns: Sequence[str]) -> dict[str, ContactRow]:
        return await self._store.by_msisdn(account_id, msisdns)
