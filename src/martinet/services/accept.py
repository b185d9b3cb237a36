"""Accepting a send: the one implementation behind every door.

A door turns its dialect into a `SendRequest`; this module applies the rules (text, recipients, sender, price,
schedule), builds the rows and hands them to the acceptance writer, which answers only once they are durable.
Recipients that cannot be sent to (invalid, unpriced) do not fail the send: they are recorded with their own
final status and cost nothing, as smsmode does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

import structlog

from martinet import logs
from martinet.domain.credits import to_milli
from martinet.domain.lanes import MAX_VALIDITY, MIN_VALIDITY, Lane
from martinet.domain.pricing import PriceTable
from martinet.domain.recipients import InvalidRecipient, Recipient, count_entries, parse_recipients
from martinet.domain.sender import sender_problem
from martinet.domain.status import DEFAULT_CODE, INVALID_RECIPIENT, NOT_ROUTABLE, State
from martinet.domain.text import NonGsmPolicy, TextAnalysis, analyze
from martinet.services.callback_urls import CallbackUrlCheck
from martinet.services.rate_limits import RateLimiter
from martinet.store.acceptance import AcceptanceWriter, KeyedRequest, NewMessage, NewSend
from martinet.store.accounts import Account
from martinet.store.idempotency import DUPLICATE

CLASSES = (2, 4, 9)
MAX_REF_CLIENT = 40
MAX_PARTS = 10
STOP_REQUIRED = "required for marketing sends with emetteur"
#: Longest callback URL accepted: the URL is copied into every callback row of the send.
MAX_URL = 2000
#: Recipients a send may name when the operator sets nothing (`http.max_recipients`).
MAX_RECIPIENTS = 100_000
VALIDITY_OUT_OF_RANGE = f"must be between {MIN_VALIDITY} and {MAX_VALIDITY} seconds"
#: How far ahead a send may be scheduled when the operator sets nothing (`accounts.schedule_horizon_days`).
SCHEDULE_HORIZON_DAYS = 365
#: Scheduled times before this year, in the account's time zone, are refused rather than sent at once.
EARLIEST_SCHEDULE_YEAR = 2000
SCHEDULED_TOO_EARLY = f"before the year {EARLIEST_SCHEDULE_YEAR}"

StopPolicy = Literal["add", "refuse", "off"]

log = logs.get_logger(__name__)
#: Asked before the per-send debug line: the stdlib's cached level check costs a tenth of a filtered structlog call.
_level = logging.getLogger(__name__)


class InvalidParameter(Exception):
    """A request parameter the rules refuse; `name` is the smsmode parameter name, `problem` says why."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


class DuplicateRequest(Exception):
    """Another request took the send's idempotency key first (its answer is stored under the key)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} is taken")
        self.key = key


class NotEnoughCredit(Exception):
    def __init__(self, cost: int) -> None:
        super().__init__(f"the send costs {cost} millicredits, more than the balance")
        self.cost = cost


@dataclass(frozen=True, slots=True)
class SendRequest:
    account: Account
    text: str | None
    recipients: str | None
    classe: int = 2
    scheduled_at: int | None = None
    sender: str | None = None
    ref_client: str | None = None
    max_parts: int = 5
    notification_url: str | None = None
    notification_url_reponse: str | None = None
    stop: int = 0
    max_recipients: int | None = None
    lane: str | None = None  # None: the account's default lane
    validity: int | None = None  # seconds; None: the lane's default
    callback_format: str = "smsmode"  # "json": callbacks post the REST resources (sends of the REST door)
    keyed: KeyedRequest | None = None  # its Idempotency-Key (REST door)
    non_gsm: str | None = None  # what to do with characters outside GSM 03.38; None: the account's policy


@dataclass(frozen=True, slots=True)
class AcceptedSend:
    send_id: str
    analysis: TextAnalysis
    recipients: int
    refused: int
    cost: int
    scheduled: bool
    send: NewSend  # as written: every recipient's state, code and cost (opt-outs included)


@dataclass(frozen=True, slots=True)
class PreviewRecipient:
    recipient: Recipient | InvalidRecipient
    cost: int  # millicredits for the whole message (every part); 0 when it cannot be sent
    problem: str | None  # why it cannot be sent, else None


@dataclass(frozen=True, slots=True)
class Preview:
    """What a send would be, computed by the same rules as `accept`, with nothing stored or charged."""

    analysis: TextAnalysis
    lane: str
    recipients: list[PreviewRecipient]
    cost: int


@dataclass(frozen=True, slots=True)
class _Prepared:
    analysis: TextAnalysis
    lane: str
    parsed: list[Recipient | InvalidRecipient]
    scheduled: bool
    due_at: int
    now: int


class SendService:
    def __init__(
        self,
        writer: AcceptanceWriter,
        prices: PriceTable,
        *,
        stop_mention: str,
        now_ms: Callable[[], int],
        new_id: Callable[[], str],
        validity: Mapping[str, float] | None = None,
        rate_limiter: RateLimiter | None = None,
        marketing_stop: StopPolicy = "add",
        url_check: CallbackUrlCheck | None = None,
        max_recipients: int = MAX_RECIPIENTS,
        schedule_horizon_days: int = SCHEDULE_HORIZON_DAYS,
    ) -> None:
        """`rate_limiter`: None accepts as fast as sends come. `marketing_stop`: what a marketing send from a
        custom sender without `stop` gets (the opt-out mention added as with `stop=1`, a refusal, or nothing).
        """
        self._writer = writer
        self._prices = prices
        self._milli: dict[str, int | None] = {}
        self._stop_mention = stop_mention
        self._now_ms = now_ms
        self._new_id = new_id
        # Lane → default validity in ms; a lane missing here has no end of validity.
        self._validity_ms = {lane: int(seconds * 1000) for lane, seconds in (validity or {}).items()}
        self._rate_limiter = rate_limiter
        self._marketing_stop = marketing_stop
        self._url_check = url_check  # None: callback URLs are checked at delivery only (they always are)
        self._max_recipients = max_recipients  # for every send; a request may ask for fewer (GET sendSMS.do)
        self._horizon_days = schedule_horizon_days  # how far ahead `scheduled_at` may be

    def _check_urls(self, request: SendRequest) -> None:
        if self._url_check is None:
            return
        for name, url in (
            ("notification_url", request.notification_url),
            ("notification_url_reponse", request.notification_url_reponse),
        ):
            if url:
                problem = self._url_check.problem(url)
                if problem is not None:
                    raise InvalidParameter(name, problem)

    async def accept(self, request: SendRequest) -> AcceptedSend:
        """Validate, price and store a send; raises RateLimited, InvalidParameter, NotEnoughCredit or
        DuplicateRequest, storing nothing.

        The rate limit is checked first: it is the cheapest check and protects the others from a flood.
        """
        if self._rate_limiter is not None:
            self._rate_limiter.check(request.account.id, request.account.rate_limit)
        prepared = await self._prepare(request)
        analysis, lane, scheduled, due_at, now = (
            prepared.analysis,
            prepared.lane,
            prepared.scheduled,
            prepared.due_at,
            prepared.now,
        )
        messages = [self._message(r, analysis.segments, scheduled, due_at) for r in prepared.parsed]
        cost = sum(m.cost for m in messages)
        validity_ms = request.validity * 1000 if request.validity is not None else self._validity_ms.get(lane)
        send_id = self._new_id()
        # Bound for the rest of the request: whatever is logged while it is written or answered names the send.
        structlog.contextvars.bind_contextvars(send_id=send_id)
        send = NewSend(
            id=send_id,
            account_id=request.account.id,
            created_at=now,
            scheduled_at=request.scheduled_at if scheduled else None,
            text=analysis.text,
            encoding=str(analysis.encoding),
            segments=analysis.segments,
            classe=request.classe,
            sender=request.sender or None,
            ref_client=request.ref_client or None,
            notification_url=request.notification_url or None,
            notification_url_reponse=request.notification_url_reponse or None,
            lane=lane,
            cost=cost,
            messages=messages,
            validity=request.validity,
            expires_at=None if validity_ms is None else due_at + validity_ms,
            callback_format=request.callback_format,
            keyed=request.keyed,
        )
        verdict = await self._writer.accept(send)
        if verdict is DUPLICATE and request.keyed is not None:
            raise DuplicateRequest(request.keyed.key)
        if not verdict:
            raise NotEnoughCredit(cost)
        refused = sum(1 for m in messages if m.state == State.FAILED)
        # Debug only: at thousands of sends per second a line each would cost more than the send.
        if _level.isEnabledFor(logging.DEBUG):
            log.debug(
                "send accepted",
                account=request.account.login,
                lane=lane,
                recipients=len(messages),
                refused=refused,
                parts=analysis.segments,
                cost=cost,
                scheduled=scheduled,
                text=analysis.text,  # removed from the line unless log_text is on (martinet.logs)
            )
        return AcceptedSend(send.id, analysis, len(messages) - refused, refused, send.cost, scheduled, send)

    async def preview(self, request: SendRequest) -> Preview:
        """The text as sent, its parts and each recipient's price, by the rules of `accept`; raises
        InvalidParameter as `accept` would. Opt-outs are not looked up (they are found when the send is written).
        """
        prepared = await self._prepare(request)
        recipients: list[PreviewRecipient] = []
        for recipient in prepared.parsed:
            if isinstance(recipient, InvalidRecipient):
                recipients.append(PreviewRecipient(recipient, 0, recipient.reason))
                continue
            price = self._price_milli(recipient.country)
            if price is None:
                recipients.append(PreviewRecipient(recipient, 0, "not routable"))
            else:
                recipients.append(PreviewRecipient(recipient, price * prepared.analysis.segments, None))
        return Preview(prepared.analysis, prepared.lane, recipients, sum(r.cost for r in recipients))

    def text_of(self, request: SendRequest) -> TextAnalysis:
        """The text as `accept` would send it: encoding, parts, and the opt-out mention where the rules add it
        (the web console's live counter calls it as the user types, before there are recipients). Raises
        InvalidParameter("stop") where the marketing rules refuse the send."""
        lane = request.lane or request.account.lane
        stop = self._stop_mode(request, lane)
        return analyze(
            request.text or "",
            classe=request.classe,
            non_gsm=NonGsmPolicy(request.non_gsm or request.account.non_gsm),
            max_parts=request.max_parts,
            stop_mention=self._stop_mention if stop else None,
            stop_mode=stop,
        )

    async def _prepare(self, request: SendRequest) -> _Prepared:
        _check_parameters(request)
        self._check_urls(request)
        lane = request.lane or request.account.lane
        analysis = self.text_of(request)
        # Counted as written, before any is parsed: invalid numbers and duplicates cost their share too.
        limit = min(self._max_recipients, request.max_recipients or self._max_recipients)
        if count_entries(request.recipients or "", limit) > limit:
            raise InvalidParameter("numero", f"more than {limit} recipients")
        parsed = parse_recipients(request.recipients or "")
        if not any(isinstance(r, Recipient) for r in parsed):
            raise InvalidParameter("numero", "no valid recipient")
        now = self._now_ms()
        if request.scheduled_at is not None:
            _check_schedule(request.scheduled_at, now, self._horizon_days, request.account.timezone)
        scheduled = request.scheduled_at is not None and request.scheduled_at > now
        due_at = request.scheduled_at if scheduled and request.scheduled_at is not None else now
        return _Prepared(analysis, lane, parsed, scheduled, due_at, now)

    def _stop_mode(self, request: SendRequest, lane: str) -> int:
        """The `stop` mode to apply: French rules require an opt-out mention on commercial SMS, which a
        custom sender (`emetteur`) on the marketing lane almost always is; without one, the configured
        policy adds it (as `stop=1`, never costing an extra part), refuses the send, or lets it go as is.
        """
        if request.stop or not request.sender or lane != Lane.MARKETING or self._marketing_stop == "off":
            return request.stop
        if self._marketing_stop == "refuse":
            raise InvalidParameter("stop", STOP_REQUIRED)
        return 1

    def _message(
        self, recipient: Recipient | InvalidRecipient, segments: int, scheduled: bool, due_at: int
    ) -> NewMessage:
        if isinstance(recipient, InvalidRecipient):
            return NewMessage(recipient.raw[:20], None, State.FAILED, INVALID_RECIPIENT, 0, None)
        price = self._price_milli(recipient.country)
        if price is None:
            return NewMessage(recipient.msisdn, recipient.country, State.FAILED, NOT_ROUTABLE, 0, None)
        state = State.SCHEDULED if scheduled else State.QUEUED
        return NewMessage(
            recipient.msisdn,
            recipient.country,
            state,
            DEFAULT_CODE[state],
            price * segments,
            due_at,
        )

    def _price_milli(self, country: str) -> int | None:
        if country not in self._milli:
            price = self._prices.price(country)
            self._milli[country] = None if price is None else to_milli(price)
        return self._milli[country]


def _check_schedule(scheduled_at: int, now: int, horizon_days: int, timezone: str) -> None:
    """A scheduled time is refused (`date_envoi`) beyond the horizon or before 2000, rather than kept for years or
    sent at once: either is a client's mistake (a year typed wrong, a zero date), and a send parked for decades
    holds its credits and a queue row all that time. A time in the recent past still means "now".
    """
    if scheduled_at > now + horizon_days * 86_400_000:
        raise InvalidParameter("date_envoi", f"more than {horizon_days} days ahead")
    earliest = datetime(EARLIEST_SCHEDULE_YEAR, 1, 1, tzinfo=ZoneInfo(timezone))
    if scheduled_at < int(earliest.timestamp() * 1000):
        raise InvalidParameter("date_envoi", SCHEDULED_TOO_EARLY)


def _check_parameters(request: SendRequest) -> None:
    if not request.text:
        raise InvalidParameter("message", "missing")
    if not request.recipients or not request.recipients.strip():
        raise InvalidParameter("numero", "missing")
    if request.classe not in CLASSES:
        raise InvalidParameter("classe_msg", "must be 2, 4 or 9")
    if not 1 <= request.max_parts <= MAX_PARTS:
        raise InvalidParameter("nbr_msg", f"must be between 1 and {MAX_PARTS}")
    if request.ref_client is not None and len(request.ref_client) > MAX_REF_CLIENT:
        raise InvalidParameter("refClient", f"longer than {MAX_REF_CLIENT} characters")
    for name, url in (
        ("notification_url", request.notification_url),
        ("notification_url_reponse", request.notification_url_reponse),
    ):
        if url is not None and len(url) > MAX_URL:
            raise InvalidParameter(name, f"longer than {MAX_URL} characters")
    if request.stop not in (0, 1, 2):
        raise InvalidParameter("stop", "must be 1 or 2")
    if request.validity is not None and not MIN_VALIDITY <= request.validity <= MAX_VALIDITY:
        raise InvalidParameter("validity", VALIDITY_OUT_OF_RANGE)
    if request.sender:
        if request.classe == 4:
            raise InvalidParameter("emetteur", "not allowed with classe_msg=4 (replies come to a short number)")
        problem = sender_problem(request.sender)
        if problem is not None:
            raise InvalidParameter("emetteur", problem)
