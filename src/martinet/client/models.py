"""The REST resources as typed, immutable values.

Parsed by hand from the documented JSON (docs/rest-api.md) rather than validated strictly: a gateway newer than
the SDK may add fields, and an old SDK must keep working against it, so unknown fields are ignored (and kept in
`raw`) and missing optional ones become None. Amounts are `Decimal` (read from the JSON text, never through a
float) because they are money.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

T = TypeVar("T")

JSON = Mapping[str, Any]


def loads(content: bytes | str) -> Any:
    """JSON with decimals kept exact (`0.1` credit stays `Decimal("0.1")`)."""
    return json.loads(content, parse_float=Decimal)


def _map(value: Any) -> JSON:
    return value if isinstance(value, Mapping) else {}


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or value is None:
        return Decimal(0)
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return Decimal(0)


@dataclass(frozen=True, slots=True)
class Price:
    """An amount in the account's unit (`CREDIT`): what `credit.do` and the balance count."""

    amount: Decimal
    currency: str = "CREDIT"

    @classmethod
    def from_json(cls, data: Any) -> Price:
        data = _map(data)
        return cls(_decimal(data.get("amount")), str(data.get("currency") or "CREDIT"))


@dataclass(frozen=True, slots=True)
class Status:
    """Where a message is: `value` for programs (`DELIVERED`…), `code` the smsmode code for finer reasons."""

    value: str
    code: int
    delivery_date: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_json(cls, data: Any) -> Status:
        data = _map(data)
        return cls(
            str(data.get("value") or ""),
            _int(data.get("code")),
            _time(data.get("deliveryDate")),
            _time(data.get("updatedAt")),
        )

    @property
    def final(self) -> bool:
        """Whether the status can still change (a final message gets no more callbacks)."""
        return self.value in ("DELIVERED", "UNDELIVERED", "UNDELIVERABLE", "CANCELLED", "EXPIRED")


_EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


@dataclass(frozen=True, slots=True)
class Message:
    """One recipient of a send (an MT message), as `GET /sms/v1/messages/{id}` and status callbacks show it."""

    message_id: str
    sms_id: str
    accepted_at: datetime
    flow: str | None
    direction: str
    to: str
    sender: str | None
    text: str
    encoding: str | None
    part_count: int
    length: int
    status: Status
    price: Price
    ref_client: str | None
    sent_date: datetime | None
    href: str | None
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> Message:
        data = _map(data)
        body = _map(data.get("body"))
        return cls(
            message_id=str(data.get("messageId") or ""),
            sms_id=str(data.get("smsId") or ""),
            accepted_at=_time(data.get("acceptedAt")) or _EPOCH,
            flow=_str(_map(data.get("channel")).get("flow")),
            direction=str(data.get("direction") or "MT"),
            to=str(_map(data.get("recipient")).get("to") or ""),
            sender=_str(data.get("from")),
            text=str(body.get("text") or ""),
            encoding=_str(body.get("encoding")),
            part_count=_int(body.get("messagePartCount")),
            length=_int(body.get("length")),
            status=Status.from_json(data.get("status")),
            price=Price.from_json(data.get("price")),
            ref_client=_str(data.get("refClient")),
            sent_date=_time(data.get("sentDate")),
            href=_str(data.get("href")),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply (MO) received from a phone, linked to the send it answers when one was found."""

    response_id: str
    direction: str
    sender: str
    to: str
    text: str
    length: int
    received_at: datetime | None
    sms_id: str | None
    ref_client: str | None
    href: str | None
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> Reply:
        data = _map(data)
        body = _map(data.get("body"))
        text = str(body.get("text") or "")
        return cls(
            response_id=str(data.get("responseId") or ""),
            direction=str(data.get("direction") or "MO"),
            sender=str(data.get("from") or ""),
            to=str(_map(data.get("recipient")).get("to") or ""),
            text=text,
            length=_int(body.get("length"), len(text)),
            received_at=_time(data.get("receivedAt")),
            sms_id=_str(data.get("smsId")) or None,
            ref_client=_str(data.get("refClient")),
            href=_str(data.get("href")),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class PreviewRecipient:
    """A recipient as a send would see it: `valid` False with a `problem` for one that would be refused.

    A template sent to groups gives each recipient its own text: `text`, `encoding`, `part_count` and `length` are
    then this recipient's (its price follows its own parts); None when the recipient gets the send's text.
    """

    to: str
    valid: bool
    country: str | None = None
    price: Price | None = None
    problem: str | None = None
    text: str | None = None
    encoding: str | None = None
    part_count: int | None = None
    length: int | None = None

    @classmethod
    def from_json(cls, data: Any) -> PreviewRecipient:
        data = _map(data)
        problem = data.get("problem")
        if isinstance(problem, Mapping):  # tolerate a problem object as well as a sentence
            problem = problem.get("detail") or problem.get("message") or problem.get("title")
        body = data.get("body")
        own = _map(body) if isinstance(body, Mapping) else None
        return cls(
            to=str(data.get("to") or ""),
            valid=bool(data.get("valid", True)),
            country=_str(data.get("country")),
            price=Price.from_json(data["price"]) if isinstance(data.get("price"), Mapping) else None,
            problem=_str(problem),
            text=None if own is None else str(own.get("text") or ""),
            encoding=None if own is None else _str(own.get("encoding")),
            part_count=None if own is None else _int(own.get("messagePartCount")),
            length=None if own is None else _int(own.get("length")),
        )


@dataclass(frozen=True, slots=True)
class Preview:
    """What a send would be (text as sent, parts, lane, price), computed without sending or charging."""

    text: str
    encoding: str | None
    part_count: int
    length: int
    flow: str | None
    recipients: tuple[PreviewRecipient, ...]
    price: Price
    raw: JSON = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any) -> Preview:
        data = _map(data)
        body = _map(data.get("body"))
        recipients = data.get("recipients")
        return cls(
            text=str(body.get("text") or ""),
            encoding=_str(body.get("encoding")),
            part_count=_int(body.get("messagePartCount")),
            length=_int(body.get("length")),
            flow=_str(data.get("flow")),
            recipients=tuple(
                PreviewRecipient.from_json(r) for r in (recipients if isinstance(recipients, Sequence) else ())
            ),
            price=Price.from_json(data.get("price")),
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class Balance:
    """The account's credit balance, in the unit message prices are given in."""

    amount: Decimal
    currency: str = "CREDIT"

    @classmethod
    def from_json(cls, data: Any) -> Balance:
        data = _map(data)
        return cls(_decimal(data.get("balance")), str(data.get("currency") or "CREDIT"))


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list; the clients' `list_messages` and `replies` follow `next` for you."""

    items: tuple[T, ...]
    page: int
    page_size: int
    has_more: bool
    next: str | None

    @classmethod
    def from_json(cls, data: Any, item: Callable[[Any], T]) -> Page[T]:
        data = _map(data)
        items = data.get("items")
        next_link = _str(data.get("next")) or None
        return cls(
            items=tuple(item(i) for i in (items if isinstance(items, Sequence) else ())),
            page=_int(data.get("page"), 1),
            page_size=_int(data.get("pageSize")),
            has_more=bool(data.get("hasMore", next_link is not None)),
            next=next_link,
        )


def fresh(items: Sequence[T], seen: set[str], key: Callable[[T], str]) -> Iterator[T]:
    """Items not yielded yet: newest-first pages shift when messages arrive meanwhile, repeating some."""
    for item in items:
        ident = key(item)
        if ident not in seen:
            seen.add(ident)
            yield item
