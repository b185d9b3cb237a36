"""The JSON shapes of the address book on the REST door (`/sms/v1/contacts`, `/sms/v1/groups`): request bodies
validated with them, answers described by them in the OpenAPI document."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

GroupName = Annotated[str, Field(min_length=1, max_length=100)]


class _In(BaseModel):
    # A mobile number a spreadsheet exported as a JSON number is read as its digits, as in a send.
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class ContactIn(_In):
    mobile: str = Field(min_length=1, max_length=32, examples=["+33612345678"])
    lastName: str | None = Field(default=None, max_length=100)
    firstName: str | None = Field(default=None, max_length=100)
    company: str | None = Field(default=None, max_length=100)
    birthDate: date | None = None
    other: str | None = Field(default=None, max_length=1000)
    fields: dict[str, Annotated[str, Field(max_length=255)]] | None = Field(
        default=None, max_length=20, description="free fields, named as templates name them ({code})"
    )
    groups: list[GroupName] | None = Field(default=None, max_length=100, description="created when missing")


class ContactPatch(_In):
    mobile: str | None = Field(default=None, min_length=1, max_length=32)
    lastName: str | None = Field(default=None, max_length=100)
    firstName: str | None = Field(default=None, max_length=100)
    company: str | None = Field(default=None, max_length=100)
    birthDate: date | None = None
    other: str | None = Field(default=None, max_length=1000)
    fields: dict[str, Annotated[str, Field(max_length=255)]] | None = Field(default=None, max_length=20)
    groups: list[GroupName] | None = Field(default=None, max_length=100, description="groups to add it to")


class GroupIn(_In):
    name: GroupName


class MembersIn(_In):
    contactIds: list[Annotated[str, Field(min_length=1, max_length=24)]] = Field(min_length=1, max_length=10_000)


# --- Answers ---


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactOut(_Out):
    contactId: str
    mobile: str
    country: str | None
    lastName: str
    firstName: str
    company: str
    birthDate: str | None
    other: str
    fields: dict[str, str]
    groups: list[str]
    createdAt: str
    updatedAt: str
    href: str


class ContactPage(_Out):
    items: list[ContactOut]
    page: int
    pageSize: int
    hasMore: bool
    next: str | None = None


class GroupOut(_Out):
    groupId: str
    name: str
    memberCount: int
    createdAt: str
    href: str


class GroupPage(_Out):
    items: list[GroupOut]
    page: int
    pageSize: int
    hasMore: bool
    next: str | None = None


class ImportLineOut(_Out):
    line: int
    outcome: Literal["created", "merged", "refused"]
    mobile: str | None
    reason: str | None


class ImportOut(_Out):
    created: int
    merged: int
    refused: int
    lines: list[ImportLineOut]


class MembersOut(_Out):
    added: int
    group: GroupOut
