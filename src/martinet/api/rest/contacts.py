"""The address book on the REST door: `/sms/v1/contacts` and `/sms/v1/groups`, in the style of `/sms/v1/messages`
(pages, problem JSON, the OpenAPI document), each a thin face on `services.contacts`.

Paths:
- `POST /sms/v1/contacts` (201 created, 200 merged into the contact with that mobile), `GET /sms/v1/contacts`
  (`search` in names, company and mobile; `group`), `GET|PATCH|DELETE /sms/v1/contacts/{contactId}`;
- `POST /sms/v1/contacts:import` (a CSV body; `group`), `GET /sms/v1/contacts:export` (CSV; `group`);
- `POST /sms/v1/groups`, `GET /sms/v1/groups` (`search`), `GET|PATCH|DELETE /sms/v1/groups/{groupId}`,
  `GET|POST /sms/v1/groups/{groupId}/members`, `DELETE /sms/v1/groups/{groupId}/members/{contactId}`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from martinet.api.rest.contact_models import (
    ContactIn,
    ContactOut,
    ContactPage,
    ContactPatch,
    GroupIn,
    GroupOut,
    GroupPage,
    ImportOut,
    MembersIn,
    MembersOut,
)
from martinet.api.rest.handlers import Answer, Handler, RestRequest, RestServices, _json, _page, _paging
from martinet.api.rest.problems import Problem, invalid
from martinet.domain.contacts import ContactData, ContactError
from martinet.domain.csv_records import charset_of
from martinet.domain.resources import iso_time
from martinet.domain.valueclass import valueclass
from martinet.services.contacts import ContactService, contact_data
from martinet.store.contacts import ContactRow, GroupExists, GroupRow, MobileTaken

CONTACTS = "/sms/v1/contacts"
GROUPS = "/sms/v1/groups"
#: Request bodies that are not JSON: the import's CSV file.
CSV_BODY_PATHS = frozenset({CONTACTS + ":import"})
#: REST field names of the service's (smsmode's) parameter names.
_FIELDS = {
    "mobile": "mobile",
    "nom": "lastName",
    "prenom": "firstName",
    "societe": "company",
    "date": "birthDate",
    "other": "other",
    "groupes": "groups",
    "fields": "fields",
}
_ID = re.compile(r"([cg])([0-9]{1,18})")
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

ContactHandler = Callable[[ContactService, RestRequest, dict[str, int]], Awaitable[Answer]]


@valueclass
class Route:
    methods: dict[str, ContactHandler]
    ids: dict[str, int]


def contact_resource(row: ContactRow) -> dict[str, object]:
    return {
        "contactId": f"c{row.id}",
        "mobile": "+" + row.msisdn,
        "country": row.country,
        "lastName": row.last_name,
        "firstName": row.first_name,
        "company": row.company,
        "birthDate": row.birth_date,
        "other": row.other,
        "fields": row.fields,
        "groups": list(row.groups),
        "createdAt": iso_time(row.created_at),
        "updatedAt": iso_time(row.updated_at),
        "href": f"{CONTACTS}/c{row.id}",
    }


def group_resource(row: GroupRow) -> dict[str, object]:
    return {
        "groupId": f"g{row.id}",
        "name": row.name,
        "memberCount": row.members,
        "createdAt": iso_time(row.created_at),
        "href": f"{GROUPS}/g{row.id}",
    }


# --- Contacts ---


async def create_contact(service: ContactService, request: RestRequest, _ids: dict[str, int]) -> Answer:
    body = _validate(ContactIn, request.body)
    row, created = await _contact_errors(service.add(request.caller.account.id, _data(body.mobile, body), "mobile"))
    headers = ((b"location", f"{CONTACTS}/c{row.id}".encode()),)
    return Answer(201 if created else 200, contact_resource(row), headers)


async def list_contacts(service: ContactService, request: RestRequest, _ids: dict[str, int]) -> Answer:
    page, size = _paging(request.query)
    rows = await service.store.page(
        request.caller.account.id,
        search=_search(request.query),
        group=request.query.get("group") or None,
        after=0,
        offset=(page - 1) * size,
        limit=size + 1,
    )
    return Answer(200, _page([contact_resource(r) for r in rows[:size]], len(rows) > size, request, page, size))


async def get_contact(service: ContactService, request: RestRequest, ids: dict[str, int]) -> Answer:
    row = await service.store.get(request.caller.account.id, ids["c"])
    if row is None:
        raise Problem("NOT_FOUND", "no such contact")
    return Answer(200, contact_resource(row))


async def update_contact(service: ContactService, request: RestRequest, ids: dict[str, int]) -> Answer:
    body = _validate(ContactPatch, request.body)
    try:
        row = await _contact_errors(service.update(request.caller.account.id, ids["c"], _data(body.mobile, body)))
    except MobileTaken:
        raise Problem("CONTACT_EXISTS", "another contact has this mobile", "mobile") from None
    if row is None:
        raise Problem("NOT_FOUND", "no such contact")
    return Answer(200, contact_resource(row))


async def delete_contact(service: ContactService, request: RestRequest, ids: dict[str, int]) -> Answer:
    if not await service.store.delete(request.caller.account.id, ids["c"]):
        raise Problem("NOT_FOUND", "no such contact")
    return Answer(204, b"")


async def import_contacts(service: ContactService, request: RestRequest, _ids: dict[str, int]) -> Answer:
    group = request.query.get("group") or None
    # The charset the body declares, if any (`text/csv; charset=windows-1250`); without one the reader guesses.
    charset = charset_of(request.headers.get(b"content-type", b"").decode("latin-1"))
    report = await _contact_errors(service.import_csv(request.caller.account.id, request.body, group, charset))
    return Answer(
        200,
        {
            "created": report.count("created"),
            "merged": report.count("merged"),
            "refused": report.count("refused"),
            "lines": [
                {"line": r.line, "outcome": r.outcome, "mobile": r.mobile and "+" + r.mobile, "reason": r.reason}
                for r in report.lines
            ],
        },
    )


async def export_contacts(service: ContactService, request: RestRequest, _ids: dict[str, int]) -> Answer:
    group = request.query.get("group") or None
    return Answer(
        200,
        service.export_csv(request.caller.account.id, group),  # streamed: an address book of 400,000 is 50 MB
        (
            (b"content-type", b"text/csv; charset=utf-8"),
            (b"content-disposition", b'attachment; filename="contacts.csv"'),
        ),
    )


# --- Groups ---


async def create_group(service: ContactService, request: RestRequest, _ids: dict[str, int]) -> Answer:
    body = _validate(GroupIn, request.body)
    try:
        row = await _contact_errors(service.create_group(request.caller.account.id, body.name))
    except GroupExists:
        raise Problem("GROUP_EXISTS", "the account has a group of this name", "name") from None
    return Answer(201, group_resource(row), ((b"location", f"{GROUPS}/g{row.id}".encode()),))


async def list_groups(service: ContactService, request: RestRequest, _ids: dict[str, int]) -> Answer:
    page, size = _paging(request.query)
    rows = await service.store.groups(
        request.caller.account.id, search=_search(request.query), offset=(page - 1) * size, limit=size + 1
    )
    return Answer(200, _page([group_resource(r) for r in rows[:size]], len(rows) > size, request, page, size))


async def get_group(service: ContactService, request: RestRequest, ids: dict[str, int]) -> Answer:
    return Answer(200, group_resource(await _group(service, request, ids["g"])))


async def rename_group(service: ContactService, request: RestRequest, ids: dict[str, int]) -> Answer:
    body = _validate(GroupIn, request.body)
    try:
        row = await _contact_errors(service.rename_group(request.caller.account.id, ids["g"], body.name))
    except GroupExists:
        raise Problem("GROUP_EXISTS", "the account has a group of this name", "name") from None
    if row is None:
        raise Problem("NOT_FOUND", "no such group")
    return Answer(200, group_resource(row))


async def delete_group(service: ContactService, request: RestRequest, ids: dict[str, int]) -> Answer:
    if not await service.store.delete_group(request.caller.account.id, ids["g"]):
        raise Problem("NOT_FOUND", "no such group")
    return Answer(204, b"")


async def list_members(service: ContactService, request: RestRequest, ids: dict[str, int]) -> Answer:
    group = await _group(service, request, ids["g"])
    page, size = _paging(request.query)
    rows = await service.store.page(
        request.caller.account.id,
        search=_search(request.query),
        group=group.name,
        after=0,
        offset=(page - 1) * size,
        limit=size + 1,
    )
    return Answer(200, _page([contact_resource(r) for r in rows[:size]], len(rows) > size, request, page, size))


async def add_members(service: ContactService, request: RestRequest, ids: dict[str, int]) -> Answer:
    body = _validate(MembersIn, request.body)
    contact_ids = [_contact_id(raw) for raw in body.contactIds]
    changed = await service.store.change_members(request.caller.account.id, ids["g"], add=contact_ids)
    if changed is None:
        raise Problem("NOT_FOUND", "no such group")
    added, unknown = changed
    if unknown:
        raise invalid("contactIds", f"no such contact c{unknown[0]}")
    return Answer(200, {"added": added, "group": group_resource(await _group(service, request, ids["g"]))})


async def remove_member(service: ContactService, request: RestRequest, ids: dict[str, int]) -> Answer:
    changed = await service.store.change_members(request.caller.account.id, ids["g"], remove=[ids["c"]])
    if changed is None:
        raise Problem("NOT_FOUND", "no such group")
    if changed[1]:
        raise Problem("NOT_FOUND", "no such contact")
    return Answer(204, b"")


# --- Routing ---

_ROUTES: list[tuple[re.Pattern[str], dict[str, ContactHandler]]] = [
    (re.compile(re.escape(CONTACTS)), {"GET": list_contacts, "POST": create_contact}),
    (re.compile(re.escape(CONTACTS + ":import")), {"POST": import_contacts}),
    (re.compile(re.escape(CONTACTS + ":export")), {"GET": export_contacts}),
    (
        re.compile(re.escape(CONTACTS) + r"/(?P<c>[^/]+)"),
        {"GET": get_contact, "PATCH": update_contact, "DELETE": delete_contact},
    ),
    (re.compile(re.escape(GROUPS)), {"GET": list_groups, "POST": create_group}),
    (
        re.compile(re.escape(GROUPS) + r"/(?P<g>[^/]+)"),
        {"GET": get_group, "PATCH": rename_group, "DELETE": delete_group},
    ),
    (re.compile(re.escape(GROUPS) + r"/(?P<g>[^/]+)/members"), {"GET": list_members, "POST": add_members}),
    (re.compile(re.escape(GROUPS) + r"/(?P<g>[^/]+)/members/(?P<c>[^/]+)"), {"DELETE": remove_member}),
]


def handlers(path: str) -> dict[str, Handler] | None:
    """The door's handlers for `path` when it is one of the address book's (see `route`)."""
    found = route(path)
    if found is None:
        return None

    def bind(handler: ContactHandler, ids: dict[str, int]) -> Handler:
        async def call(services: RestServices, request: RestRequest) -> Answer:
            if services.contacts is None:
                raise Problem("NOT_FOUND", "no address book here")
            return await handler(services.contacts, request, ids)

        return call

    return {method: bind(handler, found.ids) for method, handler in found.methods.items()}


def route(path: str) -> Route | None:
    """The address book's handlers for `path` and the IDs it names; None when the path is not one of its own.
    An ID that is not one (`c12`, `g3`) is a 404, as an unknown one is."""
    for pattern, methods in _ROUTES:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        ids: dict[str, int] = {}
        for kind, raw in match.groupdict().items():
            found = _ID.fullmatch(raw)
            if found is None or found.group(1) != kind:
                raise Problem("NOT_FOUND", "no such contact" if kind == "c" else "no such group")
            ids[kind] = int(found.group(2))
        return Route(methods, ids)
    return None


# --- Helpers ---


def _validate(model: type[M], raw: bytes) -> M:
    document = _json(raw)
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        location = ".".join(str(part) for part in error["loc"]) or "body"
        raise invalid(location, str(error["msg"]).removeprefix("Value error, ")) from None


def _data(mobile: str | None, body: ContactIn | ContactPatch) -> ContactData:
    try:
        return contact_data(
            mobile=mobile or "",
            last_name=body.lastName,
            first_name=body.firstName,
            company=body.company,
            birth_date=None if body.birthDate is None else body.birthDate.isoformat(),
            other=body.other,
            fields=body.fields,
            groups=body.groups or (),
        )
    except ContactError as exc:
        raise invalid(_FIELDS.get(exc.name, exc.name), exc.problem) from None


async def _contact_errors(call: Awaitable[T]) -> T:
    """The call's result; a ContactError as the problem naming the REST field."""
    try:
        return await call
    except ContactError as exc:
        raise invalid(_FIELDS.get(exc.name, exc.name), exc.problem) from None


async def _group(service: ContactService, request: RestRequest, group_id: int) -> GroupRow:
    row = await service.store.group(request.caller.account.id, group_id=group_id)
    if row is None:
        raise Problem("NOT_FOUND", "no such group")
    return row


def _contact_id(raw: str) -> int:
    found = _ID.fullmatch(raw)
    if found is None or found.group(1) != "c":
        raise invalid("contactIds", f"{raw!r} is not a contact ID (c123)")
    return int(found.group(2))


def _search(query: dict[str, str]) -> str | None:
    search = (query.get("search") or "").strip()
    if len(search) > 100:
        raise invalid("search", "at most 100 characters")
    return search or None


#: Output models of the OpenAPI document.
OUTPUTS = (ContactOut, ContactPage, GroupOut, GroupPage, ImportOut, MembersOut)
INPUTS = (ContactIn, ContactPatch, GroupIn, MembersIn)
