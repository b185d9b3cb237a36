"""The address book's paths in the OpenAPI document (`martinet.api.rest.openapi` merges them in); written with
the document's own helpers, which it hands over, so the paths here look like its others."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from martinet.api.rest import contact_models as models

Json = Callable[[dict[str, Any], str], dict[str, Any]]
Ref = Callable[[type[Any]], dict[str, str]]
Errors = Callable[..., dict[str, Any]]
Query = Callable[[str, dict[str, Any], str], dict[str, Any]]


def contact_paths(ref: Ref, json: Json, errors: Errors, query: Query, paging: list[dict[str, Any]]) -> dict[str, Any]:
    def body(model: type[Any]) -> dict[str, Any]:
        return {"required": True, "content": {"application/json": {"schema": ref(model)}}}

    def path_id(name: str, prefix: str) -> dict[str, Any]:
        schema = {"type": "string", "pattern": f"^{prefix}[0-9]{{1,18}}$"}
        return {"name": name, "in": "path", "required": True, "schema": schema}

    pages = [p for p in paging if p["name"] in ("page", "pageSize")]
    search = query("search", {"type": "string", "maxLength": 100}, "in names and company, or digits of the mobile")
    group = query("group", {"type": "string", "maxLength": 100}, "only the contacts of this group")
    no_content = {"204": {"description": "done"}}
    return {
        "/sms/v1/contacts": {
            "post": {
                "operationId": "createContact",
                "summary": "Add a contact (merged into the account's contact with the same mobile, if any)",
                "requestBody": body(models.ContactIn),
                "responses": {
                    "201": json(ref(models.ContactOut), "created"),
                    "200": json(ref(models.ContactOut), "merged into the contact with this mobile"),
                    **errors(400, 413, 415, 422),
                },
            },
            "get": {
                "operationId": "listContacts",
                "summary": "The address book, by creation",
                "parameters": [*pages, search, group],
                "responses": {"200": json(ref(models.ContactPage), "a page of contacts"), **errors(422)},
            },
        },
        "/sms/v1/contacts:import": {
            "post": {
                "operationId": "importContacts",
                "summary": "Import a CSV file (header first; ; or , separated; UTF-8 or ISO-8859-15)",
                "parameters": [query("group", {"type": "string", "maxLength": 100}, "also add each to this group")],
                "requestBody": {
                    "required": True,
                    "content": {"text/csv": {"schema": {"type": "string"}}},
                },
                "responses": {
                    "200": json(ref(models.ImportOut), "what became of each line"),
                    **errors(413, 422),
                },
            },
        },
        "/sms/v1/contacts:export": {
            "get": {
                "operationId": "exportContacts",
                "summary": "The address book as a CSV file (UTF-8 with a byte-order mark, ; separated)",
                "parameters": [group],
                "responses": {
                    "200": {"description": "the file", "content": {"text/csv": {"schema": {"type": "string"}}}},
                    **errors(),
                },
            },
        },
        "/sms/v1/contacts/{contactId}": {
            "parameters": [path_id("contactId", "c")],
            "get": {
                "operationId": "getContact",
                "summary": "One contact",
                "responses": {"200": json(ref(models.ContactOut), "the contact"), **errors(404)},
            },
            "patch": {
                "operationId": "updateContact",
                "summary": "Change a contact (fields given only; groups given are added)",
                "requestBody": body(models.ContactPatch),
                "responses": {
                    "200": json(ref(models.ContactOut), "the contact"),
                    **errors(400, 404, 409, 413, 415, 422),
                },
            },
            "delete": {
                "operationId": "deleteContact",
                "summary": "Delete a contact",
                "responses": {**no_content, **errors(404)},
            },
        },
        "/sms/v1/groups": {
            "post": {
                "operationId": "createGroup",
                "summary": "Create a group (names are unique in the account)",
                "requestBody": body(models.GroupIn),
                "responses": {"201": json(ref(models.GroupOut), "created"), **errors(400, 409, 413, 415, 422)},
            },
            "get": {
                "operationId": "listGroups",
                "summary": "The account's groups, by creation",
                "parameters": [*pages, query("search", {"type": "string", "maxLength": 100}, "in the name")],
                "responses": {"200": json(ref(models.GroupPage), "a page of groups"), **errors(422)},
            },
        },
        "/sms/v1/groups/{groupId}": {
            "parameters": [path_id("groupId", "g")],
            "get": {
                "operationId": "getGroup",
                "summary": "One group",
                "responses": {"200": json(ref(models.GroupOut), "the group"), **errors(404)},
            },
            "patch": {
                "operationId": "renameGroup",
                "summary": "Rename a group",
                "requestBody": body(models.GroupIn),
                "responses": {"200": json(ref(models.GroupOut), "the group"), **errors(400, 404, 409, 413, 415, 422)},
            },
            "delete": {
                "operationId": "deleteGroup",
                "summary": "Delete a group (its contacts stay in the address book)",
                "responses": {**no_content, **errors(404)},
            },
        },
        "/sms/v1/groups/{groupId}/members": {
            "parameters": [path_id("groupId", "g")],
            "get": {
                "operationId": "listGroupMembers",
                "summary": "The group's contacts",
                "parameters": [*pages, search],
                "responses": {"200": json(ref(models.ContactPage), "a page of contacts"), **errors(404, 422)},
            },
            "post": {
                "operationId": "addGroupMembers",
                "summary": "Add contacts to the group",
                "requestBody": body(models.MembersIn),
                "responses": {
                    "200": json(ref(models.MembersOut), "added"),
                    **errors(400, 404, 413, 415, 422),
                },
            },
        },
        "/sms/v1/groups/{groupId}/members/{contactId}": {
            "parameters": [path_id("groupId", "g"), path_id("contactId", "c")],
            "delete": {
                "operationId": "removeGroupMember",
                "summary": "Remove a contact from the group (it stays in the address book)",
                "responses": {**no_content, **errors(404)},
            },
        },
    }
