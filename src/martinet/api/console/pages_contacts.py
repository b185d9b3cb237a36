"""The address book's pages: contacts (paged, searched, created, edited, deleted), CSV import and export, groups
and their members.

Every change goes through `ContactService` (or its store's plain reads and deletions, as the REST door does),
so a contact made here is checked and normalised exactly as one made by `addContact.do` or the REST API. Every
read names the signed-in account: another account's contact or group is "not found", like an unknown one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from martinet.api.console.context import PREFIX, Ctx, PageHost
from martinet.api.console.refusals import labelled
from martinet.domain.contacts import ContactData, ContactError, format_birth_date, split_groups
from martinet.services.contacts import ImportReport, contact_data, normalise_mobile
from martinet.store.contacts import ContactRow, GroupExists, GroupRow, MobileTaken

PAGE = 50
#: Lines of an import report shown on the page (the counts cover them all).
REPORT_LINES = 500
#: Field names of the service's refusals → the label of the console's field.
_LABELS = {
    "mobile": "Mobile",
    "nom": "Last name",
    "prenom": "First name",
    "societe": "Company",
    "date": "Birth date",
    "other": "Notes",
    "groupes": "Groups",
    "fields": "Other fields",
    "name": "Name",
    "group": "Group",
    "file": "File",
    "line": "Line",
}
_CONTACT_FIELDS = ("mobile", "last_name", "first_name", "company", "birth_date", "other", "groups")


def problem_text(ctx: Ctx, exc: ContactError) -> str:
    """A refusal of the address book in the account's language, naming the console's field."""
    return labelled(ctx, _LABELS.get(exc.name, exc.name), exc.problem)


def routes(door: PageHost) -> list[Route]:
    # --- Contacts ---

    async def contacts(ctx: Ctx) -> Response:
        return await _contacts_page(door, ctx, {}, None)

    async def contact_create(ctx: Ctx) -> Response:
        form = ctx.form
        try:
            row, created = await ctx.services.contacts.add(ctx.me.id, _data(form, for_update=False))
        except ContactError as exc:
            return await _contacts_page(door, ctx, form, problem_text(ctx, exc), 422)
        return RedirectResponse(f"{PREFIX}/contacts/{row.id}?note={'created' if created else 'merged'}", 303)

    async def contact_page(ctx: Ctx) -> Response:
        row = await _contact(ctx)
        if row is None:
            return door.error(ctx, 404, "No such contact.")
        if ctx.request.method == "GET":
            return _contact_form(door, ctx, row, _values(row), None)
        if ctx.form.get("action") == "delete":
            await ctx.services.contacts.store.delete(ctx.me.id, row.id)
            return RedirectResponse(f"{PREFIX}/contacts?note=deleted", 303)
        form = ctx.form
        try:
            updated = await ctx.services.contacts.update(ctx.me.id, row.id, _data(form, for_update=True))
        except ContactError as exc:
            return _contact_form(door, ctx, row, form, problem_text(ctx, exc), 422)
        except MobileTaken:
            return _contact_form(door, ctx, row, form, ctx.t("Mobile: another contact has this mobile"), 422)
        if updated is None:
            return door.error(ctx, 404, "No such contact.")
        return RedirectResponse(f"{PREFIX}/contacts/{row.id}?note=saved", 303)

    async def contact_import(ctx: Ctx) -> Response:
        data = ctx.files.get("file")
        group = ctx.form.get("group", "").strip() or None
        if not data:
            problem = ctx.t("File: choose a CSV file")
            return await _contacts_page(door, ctx, {}, problem, 422)
        try:
            report = await ctx.services.contacts.import_csv(ctx.me.id, data, group)
        except ContactError as exc:
            return await _contacts_page(door, ctx, {}, problem_text(ctx, exc), 422)
        return door.render(ctx, "contacts_import.html", _report_values(ctx, report, group))

    async def contact_export(ctx: Ctx) -> Response:
        group = ctx.request.query_params.get("group") or None
        return StreamingResponse(
            ctx.services.contacts.export_csv(ctx.me.id, group),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="contacts.csv"'},
        )

    # --- Groups ---

    async def groups(ctx: Ctx) -> Response:
        problem, status = None, 200
        if ctx.request.method == "POST":
            action, form = ctx.form.get("action"), ctx.form
            service = ctx.services.contacts
            try:
                if action == "create":
                    await service.create_group(ctx.me.id, form.get("name", ""))
                    return RedirectResponse(f"{PREFIX}/groups?note=created", 303)
                group = await _group(ctx, form.get("group"))
                if group is None:
                    return door.error(ctx, 404, "No such group.")
                if action == "delete":
                    await service.store.delete_group(ctx.me.id, group.id)
                    return RedirectResponse(f"{PREFIX}/groups?note=deleted", 303)
                await service.rename_group(ctx.me.id, group.id, form.get("name", ""))
                return RedirectResponse(f"{PREFIX}/groups?note=saved", 303)
            except ContactError as exc:
                problem, status = problem_text(ctx, exc), 422
            except GroupExists:
                problem, status = ctx.t("Name: the account has a group of this name"), 422
        search, offset = _searched(ctx)
        rows = await ctx.services.contacts.store.groups(ctx.me.id, search=search or None, offset=offset, limit=PAGE + 1)
        values = {
            **_listing(rows, search, offset),
            "problem": problem,
            "note": _note(ctx),
            "form": ctx.form if problem else {},
        }
        return door.render(ctx, "groups.html", values, status)

    async def group_page(ctx: Ctx) -> Response:
        group = await _group(ctx, ctx.request.path_params["group_id"])
        if group is None:
            return door.error(ctx, 404, "No such group.")
        problem = None
        if ctx.request.method == "POST":
            store = ctx.services.contacts.store
            if ctx.form.get("action") == "remove":
                contact_id = _int(ctx.form.get("contact"), -1)
                changed = await store.change_members(ctx.me.id, group.id, remove=[contact_id])
                if changed is None or changed[1]:
                    return door.error(ctx, 404, "No such contact.")
                return RedirectResponse(f"{PREFIX}/groups/{group.id}?note=removed", 303)
            try:
                ids = await _contact_ids(ctx, ctx.form.get("mobiles", ""))
            except ContactError as exc:
                problem = problem_text(ctx, exc)
            else:
                changed = await store.change_members(ctx.me.id, group.id, add=ids)
                if changed is None:
                    return door.error(ctx, 404, "No such group.")
                return RedirectResponse(f"{PREFIX}/groups/{group.id}?note=added", 303)
            group = await _group(ctx, str(group.id)) or group
        search, offset = _searched(ctx)
        rows = await ctx.services.contacts.store.page(
            ctx.me.id, search=search or None, group=group.name, after=0, offset=offset, limit=PAGE + 1
        )
        values = {
            "group": group,
            **_listing(rows, search, offset),
            "problem": problem,
            "note": _note(ctx),
            "mobiles": ctx.form.get("mobiles", "") if problem else "",
            "export": urlencode({"group": group.name}),
        }
        return door.render(ctx, "group.html", values, 422 if problem else 200)

    page = door.page
    return [
        Route(PREFIX + "/contacts", page(contacts)),
        Route(PREFIX + "/contacts", page(contact_create), methods=["POST"]),
        Route(PREFIX + "/contacts.csv", page(contact_export)),
        Route(PREFIX + "/contacts/import", page(contact_import), methods=["POST"]),
        Route(PREFIX + "/contacts/{contact_id}", page(contact_page), methods=["GET", "POST"]),
        Route(PREFIX + "/groups", page(groups), methods=["GET", "POST"]),
        Route(PREFIX + "/groups/{group_id}", page(group_page), methods=["GET", "POST"]),
    ]


# --- Helpers ---


async def _contacts_page(
    door: PageHost, ctx: Ctx, form: dict[str, str], problem: str | None, status: int = 200
) -> Response:
    search, offset = _searched(ctx)
    store = ctx.services.contacts.store
    rows = await store.page(ctx.me.id, search=search or None, group=None, after=0, offset=offset, limit=PAGE + 1)
    known_groups = await store.groups(ctx.me.id, search=None, offset=0, limit=1000)
    values = {
        **_listing(rows, search, offset),
        "form": {name: form.get(name, "") for name in _CONTACT_FIELDS},
        "groups": known_groups,
        "problem": problem,
        "note": _note(ctx),
        "birth": format_birth_date,
    }
    return door.render(ctx, "contacts.html", values, status)


def _contact_form(
    door: PageHost, ctx: Ctx, row: ContactRow, form: dict[str, str], problem: str | None, status: int = 200
) -> Response:
    values = {
        "contact": row,
        "form": {name: form.get(name, "") for name in _CONTACT_FIELDS},
        "problem": problem,
        "note": _note(ctx),
    }
    return door.render(ctx, "contact.html", values, status)


def _values(row: ContactRow) -> dict[str, str]:
    return {
        "mobile": "+" + row.msisdn,
        "last_name": row.last_name,
        "first_name": row.first_name,
        "company": row.company,
        "birth_date": format_birth_date(row.birth_date),
        "other": row.other,
        "groups": "",
    }


def _data(form: dict[str, str], *, for_update: bool) -> ContactData:
    """The form as contact data: on an edit every field is said (an empty one clears it); on a creation an empty
    field is not said, so that adding a known mobile merges without clearing what it had."""

    def said(name: str) -> str | None:
        value = form.get(name, "")
        return value if for_update or value.strip() else None

    mobile = form.get("mobile", "").strip()
    if not mobile:
        raise ContactError("mobile", "missing")
    return contact_data(
        mobile=mobile,
        last_name=said("last_name"),
        first_name=said("first_name"),
        company=said("company"),
        birth_date=said("birth_date"),
        other=said("other"),
        groups=split_groups(form.get("groups"), "groupes"),
    )


async def _contact(ctx: Ctx) -> ContactRow | None:
    contact_id = _int(ctx.request.path_params["contact_id"], -1)
    if contact_id < 0:
        return None
    row: ContactRow | None = await ctx.services.contacts.store.get(ctx.me.id, contact_id)
    return row


async def _group(ctx: Ctx, raw: str | None) -> GroupRow | None:
    group_id = _int(raw, -1)
    if group_id < 0:
        return None
    row: GroupRow | None = await ctx.services.contacts.store.group(ctx.me.id, group_id=group_id)
    return row


async def _contact_ids(ctx: Ctx, raw: str) -> list[int]:
    """The contacts of the account with the mobiles given (one per line or separated by commas)."""
    entries = [e.strip() for e in raw.replace(";", ",").replace("\n", ",").split(",") if e.strip()]
    if not entries:
        raise ContactError("mobile", "give the mobiles of contacts, one per line")
    if len(entries) > 1000:
        raise ContactError("mobile", "at most 1000 at a time")
    msisdns = [normalise_mobile(entry).msisdn for entry in entries]
    found = await ctx.services.contacts.store.by_msisdn(ctx.me.id, msisdns)
    missing = [m for m in msisdns if m not in found]
    if missing:
        raise ContactError("mobile", ctx.t("no contact has the mobile %s", "+" + missing[0]))
    return [found[m].id for m in dict.fromkeys(msisdns)]


def _report_values(ctx: Ctx, report: ImportReport, group: str | None) -> dict[str, Any]:
    lines = []
    for line in report.lines[:REPORT_LINES]:
        reason = None
        if line.reason is not None:
            name, _, problem = line.reason.partition(": ")
            reason = problem_text(ctx, ContactError(name, problem)) if problem else ctx.t(line.reason)
        lines.append({"line": line.line, "outcome": line.outcome, "mobile": line.mobile, "reason": reason})
    return {
        "counts": {outcome: report.count(outcome) for outcome in ("created", "merged", "refused")},
        "lines": lines,
        "total": len(report.lines),
        "shown": REPORT_LINES,
        "group": group,
    }


def _searched(ctx: Ctx) -> tuple[str, int]:
    """A list page's search text (at most 100 characters) and paging offset, from its query string."""
    query = ctx.request.query_params
    return (query.get("search") or "").strip()[:100], _int(query.get("offset"), 0)


def _listing(rows: Sequence[Any], search: str, offset: int) -> dict[str, Any]:
    """What each searchable list shows: a page of `rows` (fetched one beyond it to know whether more follow), its
    place, and the search its paging links keep."""
    return {
        "rows": rows[:PAGE],
        "more": len(rows) > PAGE,
        "offset": offset,
        "page": PAGE,
        "search": search,
        "query": urlencode({"search": search} if search else {}),
    }


def _note(ctx: Ctx) -> str | None:
    notes = {
        "created": "Created.",
        "merged": "This mobile was already a contact: the contact is updated.",
        "saved": "Saved.",
        "deleted": "Deleted.",
        "added": "Added to the group.",
        "removed": "Removed from the group.",
    }
    note = notes.get(ctx.request.query_params.get("note") or "")
    return ctx.t(note) if note else None


def _int(raw: str | None, default: int) -> int:
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        return default
    return int(raw)
