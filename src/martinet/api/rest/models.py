"""The JSON shapes of the REST door as pydantic models: request bodies are validated with them, and the
OpenAPI document (`martinet.api.rest.openapi`) is generated from all of them.

Answers are built as plain dicts by `martinet.domain.resources` (cheaper than models on the hot path); the
output models here describe them for OpenAPI, and the contract test checks every answer against them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from martinet.domain.lanes import MAX_VALIDITY, MIN_VALIDITY

Flow = Literal["OTP", "TRANSACTIONAL", "MARKETING"]
StatusValue = Literal["SCHEDULED", "ENROUTE", "DELIVERED", "UNDELIVERABLE", "UNDELIVERED", "CANCELLED", "EXPIRED"]

MAX_RECIPIENTS = 1000
MAX_TEXT = 1600  # characters: 10 GSM-7 parts at most are sent, the rest is cut as smsmode's nbr_msg does


class _In(BaseModel):
    # smsmode clients send fields Martinet does not use (and may add more): ignored, not refused. A number where
    # text is expected (`"to": 33612345678`, `"refClient": 12`, as JavaScript clients write them) is read as its
    # text, as smsmode's Java side (Jackson) reads it.
    model_config = ConfigDict(extra="ignore", populate_by_name=True, coerce_numbers_to_str=True)


class RecipientIn(_In):
    to: str = Field(
        min_length=1,
        max_length=32,
        pattern=r"^[^,;\r\n]+$",
        description="E.164 with or without '+', or a national French number",
        examples=["+33612345678"],
    )


class BodyIn(_In):
    text: str = Field(min_length=1, max_length=MAX_TEXT, examples=["Your code is 123456"])
    stop: bool = Field(default=False, description="add the opt-out mention")
    encoding: Literal["GSM7", "UNICODE"] | None = Field(
        default=None,
        description="default: GSM7 when every character fits, else UNICODE; GSM7 replaces the others as the "
        "account's policy says",
    )


class VoiceIn(_In):
    """How a voice message (`channel` VOICE) is read: the title first, in the language given."""

    title: str | None = Field(
        default=None, max_length=100, description="read before the text; default: an introduction naming the platform"
    )
    language: Literal["fr-FR", "en-GB", "de-DE", "es-ES"] = "fr-FR"


class SendIn(_In):
    """A send: smsmode's body, plus Martinet's extensions `recipients`, `flow` and `validity`."""

    model_config = ConfigDict(
        extra="ignore",
        populate_by_name=True,
        coerce_numbers_to_str=True,
        # One of the three, never both recipient fields, as the validator below checks: said in the schema too,
        # for generated clients.
        json_schema_extra={
            "anyOf": [{"required": ["recipient"]}, {"required": ["recipients"]}, {"required": ["groups"]}],
            "not": {"required": ["recipient", "recipients"]},
        },
    )

    recipient: RecipientIn | None = None
    recipients: list[RecipientIn] | None = Field(
        default=None, min_length=1, max_length=MAX_RECIPIENTS, description="extension: many recipients at once"
    )
    body: BodyIn
    sender: str | None = Field(default=None, alias="from", min_length=1, max_length=16)
    sentDate: datetime | None = Field(
        default=None,
        description="schedule; without offset: the account's time zone; in the past: sent at once; at most "
        "accounts.schedule_horizon_days (365) days ahead and not before 2000, else a 422 naming sentDate",
    )
    refClient: str | None = Field(default=None, max_length=40)
    callbackUrlStatus: str | None = Field(default=None, min_length=1, max_length=2000)
    callbackUrlMo: str | None = Field(default=None, min_length=1, max_length=2000)
    flow: Flow | None = Field(default=None, description="extension: the lane")
    validity: int | None = Field(default=None, ge=MIN_VALIDITY, le=MAX_VALIDITY, description="extension: seconds")
    groups: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        description="extension: contact groups sent to; the text is then a template naming contact fields "
        "({prenom}, {nom}, {societe}, free fields; {{ and }} for braces), rendered for each recipient",
    )
    channel: Literal["SMS", "VOICE"] = Field(
        default="SMS", description="extension: VOICE reads body.text (160 characters at most) in a phone call"
    )
    voice: VoiceIn | None = Field(default=None, description="extension: how a VOICE message is read")

    @model_validator(mode="after")
    def _one_recipient_field(self) -> SendIn:
        if self.recipient is not None and self.recipients is not None:
            raise ValueError("give either recipient or recipients")
        if self.recipient is None and self.recipients is None and not self.groups:
            raise ValueError("give recipient, recipients or groups")
        return self


# --- Answers (for the OpenAPI document) ---


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Channel(_Out):
    type: Literal["SMS", "VOICE"]
    flow: Flow


class RecipientOut(_Out):
    to: str


class BodyOut(_Out):
    text: str
    encoding: Literal["GSM7", "UNICODE"]
    messagePartCount: int
    length: int


class StatusOut(_Out):
    value: StatusValue
    code: int = Field(description="the smsmode status code")
    deliveryDate: str | None
    updatedAt: str | None


class Price(_Out):
    amount: float
    currency: Literal["CREDIT"]


class MessageOut(_Out):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    messageId: str
    smsId: str
    acceptedAt: str
    channel: Channel
    direction: Literal["MT"]
    recipient: RecipientOut
    sender: str | None = Field(alias="from")
    body: BodyOut
    status: StatusOut
    price: Price
    refClient: str | None
    sentDate: str | None
    href: str


class MessagesOut(_Out):
    messages: list[MessageOut]


class MessagePage(_Out):
    items: list[MessageOut]
    page: int
    pageSize: int
    hasMore: bool
    next: str | None = None


class ReplyBody(_Out):
    text: str
    length: int


class ReplyOut(_Out):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    responseId: str
    direction: Literal["MO"]
    sender: str = Field(alias="from")
    recipient: RecipientOut
    body: ReplyBody
    receivedAt: str
    smsId: str | None
    refClient: str | None
    href: str


class ReplyPage(_Out):
    items: list[ReplyOut]
    page: int
    pageSize: int
    hasMore: bool
    next: str | None = None


class OperatorOut(_Out):
    name: str | None = Field(description="the range holder of the number's block (not ported numbers' operator)")
    mccmnc: str | None = Field(description="MCC+MNC of the range holder's network, when known")


class PreviewRecipientOut(_Out):
    to: str
    country: str | None
    valid: bool
    price: Price
    problem: str | None = None
    body: BodyOut | None = Field(default=None, description="a recipient's own text (group and template sends)")
    operator: OperatorOut | None = None


class PreviewOut(_Out):
    body: BodyOut
    flow: Flow
    recipients: list[PreviewRecipientOut]
    price: Price


class BalanceOut(_Out):
    balance: float
    currency: Literal["CREDIT"]


class ProblemOut(_Out):
    title: str
    message: str
    detail: str
    type: str
    status: int
    errorCode: str
    field: str | None = None
