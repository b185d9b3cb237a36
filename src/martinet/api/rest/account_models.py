"""The JSON shapes of the account endpoints (sub-accounts, transfers, keys, ledger, usage, sender IDs, webhooks):
request bodies are validated with these models and the OpenAPI document describes answers with them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from martinet.api.rest.models import Flow
from martinet.services.rate_limits import MAX_RATE

SenderStatus = Literal["requested", "approved", "refused"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubAccountIn(_In):
    login: str = Field(min_length=1, max_length=50, pattern=r"^[^\s\x00-\x1f\x7f]+$")
    password: str | None = Field(default=None, min_length=1, max_length=1024, description="for pseudo/pass")
    profile: dict[str, str] | None = Field(
        default=None, description="createSubAccount.do's fields: nom, prenom, societe, email..."
    )
    key: bool = Field(default=True, description="create an API key for the sub-account (returned once)")


class LimitsIn(_In):
    """Limits set on a sub-account by an account above it; null removes a limit, an absent field keeps it."""

    rateLimit: float | None = Field(default=None, ge=0, le=MAX_RATE, description="sends/s; 0 = no cap")
    flows: list[Flow] | None = Field(default=None, description="the lanes it may send on")
    countries: list[str] | None = Field(default=None, description="ISO 3166 alpha-2 destinations")
    senderPolicy: Literal["any", "approved"] | None = None


class TransferIn(_In):
    """Money moves only on numbers written as numbers: `true` is not 1 credit, nor `"5"` account 5 (strict)."""

    to: int = Field(strict=True, ge=1, le=2_147_483_647, description="the account receiving the credits")
    source: int | None = Field(
        default=None, alias="from", strict=True, ge=1, le=2_147_483_647, description="default: the caller's account"
    )
    amount: float = Field(strict=True, gt=0, le=1_000_000_000_000, description="credits, at most three decimals")
    reference: str | None = Field(default=None, max_length=64)


class KeyIn(_In):
    accountId: int | None = Field(default=None, ge=1, le=2_147_483_647, description="default: the caller's")
    label: str = Field(default="", max_length=100)
    flows: list[Flow] | None = Field(default=None, description="only these lanes (default: the caller key's)")
    networks: list[str] | None = Field(default=None, max_length=100, description="CIDR ranges it may be used from")
    expiresAt: datetime | None = None


class SenderIn(_In):
    sender: str = Field(min_length=1, max_length=11)


class SenderDecisionIn(_In):
    status: Literal["approved", "refused"]


class LimitsOut(_Out):
    rateLimit: float | None
    flows: list[Flow] | None
    countries: list[str] | None
    senderPolicy: Literal["any", "approved"]


class AccountOut(_Out):
    id: int
    login: str
    parentId: int | None
    operator: bool
    state: Literal["ACTIVE", "DELETED"]
    createdAt: str
    deletedAt: str | None
    balance: float
    currency: Literal["CREDIT"]
    limits: LimitsOut = Field(description="the limits set on this account itself (null: none of its own)")
    effectiveLimits: LimitsOut = Field(
        description="what holds for its sends: its own limits and those of every account above it, the strictest "
        "of each (rateLimit: its own or the configured default, capped from above; 0 = no cap)"
    )
    profile: dict[str, str]
    href: str


class CreatedAccountOut(AccountOut):
    apiKey: str | None = Field(description="the sub-account's first API key, shown only now")


class AccountList(_Out):
    items: list[AccountOut]


class TransferOut(_Out):
    from_: int = Field(alias="from")
    to: int
    amount: float
    reference: str | None
    fromBalance: float
    toBalance: float
    at: str

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class KeyOut(_Out):
    id: int
    accountId: int
    label: str
    flows: list[Flow] | None
    networks: list[str] | None
    state: Literal["ACTIVE", "REVOKED", "EXPIRED"]
    createdAt: str
    revokedAt: str | None
    expiresAt: str | None


class CreatedKeyOut(KeyOut):
    accessToken: str = Field(description="shown only now")


class KeyList(_Out):
    items: list[KeyOut]


class LedgerEntryOut(_Out):
    id: int
    at: str
    amount: float
    reason: Literal["send", "refund", "topup", "withdrawal", "transfer_in", "transfer_out"]
    reference: str | None = Field(description="the smsID of a send or refund, the reference of a transfer")
    counterparty: str | None = Field(description="login of the other account of a transfer")
    note: str | None
    balanceAfter: float


class LedgerPage(_Out):
    items: list[LedgerEntryOut]
    page: int
    pageSize: int
    hasMore: bool
    next: str | None = None


class UsageDayOut(_Out):
    date: date
    messages: dict[str, int]
    parts: dict[str, int]
    credits: float = Field(description="charged for the day's messages (refunds deducted)")
    movements: dict[str, float] = Field(description="ledger movements of the day by reason, in credits")


class UsageOut(_Out):
    accountId: int
    timezone: str
    days: list[UsageDayOut]


class SenderOut(_Out):
    sender: str
    status: SenderStatus
    requestedAt: str
    decidedAt: str | None


class SenderList(_Out):
    items: list[SenderOut]


CallbackStatuses = Literal["all", "final"]


class WebhooksIn(_In):
    callbackUrl: str | None = Field(
        default=None, max_length=2000, description="delivery reports of sends that give none; null or empty: none"
    )
    replyUrl: str | None = Field(
        default=None, max_length=2000, description="replies to sends that give none, and unanswered ones; null: none"
    )
    callbackStatuses: CallbackStatuses | None = Field(
        default=None, description="all (or null): a callback at each status change, smsmode's way; final: the final one"
    )


class WebhooksOut(_Out):
    callbackUrl: str | None
    replyUrl: str | None
    callbackStatuses: CallbackStatuses
    href: str


INPUTS = (SubAccountIn, LimitsIn, TransferIn, KeyIn, SenderIn, SenderDecisionIn, WebhooksIn)
OUTPUTS = (
    AccountOut,
    CreatedAccountOut,
    AccountList,
    TransferOut,
    KeyOut,
    CreatedKeyOut,
    KeyList,
    LedgerPage,
    UsageOut,
    SenderList,
    SenderOut,
    WebhooksOut,
)
