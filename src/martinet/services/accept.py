"""Accepting a send: the one implementation behind every door.

A door turns its dialect into a `SendRequest`; this module applies the rules (text, recipients, sender, price,
schedule), builds the rows and hands them to the acceptance writer, which answers only once they are durable.
Recipients that cannot be sent to (invalid, unpriced) do not fail the send: they are recorded with their own
final status and cost nothing, as smsmode does.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.engine import Connection

from martinet import logs
from martinet.domain.account_rules import NO_RULES, AccountRules
from martinet.domain.contacts import Template, TemplateError, parse_template
from martinet.domain.credits import to_milli
from martinet.domain.lanes import MAX_VALIDITY, MIN_VALIDITY, Lane
from martinet.domain.pricing import PriceTable
from martinet.domain.recipients import InvalidRecipient, Recipient, count_entries, parse_recipients
from martinet.domain.resources import MessageFacts
from martinet.domain.routing import Operator
from martinet.domain.sender import sender_problem
from martinet.domain.status import DEFAULT_CODE, INVALID_RECIPIENT, NOT_ROUTABLE, State
from martinet.domain.text import Encoding, NonGsmPolicy, TextAnalysis, analyze
from martinet.domain.valueclass import valueclass
from martinet.services import voice_sends
from martinet.services.account_rules import AccountRulesCache
from martinet.services.callback_urls import MAX_URL, CallbackUrlCheck
from martinet.services.destination_rules import DestinationRules, Refusals
from martinet.services.personal_sends import (
    MESSAGE_ERROR,
    Campaign,
    CampaignRow,
    MessageMaker,
    Personalised,
    RowError,
    campaign_messages,
    group_expansion,
    personalise,
)
from martinet.services.rate_limits import RateLimiter
from martinet.store.acceptance import DUPLICATE, KeyedRequest, NewMessage, NewSend, Verdict
from martinet.store.accounts import Account
from martinet.store.contacts import ContactStore

CLASSES = (2, 4, 9)
MAX_REF_CLIENT = 40
MAX_PARTS = 10
STOP_REQUIRED = "required for marketing sends with emetteur"
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


class SendWriter(Protocol):
    """Where accepted sends go: the process's `store.acceptance.AcceptanceWriter`, or anything that keeps the same
    promise (tests hold sends in memory to check the rules without a database).

    `accept` answers once the send is durable: True when written, False when the account's credit does not cover
    `send.cost`, DUPLICATE when its idempotency key was taken; it may mark recipients on the account's opt-out
    list as failed (and lower `send.cost`) before deciding.
    """

    async def accept(self, send: NewSend) -> Verdict: ...


class InvalidParameter(Exception):
    """A request parameter the rules refuse; `problem` says why, `name` which: the `SendRequest` field at fault
    (`text`, `recipients`, `classe`, `scheduled_at`, `sender`, `ref_client`, `max_parts`, `notification_url`,
    `notification_url_reponse`, `stop`, `lane`, `validity`, `groups`, `rows`; a voice message's `title` and
    `language`). Each door names it in its own dialect (`api/legacy/params.py`, `api/rest/handlers.py`)."""

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


@valueclass
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
    groups: tuple[str, ...] = ()  # contact groups sent to (`text` is then a template, see domain.contacts)
    # A CSV campaign: one message per row (`text` and `recipients` unused); rows, or a Campaign filled as its file
    # was read (`open_campaign`).
    rows: Sequence[CampaignRow] | Campaign | None = None
    voice: voice_sends.VoiceRequest | None = None  # a voice message (read in a call), not an SMS


@valueclass
class AcceptedSend:
    send_id: str
    analysis: TextAnalysis
    recipients: int
    refused: int
    cost: int
    scheduled: bool
    send: NewSend  # as written: every recipient's state, code and cost (opt-outs included)


@valueclass
class PreviewRecipient:
    recipient: Recipient | InvalidRecipient
    cost: int  # millicredits for the whole message (every part); 0 when it cannot be sent
    problem: str | None  # why it cannot be sent, else None
    analysis: TextAnalysis | None = None  # a personalised recipient's own text; None: the send's
    operator: Operator | None = None  # the number's range holder, when known


@valueclass
class Preview:
    """What a send would be, computed by the same rules as `accept`, with nothing stored or charged."""

    analysis: TextAnalysis
    lane: str
    recipients: list[PreviewRecipient]
    cost: int


@valueclass
class _Prepared:
    analysis: TextAnalysis
    lane: str
    parsed: list[Recipient | InvalidRecipient]
    scheduled: bool
    due_at: int
    now: int
    refusals: Refusals  # recipients their country's rules refuse (martinet.services.destination_rules)
    account: str  # login, for per-account prices
    rules: AccountRules = NO_RULES  # the limits inherited down the account tree


class SendService:
    def __init__(
        self,
        writer: SendWriter,
        prices: PriceTable,
        *,
        stop_mention: str,
        now_ms: Callable[[], int],
        new_id: Callable[[int], str],
        validity: Mapping[str, float] | None = None,
        rate_limiter: RateLimiter | None = None,
        marketing_stop: StopPolicy = "add",
        url_check: CallbackUrlCheck | None = None,
        max_recipients: int = MAX_RECIPIENTS,
        schedule_horizon_days: int = SCHEDULE_HORIZON_DAYS,
        contacts: ContactStore | None = None,
        account_rules: AccountRulesCache | None = None,
        voice: voice_sends.VoiceRules | None = None,
        destination_rules: DestinationRules | None = None,
        spool_dir: str | None = None,
    ) -> None:
        """`rate_limiter`: None accepts as fast as sends come. `marketing_stop`: what a marketing send from a
        custom sender without `stop` gets (the opt-out mention added as with `stop=1`, a refusal, or nothing).
        `account_rules`: the limits inherited down the account tree (None: none apply). `spool_dir`: where a CSV
        campaign's messages wait for its acceptance (None: the system's temporary directory).
        """
        self._writer = writer
        self._prices = prices
        self._milli: dict[tuple[str, str | None], int | None] = {}
        self._destination_rules = destination_rules  # None: no country rules (every sender everywhere)
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
        self._contacts = contacts  # the address book, for sends to groups (None: `groups` is refused)
        self._account_rules = account_rules
        self._voice = voice  # None: voice sends are refused (no voice prices)
        self._spool_dir = spool_dir

    def with_contacts(self, contacts: ContactStore) -> SendService:
        """This service, reading contact groups from `contacts` instead: the web console's live counter previews a
        send to groups of thousands through an address book of one stand-in contact per price class, with the
        rules and prices of the real sends (`api/console/counter.py`)."""
        clone = copy.copy(self)
        clone._contacts = contacts
        return clone

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

        The rate limit is checked first: it is the cheapest check and protects the others from a flood (the
        account's inherited limits it needs are cached, `services.account_rules`).
        """
        # The limits inherited down the account tree (docs/resellers.md): rate here, the others in `_prepare`.
        rules = await self._account_rules.rules_for(request.account) if self._account_rules is not None else None
        if self._rate_limiter is not None:
            rate = request.account.rate_limit
            if rules is not None:
                rate = rules.rate(self._rate_limiter.effective(rate))
            self._rate_limiter.check(request.account.id, rate)
        prepared = await self._prepare(request, rules)
        analysis, lane, scheduled, due_at, now = (
            prepared.analysis,
            prepared.lane,
            prepared.scheduled,
            prepared.due_at,
            prepared.now,
        )
        personal = self._personal_messages(request, prepared)
        spooled = request.rows.spooled if isinstance(request.rows, Campaign) else None
        if personal is None:
            prices = self._prices_for(request, prepared)
            messages = [
                self._message(r, prepared, analysis.segments, scheduled, due_at, prices) for r in prepared.parsed
            ]
            expand = None
        else:
            messages, expand, analysis = personal
        cost = sum(m.cost for m in messages) + (spooled.cost if spooled is not None else 0)
        validity_ms = request.validity * 1000 if request.validity is not None else self._validity_ms.get(lane)
        channel, voice_title, voice_language = voice_sends.columns(request.voice, self._voice)
        send_id = self._new_id(now)
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
            expand=expand,
            channel=channel,
            voice_title=voice_title,
            voice_language=voice_language,
            spooled=spooled,
        )
        verdict = await self._writer.accept(send)
        if verdict is DUPLICATE and request.keyed is not None:
            raise DuplicateRequest(request.keyed.key)
        if not verdict:
            raise NotEnoughCredit(send.cost)
        messages = send.messages  # a group send's, once expanded
        refused = sum(1 for m in messages if m.state == State.FAILED) + (spooled.failed if spooled is not None else 0)
        count = send.size()
        # Debug only: at thousands of sends per second a line each would cost more than the send.
        if _level.isEnabledFor(logging.DEBUG):
            log.debug(
                "send accepted",
                account=request.account.login,
                lane=lane,
                recipients=count,
                refused=refused,
                parts=analysis.segments,
                cost=cost,
                scheduled=scheduled,
                text=analysis.text,  # removed from the line unless log_text is on (martinet.logs)
            )
        return AcceptedSend(send.id, analysis, count - refused, refused, send.cost, scheduled, send)

    async def preview(self, request: SendRequest) -> Preview:
        """The text as sent, its parts and each recipient's price, by the rules of `accept`; raises
        InvalidParameter as `accept` would. Opt-outs are not looked up (they are found when the send is written).
        """
        rules = await self._account_rules.rules_for(request.account) if self._account_rules is not None else None
        prepared = await self._prepare(request, rules)
        recipients: list[PreviewRecipient] = []
        personal = await self._personal_preview(request, prepared)
        if personal is not None:
            for item in personal:
                problem = _problem(item)
                recipients.append(PreviewRecipient(item.recipient, item.message.cost, problem, item.analysis))
            return Preview(prepared.analysis, prepared.lane, recipients, sum(r.cost for r in recipients))
        for recipient in prepared.parsed:
            if isinstance(recipient, InvalidRecipient):
                recipients.append(PreviewRecipient(recipient, 0, recipient.reason))
                continue
            refused = prepared.refusals.by_country.get(recipient.country)
            price = self._prices_for(request, prepared)(recipient.country)
            operator = None if self._destination_rules is None else self._destination_rules.operator(recipient)
            if refused is not None:
                recipients.append(PreviewRecipient(recipient, 0, refused, operator=operator))
            elif price is None:
                recipients.append(PreviewRecipient(recipient, 0, "not routable", operator=operator))
            else:
                cost = price * prepared.analysis.segments
                recipients.append(PreviewRecipient(recipient, cost, None, operator=operator))
        return Preview(prepared.analysis, prepared.lane, recipients, sum(r.cost for r in recipients))

    def text_of(self, request: SendRequest) -> TextAnalysis:
        """The text as `accept` would send it: encoding, parts, and the opt-out mention where the rules add it
        (the web console's live counter calls it as the user types, before there are recipients). Raises
        InvalidParameter for what the text rules refuse (`stop` where the marketing rules refuse the send; a
        voice message's own rules)."""
        if request.voice is not None:
            try:
                return voice_sends.analysis(
                    request.text or "", request.voice, self._voice, sandbox=request.account.sandbox
                )
            except voice_sends.VoiceParameterError as refused:
                raise InvalidParameter(refused.name, refused.problem) from None
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

    async def _prepare(self, request: SendRequest, rules: AccountRules | None = None) -> _Prepared:
        _check_parameters(request)
        if request.voice is not None:  # here, so that a preview refuses what the send would
            _check_voice_fields(request)
        self._check_urls(request)
        lane = request.lane or request.account.lane
        analysis = self.text_of(request)
        # Counted as written, before any is parsed: invalid numbers and duplicates cost their share too.
        limit = min(self._max_recipients, request.max_recipients or self._max_recipients)
        if count_entries(request.recipients or "", limit) > limit:
            raise InvalidParameter("recipients", f"more than {limit} recipients")
        parsed = parse_recipients(request.recipients or "")
        if not request.groups and request.rows is None and not any(isinstance(r, Recipient) for r in parsed):
            raise InvalidParameter("recipients", "no valid recipient")
        if request.groups:
            named = sum(1 for r in parsed if isinstance(r, Recipient))
            # The operator's cap, not a request's own (GET sendSMS.do's 300 bounds the numbers a URL writes).
            await self._check_groups(request, named=named, limit=self._max_recipients)
        now = self._now_ms()
        if request.scheduled_at is not None:
            _check_schedule(request.scheduled_at, now, self._horizon_days, request.account.timezone)
        scheduled = request.scheduled_at is not None and request.scheduled_at > now
        due_at = request.scheduled_at if scheduled and request.scheduled_at is not None else now
        rules = rules or NO_RULES  # lanes, countries and senders allowed down the account tree
        problem = rules.problem(lane, request.sender, (r.country for r in parsed if isinstance(r, Recipient)))
        if problem is not None:
            raise InvalidParameter(*problem)
        refusals = self._refusals(parsed, request.sender, analysis.encoding == Encoding.UCS2)
        return _Prepared(analysis, lane, parsed, scheduled, due_at, now, refusals, request.account.login, rules)

    def _refusals(self, parsed: list[Recipient | InvalidRecipient], sender: str | None, unicode: bool) -> Refusals:
        """Recipients their country would not deliver to; raises InvalidParameter when none is left."""
        if self._destination_rules is None:
            return Refusals({}, None)
        refusals = self._destination_rules.refusals(parsed, sender, unicode)
        if refusals.all_refused is not None:
            raise InvalidParameter(*refusals.all_refused)
        return refusals

    def _country_refusal(self, country: str, sender: str | None, unicode: bool) -> str | None:
        """Why `country`'s rules refuse this sender or text (a group's contact, a file's row), or None."""
        if self._destination_rules is None:
            return None
        return self._destination_rules.rules.check(country, sender, unicode).problem

    def _prices_for(self, request: SendRequest, prepared: _Prepared) -> Callable[[str], int | None]:
        """Millicredits per part (SMS, this account's prices) or per call (voice) by country; None: not open."""
        if request.voice is not None:
            return self._voice_price(request)
        account = prepared.account
        return lambda country: self._price_milli(country, account)

    # --- Personalised sends (services.personal_sends): groups with templates, CSV campaigns ---

    async def _check_groups(self, request: SendRequest, *, named: int, limit: int) -> None:
        """The groups exist, hold someone to send to unless valid numbers (`named`) are given too (a send to
        nobody is refused, as one whose numbers are all invalid is), and do not take the send beyond `limit`
        recipients (`http.max_recipients`, as for numbers): their distinct contacts and the numbers named beside
        them count, a number that is also a contact counting twice here (the cap is a bound, not a bill). Contacts
        added or removed between this check and the commit are sent as the store has them then; a send left
        without recipients reads as sent (`send_status`)."""
        if self._contacts is None:
            raise InvalidParameter("groups", "the address book is not available")
        groups = list(request.groups)
        missing = await self._contacts.missing_groups(request.account.id, groups)
        if missing:
            raise InvalidParameter("groups", f"unknown group {missing[0]}")
        members = await self._contacts.member_count(request.account.id, groups, max(0, limit - named))
        if not named and not members:
            raise InvalidParameter(
                "groups", "no contact in the group" if len(groups) == 1 else "no contact in the groups"
            )
        if named + members > limit:
            raise InvalidParameter("groups", f"more than {limit} recipients")
        _template(request)

    def _maker(self, request: SendRequest, prepared: _Prepared) -> MessageMaker:
        policy = NonGsmPolicy(request.non_gsm or request.account.non_gsm)
        stops: dict[str | None, int] = {}  # the stop mode depends on the sender only: worked out once per sender

        def analyse(text: str, sender: str | None) -> TextAnalysis:
            stop = stops.get(sender)
            if stop is None:
                stop = stops[sender] = self._stop_mode(replace(request, sender=sender), prepared.lane)
            return analyze(
                text,
                classe=request.classe,
                non_gsm=policy,
                max_parts=request.max_parts,
                stop_mention=self._stop_mention if stop else None,
                stop_mode=stop,
            )

        base = self._prices_for(request, prepared)
        countries = prepared.rules.countries
        if countries is None:
            price = base
        else:  # a group's contact or a file's row in a country the account may not send to: that recipient's 3560

            def price(country: str) -> int | None:
                return base(country) if country in countries else None

        rules = prepared.rules
        return MessageMaker(
            analyse,
            price,
            scheduled=prepared.scheduled,
            due_at=prepared.due_at,
            refused=self._country_refusal,
            sender_rule=(lambda sender: rules.problem(prepared.lane, sender, ())) if rules.approved_only else None,
        )

    def _personal_messages(
        self, request: SendRequest, prepared: _Prepared
    ) -> tuple[list[NewMessage], Callable[[Connection, NewSend], None] | None, TextAnalysis] | None:
        """A personalised send's messages (a campaign's), or its expansion in the acceptance transaction (a group
        send's); None for a send whose recipients all get one text."""
        if isinstance(request.rows, Campaign):
            if request.rows.first is None:
                raise InvalidParameter("rows", "no row")
            return [], None, request.rows.first  # its messages are spooled (NewSend.spooled)
        if request.rows is not None:
            made = self._campaign(request, prepared)
            first = next(made)
            return [first.message, *(p.message for p in made)], None, first.analysis
        if not request.groups:
            return None
        expand = group_expansion(
            request.account.id,
            request.groups,
            _template(request),
            prepared.parsed,
            self._maker(request, prepared),
            request.sender or None,
        )
        return [], expand, prepared.analysis

    async def _personal_preview(self, request: SendRequest, prepared: _Prepared) -> list[Personalised] | None:
        if isinstance(request.rows, Campaign):
            raise InvalidParameter("rows", "a campaign read row by row is not previewed")
        if request.rows is not None:
            return list(self._campaign(request, prepared))
        if not request.groups or self._contacts is None:
            return None
        template = _template(request)
        members = await self._contacts.members(request.account.id, list(request.groups))
        named = [r.msisdn for r in prepared.parsed if isinstance(r, Recipient)]
        known = await self._contacts.by_msisdn(request.account.id, named) if template.personal and named else {}
        return personalise(self._maker(request, prepared), template, prepared.parsed, members, known, request.sender)

    async def open_campaign(self, request: SendRequest) -> Campaign:
        """A campaign to fill row by row while its file is read (`request` has no rows yet): each row is checked
        and made into its message as it is added, by the rules `accept` applies; accept it with `rows=campaign`.
        Raises InvalidParameter for the request's own parameters, before any row is read."""
        rules = await self._account_rules.rules_for(request.account) if self._account_rules is not None else None
        prepared = await self._prepare(replace(request, rows=()), rules)
        maker = self._maker(request, prepared)
        return Campaign(
            maker, default_sender=request.sender or None, replies=request.classe == 4, spool_dir=self._spool_dir
        )

    def _campaign(self, request: SendRequest, prepared: _Prepared) -> Iterator[Personalised]:
        """Each row's message, one at a time (a campaign's analyses are not all held at once)."""
        assert not isinstance(request.rows, Campaign)
        rows = request.rows or ()
        if not rows:
            raise InvalidParameter("rows", "no row")
        made = campaign_messages(
            self._maker(request, prepared), rows, default_sender=request.sender, replies=request.classe == 4
        )
        try:
            yield from made
        except RowError as exc:
            raise InvalidParameter("rows", str(exc)) from None

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
        self,
        recipient: Recipient | InvalidRecipient,
        prepared: _Prepared,
        segments: int,
        scheduled: bool,
        due_at: int,
        prices: Callable[[str], int | None],
    ) -> NewMessage:
        if isinstance(recipient, InvalidRecipient):
            return NewMessage(recipient.raw[:20], None, State.FAILED, INVALID_RECIPIENT, 0, None)
        price = prices(recipient.country)
        refused = prepared.refusals.by_country.get(recipient.country)
        if price is None or refused is not None:
            return NewMessage(recipient.msisdn, recipient.country, State.FAILED, NOT_ROUTABLE, 0, None, detail=refused)
        state = State.SCHEDULED if scheduled else State.QUEUED
        return NewMessage(
            recipient.msisdn,
            recipient.country,
            state,
            DEFAULT_CODE[state],
            price * segments,
            due_at,
        )

    def _voice_price(self, request: SendRequest) -> Callable[[str], int | None]:
        if self._voice is None:
            raise InvalidParameter("recipients", "voice messages are not open on this platform")
        return self._voice.price_milli

    def _price_milli(self, country: str, account: str) -> int | None:
        # Keyed by account only for accounts with prices of their own, so the memo stays one entry per country.
        key = (country, account if account in self._prices.accounts else None)
        if key not in self._milli:
            price = self._prices.price(country, key[1])
            self._milli[key] = None if price is None else to_milli(price)
        return self._milli[key]


def message_facts(send: NewSend) -> list[MessageFacts]:
    """Every message of a send as just written, as the message resources show it: what a door answers to the
    send (the REST door's messages, `martinet send`'s lines) without reading it back."""
    return [
        MessageFacts(
            send.id,
            seq,
            send.created_at,
            send.lane,
            message.msisdn,
            message.sender or send.sender,  # a personalised message's own, else the send's
            send.text if message.text is None else message.text,
            send.encoding,
            message.segments or send.segments,
            message.state,
            message.code,
            message.cost,
            send.created_at,
            message.ref_client or send.ref_client,
            send.scheduled_at,
            send.channel,
        )
        for seq, message in enumerate(send.messages)
    ]


def _template(request: SendRequest) -> Template:
    try:
        return parse_template(request.text or "")
    except TemplateError as exc:
        raise InvalidParameter("text", str(exc)) from None


def _problem(item: Personalised) -> str | None:
    if isinstance(item.recipient, InvalidRecipient):
        return item.recipient.reason
    if item.message.code == MESSAGE_ERROR:  # a template rendered blank for this recipient
        return item.message.detail
    if item.message.code != NOT_ROUTABLE:
        return None
    return item.message.detail or "not routable"


def _check_schedule(scheduled_at: int, now: int, horizon_days: int, timezone: str) -> None:
    """A scheduled time is refused (`date_envoi`) beyond the horizon or before 2000, rather than kept for years or
    sent at once: either is a client's mistake (a year typed wrong, a zero date), and a send parked for decades
    holds its credits and a queue row all that time. A time in the recent past still means "now".
    """
    if scheduled_at > now + horizon_days * 86_400_000:
        raise InvalidParameter("scheduled_at", f"more than {horizon_days} days ahead")
    earliest = datetime(EARLIEST_SCHEDULE_YEAR, 1, 1, tzinfo=ZoneInfo(timezone))
    if scheduled_at < int(earliest.timestamp() * 1000):
        raise InvalidParameter("scheduled_at", SCHEDULED_TOO_EARLY)


def _check_voice_fields(request: SendRequest) -> None:
    """Refuses what a voice message cannot honour, rather than accepting and ignoring it: a call shows the
    trunk's number and gets no replies."""
    if request.groups or request.rows is not None:
        raise InvalidParameter("groups", "a voice message is sent to numbers (numero), not to groups or files")
    if request.sender:
        raise InvalidParameter("sender", "a voice message is called from the trunk's number, not from a sender")
    if request.classe == 4 or request.notification_url_reponse:
        raise InvalidParameter("notification_url_reponse", "a voice message gets no replies")


def _check_parameters(request: SendRequest) -> None:
    if not request.text and request.rows is None:
        raise InvalidParameter("text", "missing")
    if request.text and request.text.isspace() and request.rows is None:  # an empty template field, a blank form
        raise InvalidParameter("text", "empty")
    if (not request.recipients or not request.recipients.strip()) and not request.groups and request.rows is None:
        raise InvalidParameter("recipients", "missing")
    if request.classe not in CLASSES:
        raise InvalidParameter("classe", "must be 2, 4 or 9")
    if not 1 <= request.max_parts <= MAX_PARTS:
        raise InvalidParameter("max_parts", f"must be between 1 and {MAX_PARTS}")
    if request.ref_client is not None and len(request.ref_client) > MAX_REF_CLIENT:
        raise InvalidParameter("ref_client", f"longer than {MAX_REF_CLIENT} characters")
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
            raise InvalidParameter("sender", "not allowed with classe_msg=4 (replies come to a short number)")
        problem = sender_problem(request.sender)
        if problem is not None:
            raise InvalidParameter("sender", problem)
