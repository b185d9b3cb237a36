"""Contacts of an address book, and message templates that name their fields.

A contact is identified within its account by its mobile, normalised as any recipient (`domain.recipients`): the
same person written `06 12 34 56 78` or `+33612345678` is one contact, and adding them again merges what is new
into what is known. Besides the fields smsmode names (`nom`, `prenom`, `societe`, `other`, `date`), a contact has
free fields (any other column of an imported file) that templates may name as well.

Template syntax: `{name}` is replaced by the recipient's field `name` (case-insensitive; an empty string when the
recipient has no such value); `{{` and `}}` stand for a literal `{` and `}`. A template naming a field no contact
can have, or with an unmatched brace, is refused, so a typo never reaches thousands of phones.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import field
from datetime import date

from martinet.domain.valueclass import valueclass

#: The fields every contact has, by their template (and smsmode) names.
STANDARD_FIELDS = ("nom", "prenom", "societe", "mobile", "date", "other")
MAX_NAME = 100
MAX_OTHER = 1000
MAX_FREE_FIELDS = 20
MAX_FREE_FIELD = 255
MAX_GROUP_NAME = 100
_FREE_FIELD_NAME = re.compile(r"[a-z0-9_]{1,40}")
#: Control characters (C0 but the tab, DEL, C1): a name that holds one is a paste gone wrong.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")


class TemplateError(ValueError):
    """A template that cannot be rendered: an unmatched brace or an unknown field."""


class ContactError(ValueError):
    """A contact field that is refused; `name` is the smsmode parameter (or file column) at fault."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


@valueclass
class ContactData:
    """What a request or a file line says about a contact; None (or absent) means "not said", which a merge
    leaves as it was, while an empty string clears it."""

    mobile: str
    last_name: str | None = None
    first_name: str | None = None
    company: str | None = None
    birth_date: str | None = None  # ISO yyyy-mm-dd
    other: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    groups: tuple[str, ...] = ()


def template_values(
    msisdn: str,
    last_name: str,
    first_name: str,
    company: str,
    birth_date: str | None,
    other: str,
    fields: Mapping[str, str],
) -> dict[str, str]:
    """A contact's values by template name (free fields first, so a standard field always wins its name)."""
    values = {name.lower(): value for name, value in fields.items()}
    values.update(
        nom=last_name,
        prenom=first_name,
        societe=company,
        mobile=msisdn,
        date=format_birth_date(birth_date),
        other=other,
    )
    return values


def format_birth_date(iso: str | None) -> str:
    """`yyyy-mm-dd` as French readers write it (`dd/mm/yyyy`), for templates and exports."""
    if not iso:
        return ""
    year, month, day = iso.split("-")
    return f"{day}/{month}/{year}"


_DATE_FORMATS = (
    re.compile(r"(?P<d>[0-9]{2})(?P<m>[0-9]{2})(?P<y>[0-9]{4})"),  # smsmode's ddMMyyyy
    re.compile(r"(?P<d>[0-9]{1,2})[/.-](?P<m>[0-9]{1,2})[/.-](?P<y>[0-9]{4})"),  # spreadsheets
    re.compile(r"(?P<y>[0-9]{4})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})"),  # ISO 8601
)


def parse_birth_date(raw: str, name: str = "date") -> str | None:
    """A birth date as ISO `yyyy-mm-dd`, from smsmode's `ddMMyyyy`, `dd/mm/yyyy` or ISO; None when empty."""
    text = raw.strip()
    if not text:
        return None
    for pattern in _DATE_FORMATS:
        match = pattern.fullmatch(text)
        if match is not None:
            try:
                return date(int(match["y"]), int(match["m"]), int(match["d"])).isoformat()
            except ValueError:
                raise ContactError(name, "not a valid date") from None
    raise ContactError(name, "expected ddMMyyyy")


def clean_text(value: str | None, name: str, limit: int = MAX_NAME) -> str | None:
    """A name-like field, trimmed; refused beyond `limit` characters or with control characters."""
    if value is None:
        return None
    text = value.strip()
    if len(text) > limit:
        raise ContactError(name, f"longer than {limit} characters")
    if _CONTROL.search(text) is not None:
        raise ContactError(name, "control characters are not allowed")
    return text


def free_field_name(raw: str) -> str:
    """A column or key name as a template field name: lower case, accents removed, spaces as underscores."""
    decomposed = unicodedata.normalize("NFKD", raw.strip().lower())
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", "_", ascii_only).strip("_")


def check_free_fields(fields: Mapping[str, str]) -> dict[str, str]:
    """Free fields as stored: bounded in number and size, named as templates can name them."""
    if len(fields) > MAX_FREE_FIELDS:
        raise ContactError("fields", f"more than {MAX_FREE_FIELDS} free fields")
    checked: dict[str, str] = {}
    for raw_name, value in fields.items():
        name = raw_name if _FREE_FIELD_NAME.fullmatch(raw_name) else free_field_name(raw_name)
        if not _FREE_FIELD_NAME.fullmatch(name) or name in STANDARD_FIELDS:
            raise ContactError("fields", f"{raw_name!r} cannot name a free field")
        checked[name] = clean_text(value, name, MAX_FREE_FIELD) or ""
    return checked


#: What a group name may not hold: the separator of the lists of groups (`groupes=a,b` on `addContact.do`, the
#: `groupes` column of imports and exports), where a group named `a,b` would read as the two groups `a` and `b`.
GROUP_SEPARATOR = ","
GROUP_SEPARATOR_PROBLEM = "a group name cannot hold ',' (it separates the groups of a list)"


def check_group_name(raw: str, name: str = "groupes") -> str:
    """A group name as stored, or ContactError naming `name`: every door checks names here, so that none makes a
    group that another door (a file's `groupes` column, `addContact.do`'s `groupes`) could not name."""
    text = raw.strip()
    if not text:
        raise ContactError(name, "empty group name")
    if GROUP_SEPARATOR in text:
        raise ContactError(name, GROUP_SEPARATOR_PROBLEM)
    if len(text) > MAX_GROUP_NAME:
        raise ContactError(name, f"group name longer than {MAX_GROUP_NAME} characters")
    if _CONTROL.search(text) is not None or "\t" in text:
        raise ContactError(name, "control characters are not allowed")
    return text


def split_groups(raw: str | None, name: str = "groupes") -> tuple[str, ...]:
    """A comma-separated list of group names, each checked, duplicates dropped, in order."""
    if not raw or not raw.strip():
        return ()
    names: dict[str, None] = {}
    for part in raw.split(","):
        if part.strip():
            names[check_group_name(part, name)] = None
    return tuple(names)


# --- Templates ---


@valueclass
class Template:
    """A parsed template: literal pieces and field names alternating (`pieces[0]`, field 0, `pieces[1]`, ...)."""

    pieces: tuple[str, ...]
    names: tuple[str, ...]

    @property
    def personal(self) -> bool:
        """Whether recipients get different texts (the template names at least one field)."""
        return bool(self.names)

    def render(self, values: Mapping[str, str]) -> str:
        out = [self.pieces[0]]
        for name, piece in zip(self.names, self.pieces[1:], strict=True):
            out.append(values.get(name, ""))
            out.append(piece)
        return "".join(out)


_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


def parse_template(text: str, known: frozenset[str] | None = None) -> Template:
    """Split `text` into literal pieces and field names; raises TemplateError on an unmatched brace, and on a
    field outside `known` (the standard fields and the account's free fields) when it is given."""
    pieces: list[str] = []
    names: list[str] = []
    current: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        current.append(text[position : match.start()])
        position = match.end()
        found = match.group(0)
        if found == "{{":
            current.append("{")
        elif found == "}}":
            current.append("}")
        elif match.group(1) is not None:
            name = match.group(1).strip().lower()
            if not name:
                raise TemplateError("empty field name {} (write {{ and }} for literal braces)")
            if known is not None and name not in known:
                raise TemplateError(f"unknown field {{{name}}}")
            pieces.append("".join(current))
            current = []
            names.append(name)
        else:
            raise TemplateError(f"unmatched {found!r} at character {match.start() + 1} (write {found * 2} for one)")
    current.append(text[position:])
    pieces.append("".join(current))
    return Template(tuple(pieces), tuple(names))
