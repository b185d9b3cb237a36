"""The address book in the SDK: `client.contacts` (REST `/sms/v1/contacts` and `/sms/v1/groups`), and the smsmode
calls `addContact.do` and `sendSMSBatch.do` that `client.legacy` offers.

As in `martinet.client.rest`, each call is described once by a module-level function (the `Request`, then how
to read the answer), so the blocking and asyncio clients differ only by `await`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

from martinet.client._http import AsyncHTTP, Repeat, Request, SyncHTTP
from martinet.client.models import Page, loads

CONTACTS = "/sms/v1/contacts"
GROUPS = "/sms/v1/groups"
MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class Contact:
    contact_id: str
    mobile: str
    country: str | None
    last_name: str
    first_name: str
    company: str
    birth_date: str | None
    other: str
    fields: dict[str, str]
    groups: tuple[str, ...]
    created_at: str
    updated_at: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Contact:
        return cls(
            str(data["contactId"]),
            str(data["mobile"]),
            data.get("country"),
            str(data.get("lastName", "")),
            str(data.get("firstName", "")),
            str(data.get("company", "")),
            data.get("birthDate"),
            str(data.get("other", "")),
            dict(data.get("fields") or {}),
            tuple(data.get("groups") or ()),
            str(data.get("createdAt", "")),
            str(data.get("updatedAt", "")),
        )


@dataclass(frozen=True, slots=True)
class Group:
    group_id: str
    name: str
    member_count: int
    created_at: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Group:
        return cls(str(data["groupId"]), str(data["name"]), int(data["memberCount"]), str(data.get("createdAt", "")))


@dataclass(frozen=True, slots=True)
class ImportLine:
    line: int
    outcome: str  # "created", "merged" or "refused"
    mobile: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class ImportReport:
    created: int
    merged: int
    refused: int
    lines: tuple[ImportLine, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImportReport:
        lines = tuple(
            ImportLine(int(item["line"]), str(item["outcome"]), item.get("mobile"), item.get("reason"))
            for item in data.get("lines") or ()
        )
        return cls(int(data["created"]), int(data["merged"]), int(data["refused"]), lines)


def _id(value: str) -> str:
    if not value:
        raise ValueError("an empty id names no resource")
    return quote(value, safe="")


def _contact_body(
    mobile: str | None,
    last_name: str | None,
    first_name: str | None,
    company: str | None,
    birth_date: date | None,
    other: str | None,
    fields: Mapping[str, str] | None,
    groups: Sequence[str] | None,
) -> dict[str, Any]:
    body = {
        "mobile": mobile,
        "lastName": last_name,
        "firstName": first_name,
        "company": company,
        "birthDate": None if birth_date is None else birth_date.isoformat(),
        "other": other,
        "fields": None if fields is None else dict(fields),
        "groups": None if groups is None else list(groups),
    }
    return {key: value for key, value in body.items() if value is not None}


def _list(path: str, page_size: int, **filters: str | None) -> Request:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
    params = {"page": "1", "pageSize": str(page_size)}
    params.update({key: value for key, value in filters.items() if value is not None})
    return Request("GET", path, params=params)


def _next(request: Request, page: Page[Any]) -> Request | None:
    if not page.items:
        return None
    if page.next:
        return Request("GET", page.next)
    return None


def _import_request(csv_data: bytes, group: str | None) -> Request:
    # A repeated import merges what the first one wrote: safe to repeat.
    params = {"group": group} if group else None
    return Request("POST", f"{CONTACTS}:import", params=params, content=csv_data, headers={"Content-Type": "text/csv"})


def multipart(field: str, filename: str, data: bytes, content_type: str = "text/csv") -> tuple[bytes, str]:
    """A `multipart/form-data` body holding one file, and its Content-Type (with the boundary)."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def batch_request(api_key: str, csv_data: bytes, params: Mapping[str, str]) -> Request:
    """`sendSMSBatch.do`: the key and parameters in the query string, the file as the part `fichier`."""
    body, content_type = multipart("fichier", "campaign.csv", csv_data)
    query = urlencode([("accessToken", api_key), *params.items()])
    # Not idempotent: repeating an upload the gateway may have received could send the campaign twice.
    return Request(
        "POST",
        f"/http/1.6/sendSMSBatch.do?{query}",
        content=body,
        headers={"Content-Type": content_type, "Accept": "text/plain"},
        repeat=Repeat.UNSENT_ONLY,
    )


class ContactsClient:
    """`client.contacts` of a `Client`: the address book."""

    def __init__(self, http: SyncHTTP) -> None:
        self._http = http

    def create(
        self,
        mobile: str,
        *,
        last_name: str | None = None,
        first_name: str | None = None,
        company: str | None = None,
        birth_date: date | None = None,
        other: str | None = None,
        fields: Mapping[str, str] | None = None,
        groups: Sequence[str] | None = None,
    ) -> Contact:
        """Add a contact, or merge these fields into the account's contact with the same mobile."""
        body = _contact_body(mobile, last_name, first_name, company, birth_date, other, fields, groups)
        return Contact.from_json(loads(self._http.send(Request("POST", CONTACTS, json=body)).content))

    def get(self, contact_id: str) -> Contact:
        return Contact.from_json(loads(self._http.send(Request("GET", f"{CONTACTS}/{_id(contact_id)}")).content))

    def update(
        self,
        contact_id: str,
        *,
        mobile: str | None = None,
        last_name: str | None = None,
        first_name: str | None = None,
        company: str | None = None,
        birth_date: date | None = None,
        other: str | None = None,
        fields: Mapping[str, str] | None = None,
        groups: Sequence[str] | None = None,
    ) -> Contact:
        body = _contact_body(mobile, last_name, first_name, company, birth_date, other, fields, groups)
        request = Request("PATCH", f"{CONTACTS}/{_id(contact_id)}", json=body)
        return Contact.from_json(loads(self._http.send(request).content))

    def delete(self, contact_id: str) -> None:
        self._http.send(Request("DELETE", f"{CONTACTS}/{_id(contact_id)}"))

    def list(
        self, *, search: str | None = None, group: str | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[Contact]:
        """Contacts by creation, fetched page by page as the iteration needs them."""
        return self._iterate(_list(CONTACTS, page_size, search=search, group=group), Contact.from_json)

    def import_csv(self, csv_data: bytes, *, group: str | None = None) -> ImportReport:
        return ImportReport.from_json(loads(self._http.send(_import_request(csv_data, group)).content))

    def export_csv(self, *, group: str | None = None) -> bytes:
        params = {"group": group} if group else None
        return self._http.send(Request("GET", f"{CONTACTS}:export", params=params)).content

    def create_group(self, name: str) -> Group:
        return Group.from_json(loads(self._http.send(Request("POST", GROUPS, json={"name": name})).content))

    def get_group(self, group_id: str) -> Group:
        return Group.from_json(loads(self._http.send(Request("GET", f"{GROUPS}/{_id(group_id)}")).content))

    def rename_group(self, group_id: str, name: str) -> Group:
        request = Request("PATCH", f"{GROUPS}/{_id(group_id)}", json={"name": name})
        return Group.from_json(loads(self._http.send(request).content))

    def groups(self, *, search: str | None = None, page_size: int = MAX_PAGE_SIZE) -> Iterator[Group]:
        return self._iterate(_list(GROUPS, page_size, search=search), Group.from_json)

    def delete_group(self, group_id: str) -> None:
        self._http.send(Request("DELETE", f"{GROUPS}/{_id(group_id)}"))

    def add_members(self, group_id: str, contact_ids: Sequence[str]) -> Group:
        request = Request("POST", f"{GROUPS}/{_id(group_id)}/members", json={"contactIds": list(contact_ids)})
        return Group.from_json(loads(self._http.send(request).content)["group"])

    def remove_member(self, group_id: str, contact_id: str) -> None:
        self._http.send(Request("DELETE", f"{GROUPS}/{_id(group_id)}/members/{_id(contact_id)}"))

    def _iterate(self, request: Request, item: Any) -> Iterator[Any]:
        current: Request | None = request
        while current is not None:
            page = Page.from_json(loads(self._http.send(current).content), item)
            yield from page.items
            current = _next(current, page)


class AsyncContactsClient:
    """`client.contacts` of an `AsyncClient`: see `ContactsClient`."""

    def __init__(self, http: AsyncHTTP) -> None:
        self._http = http

    async def create(
        self,
        mobile: str,
        *,
        last_name: str | None = None,
        first_name: str | None = None,
        company: str | None = None,
        birth_date: date | None = None,
        other: str | None = None,
        fields: Mapping[str, str] | None = None,
        groups: Sequence[str] | None = None,
    ) -> Contact:
        body = _contact_body(mobile, last_name, first_name, company, birth_date, other, fields, groups)
        return Contact.from_json(loads((await self._http.send(Request("POST", CONTACTS, json=body))).content))

    async def get(self, contact_id: str) -> Contact:
        response = await self._http.send(Request("GET", f"{CONTACTS}/{_id(contact_id)}"))
        return Contact.from_json(loads(response.content))

    async def update(
        self,
        contact_id: str,
        *,
        mobile: str | None = None,
        last_name: str | None = None,
        first_name: str | None = None,
        company: str | None = None,
        birth_date: date | None = None,
        other: str | None = None,
        fields: Mapping[str, str] | None = None,
        groups: Sequence[str] | None = None,
    ) -> Contact:
        body = _contact_body(mobile, last_name, first_name, company, birth_date, other, fields, groups)
        request = Request("PATCH", f"{CONTACTS}/{_id(contact_id)}", json=body)
        return Contact.from_json(loads((await self._http.send(request)).content))

    async def delete(self, contact_id: str) -> None:
        await self._http.send(Request("DELETE", f"{CONTACTS}/{_id(contact_id)}"))

    async def list(
        self, *, search: str | None = None, group: str | None = None, page_size: int = MAX_PAGE_SIZE
    ) -> AsyncIterator[Contact]:
        current: Request | None = _list(CONTACTS, page_size, search=search, group=group)
        while current is not None:
            page = Page.from_json(loads((await self._http.send(current)).content), Contact.from_json)
            for contact in page.items:
                yield contact
            current = _next(current, page)

    async def import_csv(self, csv_data: bytes, *, group: str | None = None) -> ImportReport:
        return ImportReport.from_json(loads((await self._http.send(_import_request(csv_data, group))).content))

    async def export_csv(self, *, group: str | None = None) -> bytes:
        params = {"group": group} if group else None
        return (await self._http.send(Request("GET", f"{CONTACTS}:export", params=params))).content

    async def create_group(self, name: str) -> Group:
        return Group.from_json(loads((await self._http.send(Request("POST", GROUPS, json={"name": name}))).content))

    async def get_group(self, group_id: str) -> Group:
        response = await self._http.send(Request("GET", f"{GROUPS}/{_id(group_id)}"))
        return Group.from_json(loads(response.content))

    async def rename_group(self, group_id: str, name: str) -> Group:
        request = Request("PATCH", f"{GROUPS}/{_id(group_id)}", json={"name": name})
        return Group.from_json(loads((await self._http.send(request)).content))

    async def groups(self, *, search: str | None = None, page_size: int = MAX_PAGE_SIZE) -> AsyncIterator[Group]:
        current: Request | None = _list(GROUPS, page_size, search=search)
        while current is not None:
            page = Page.from_json(loads((await self._http.send(current)).content), Group.from_json)
            for group in page.items:
                yield group
            current = _next(current, page)

    async def delete_group(self, group_id: str) -> None:
        await self._http.send(Request("DELETE", f"{GROUPS}/{_id(group_id)}"))

    async def add_members(self, group_id: str, contact_ids: Sequence[str]) -> Group:
        request = Request("POST", f"{GROUPS}/{_id(group_id)}/members", json={"contactIds": list(contact_ids)})
        return Group.from_json(loads((await self._http.send(request)).content)["group"])

    async def remove_member(self, group_id: str, contact_id: str) -> None:
        await self._http.send(Request("DELETE", f"{GROUPS}/{_id(group_id)}/members/{_id(contact_id)}"))
