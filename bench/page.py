"""docs/benchmarks.md as parts: each benchmark's rows, setup paragraph and note, and everything else.

`python -m bench --only X` reruns some benchmarks; the page also carries text written by hand (notes on profiles,
reruns of one drill, figures measured by a module run alone). Rewriting the page therefore replaces, in place,
only what the generator recognises as the parts of the benchmarks it ran: a benchmark's group of table rows (from
its first row up to the first row of another benchmark), the setup paragraph that starts with its setup opening,
and the note that starts with its note opening. Every other paragraph and line stays where it is, byte for byte,
but that paragraphs are parted by one blank line (a paragraph after two would otherwise start with a line break,
be nobody's part, and stay beside its rerun); a part the page lacks goes before the first part of a benchmark that
follows it in `ORDER`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

Row = tuple[str, str, str, str]


def verdict(ok: bool) -> str:
    """A target's last cell, the same words on every row of the page."""
    return "met" if ok else "**not met**"


ORDER = (
    "accept",
    "rest",
    "bulk",
    "smpp",
    "e2e",
    "otp",
    "callbacks",
    "kannel",
    "backlog",
    "faults",
    "voice",
    "contacts",
)

#: The first row of each benchmark's group of rows, and the beginning of its setup paragraph and of its note, as
#: the generator writes them (a paragraph starting otherwise is someone's and is kept).
FIRST_ROW = {
    "accept": "sendSMS.do accept only (",
    "rest": "POST /sms/v1/messages accept only",
    "bulk": "sendSMS.do POST, ",
    "smpp": "SMPP submit_sm",
    "e2e": "end to end ",
    "otp": "OTP accept",
    "callbacks": "callbacks delivered",
    "kannel": "Martinet vs Kannel",
    "backlog": "engine RSS with",
    "faults": "fault drill",
    "voice": "voice calls at once",
    "contacts": "contacts import, 100,000 lines",
}
SETUP_START = {
    "accept": "Everything runs on this one machine",
    "rest": "The REST rows",
    "smpp": "The SMPP rows",
    "e2e": "The end-to-end rows",
    "otp": "The OTP rows",
    "callbacks": "The callback rows",
    "kannel": "The Kannel rows",
    "backlog": "The backlog rows",
    "faults": "The fault rows",
    "voice": "The voice rows",
    "contacts": "The contacts and campaign rows",
}
NOTE_START = {
    "accept": "Non-2xx answers during the accept run",
    "rest": "REST run:",
    "e2e": "End to end at",
    "otp": "OTP run:",
    "kannel": "Kannel run:",
    "backlog": "Backlog run:",
    "faults": "Fault drills:",
    "voice": "Voice run:",
    "contacts": "Contacts run:",
}

TITLE = "# Benchmarks"
HEADER = "| measure | figure | target | |\n|---|---|---|---|"
FOOTER = "Figures move by ±20 % between runs on a shared 2-core machine; rerun `make bench` to refresh this page."
_MEASURED = "Measured by"
_RERUN = " Rerun with `--only "


@dataclass
class Part:
    """What one benchmark contributes to the page."""

    rows: list[Row] = field(default_factory=list)
    setup: str | None = None
    note: str | None = None


@dataclass
class _Page:
    intro_line: str
    accept_setup: str | None  # the intro paragraph's lines after its first (the accept setup, or someone's text)
    setups: list[str]
    table: list[str]  # the lines after the header
    notes: list[str]
    footer: str | None


#: Blank lines between paragraphs, however many.
_PARAGRAPH_BREAK = re.compile(r"\n{2,}")


def _parse(text: str) -> _Page | None:
    paragraphs = _PARAGRAPH_BREAK.split(text.strip("\n"))
    at = next((i for i, p in enumerate(paragraphs) if p.startswith(HEADER.split("\n", 1)[0])), None)
    if at is None or at < 2 or paragraphs[0] != TITLE or not paragraphs[1].startswith(_MEASURED):
        return None
    line, _, rest = paragraphs[1].partition("\n")
    tail = paragraphs[at + 1 :]
    footer = tail.pop() if tail and tail[-1].startswith(FOOTER.split(";", 1)[0]) else None
    return _Page(line, rest or None, paragraphs[2:at], paragraphs[at].split("\n")[2:], tail, footer)


def _owner(text: str, starts: Mapping[str, str]) -> str | None:
    return next((name for name, start in starts.items() if text.startswith(start)), None)


def _cells(line: str) -> list[str]:
    """A table line's cells, the first keeping its indentation (how a row says it details the one above)."""
    first, *rest = line.strip().removeprefix("|").removesuffix("|").split("|")
    return [first.removeprefix(" ").rstrip(), *(cell.strip() for cell in rest)]


def _row_owners(lines: list[str]) -> list[str | None]:
    """Each table line's benchmark: the last one whose first row came at or before it."""
    owners: list[str | None] = []
    current = None
    for line in lines:
        cells = _cells(line)
        if len(cells) == 4:
            current = _owner(cells[0], FIRST_ROW) or current
        owners.append(current)
    return owners


def _later(name: str, other: str | None) -> bool:
    return other is not None and ORDER.index(other) > ORDER.index(name)


def _place(items: list[str], owners: list[str | None], name: str, new: list[str]) -> None:
    """Replace `name`'s items by `new` where the first of them stood, or put `new` before the first item of a
    benchmark that follows it (at the end when none does)."""
    mine = [i for i, owner in enumerate(owners) if owner == name]
    if mine:
        at = mine[0]
        for i in reversed(mine):
            del items[i], owners[i]
    else:
        at = next((i for i, owner in enumerate(owners) if _later(name, owner)), len(items))
    items[at:at] = new
    owners[at:at] = [name] * len(new)


def _place_paragraph(paragraphs: list[str], starts: Mapping[str, str], name: str, new: str) -> None:
    """Replace the paragraph that starts as `name`'s does (only that one: the rest is kept), else insert `new`."""
    owners = [_owner(p, starts) for p in paragraphs]
    mine = next((i for i, owner in enumerate(owners) if owner == name), None)
    if mine is not None:
        paragraphs[mine] = new
    else:
        at = next((i for i, owner in enumerate(owners) if _later(name, owner)), len(paragraphs))
        paragraphs.insert(at, new)


def kept_parts(text: str, names: list[str]) -> dict[str, Part]:
    """The rows, setup paragraph and note of each benchmark named, as the page has them (empty when it has not)."""
    parts = {name: Part() for name in names}
    page = _parse(text)
    if page is None:
        return parts
    for name, line in zip(_row_owners(page.table), page.table, strict=True):
        cells = _cells(line)
        if name in parts and len(cells) == 4:
            parts[name].rows.append((cells[0], cells[1], cells[2], cells[3]))
    for paragraph in ([page.accept_setup] if page.accept_setup else []) + page.setups:
        name = _owner(paragraph, SETUP_START)
        if name in parts and parts[name].setup is None:
            parts[name].setup = paragraph
    for paragraph in page.notes:
        name = _owner(paragraph, NOTE_START)
        if name in parts and parts[name].note is None:
            parts[name].note = paragraph
    return parts


def measured_line(text: str, selected: list[str]) -> str | None:
    """The page's first line of the intro (when and where it was measured) with the earlier partial reruns whose
    rows are still on the page (those of a rerun entirely redone now are dropped)."""
    page = _parse(text)
    if page is None:
        return None
    base, *reruns = page.intro_line.split(_RERUN)
    kept = [r for r in reruns if not set(r.split("`", 1)[0].split(",")) <= set(selected)]
    return _RERUN.join([base, *kept])


def render(text: str | None, intro_line: str, fresh: Mapping[str, Part]) -> str:
    """The page `text` (a new one when None or unreadable) with `intro_line` and the parts in `fresh` in place."""
    page = _parse(text) if text is not None else None
    if page is None:
        page = _Page(intro_line, None, [], [], [], FOOTER)
    page.intro_line = intro_line
    for name in (n for n in ORDER if n in fresh):
        part = fresh[name]
        if part.rows:
            lines = [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in part.rows]
            _place(page.table, _row_owners(page.table), name, lines)
        if part.setup is not None and name == "accept":
            held = page.accept_setup
            kept = held is not None and not held.startswith(SETUP_START["accept"])
            page.accept_setup = f"{part.setup}\n{held}" if kept else part.setup
        elif part.setup is not None:
            _place_paragraph(page.setups, SETUP_START, name, part.setup)
        if part.note is not None:
            _place_paragraph(page.notes, NOTE_START, name, part.note)
    intro = page.intro_line + (f"\n{page.accept_setup}" if page.accept_setup else "")
    paragraphs = [TITLE, intro, *page.setups, "\n".join([HEADER, *page.table]), *page.notes]
    return "\n\n".join([*paragraphs, page.footer or FOOTER]) + "\n"
