"""Sends whose recipients do not all get the same text: a template sent to groups of contacts, and CSV campaigns
(one row per message, each with its own text, sender and reference).

Each recipient's text is rendered, then analysed, counted and priced on its own, by the same text rules as any
send (`domain.text.analyze`): a recipient whose first name is long may need a second part, and pays for it.
Analyses are cached by text, so a template without fields, or a campaign repeating one text, is analysed once.

Group sends are expanded in the acceptance transaction (`NewSend.expand`): the recipients are the contacts the
groups hold when the send is committed, deduplicated with the numbers of `numero` (which come first).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import NamedTuple

from sqlalchemy.engine import Connection

from martinet.domain.contacts import Template, template_values
from martinet.domain.recipients import InvalidRecipient, Recipient, parse_recipient
from martinet.domain.sender import sender_problem
from martinet.domain.status import DEFAULT_CODE, INVALID_RECIPIENT, NOT_ROUTABLE, State
from martinet.domain.text import Encoding, TextAnalysis
from martinet.domain.valueclass import valueclass
from martinet.store import contacts as contact_rows
from martinet.store.acceptance import MessageFields, NewMessage, NewSend, SpooledMessages
from martinet.store.contacts import ContactRow

MAX_REF_CLIENT = 40
#: Analyses kept for reuse: enough for a template's few distinct texts, not a campaign's 100,000.
CACHED_ANALYSES = 1000
CACHED_SENDERS = 1000
_FAILED = str(State.FAILED)
#: smsmode's "Erreur de message": a recipient whose rendered text is blank gets it, failed and free (see `personalise`).
MESSAGE_ERROR = 36
BLANK_RENDERED = "blank once rendered: the fields it names are empty for this contact"


class RowError(ValueError):
    """A CSV campaign row the rules refuse: the whole file is refused, naming the row and the column."""

    def __init__(self, line: int, column: str, problem: str) -> None:
        super().__init__(f"line {line}: {column}: {problem}")
        self.line = line
        self.column = column
        self.problem = problem


class CampaignRow(NamedTuple):
    """One row of a CSV campaign, as the file says it (`line`: its number in the file, the header being 1).
    A named tuple: made once per row of files of 100,000, it costs less to make than a dataclass."""

    line: int
    numero: str
    message: str
    sender: str | None = None
    ref_client: str | None = None


@valueclass
class Personalised:
    """A recipient with its own text: what `accept` stores, and what a preview shows."""

    recipient: Recipient | InvalidRecipient
    analysis: TextAnalysis
    message: NewMessage


class MessageMaker:
    """Makes the message of one recipient and one text: analysed (cached by text and sender), priced.

    `analyse(text, sender)` applies the send's text rules (class, character policy, parts limit, STOP mention
    according to the sender); `price(country)` is the price of one part in millicredits, None when unpriced.
    """

    def __init__(
        self,
        analyse: Callable[[str, str | None], TextAnalysis],
        price: Callable[[str], int | None],
        *,
        scheduled: bool,
        due_at: int,
        refused: Callable[[str, str | None, bool], str | None] | None = None,
        sender_rule: Callable[[str], tuple[str, str] | None] | None = None,
    ) -> None:
        """`refused(country, sender, unicode)`: why the destination's country rules refuse a message (it then gets
        3560, as an unpriced one); `sender_rule(sender)`: the (parameter, problem) the account's rules find with a
        file row's own sender (the row is then refused)."""
        self._analyse = analyse
        self._price = price
        self._refused = refused
        self._sender_rule = sender_rule
        state = State.SCHEDULED if scheduled else State.QUEUED
        self._state, self._code = str(state), DEFAULT_CODE[state]
        self._due_at = due_at
        self._cache: dict[tuple[str, str | None], TextAnalysis] = {}
        # Price of one part by (country, sender, UCS-2): a campaign has a few, its rows many.
        self._part_prices: dict[tuple[str, str | None, bool], tuple[int | None, str | None]] = {}
        self._senders: dict[str, tuple[str, str] | None] = {}

    def analysis(self, text: str, sender: str | None) -> TextAnalysis:
        key = (text, sender)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= CACHED_ANALYSES:  # a campaign of distinct texts: keep memory flat
                self._cache.clear()
            found = self._cache[key] = self._analyse(text, sender)
        return found

    def make(
        self,
        recipient: Recipient | InvalidRecipient,
        text: str,
        sender: str | None = None,
        ref_client: str | None = None,
    ) -> Personalised:
        analysis, fields = self.fields(recipient, text, sender, ref_client)
        return Personalised(recipient, analysis, NewMessage(*fields))

    def blank(self, recipient: Recipient, text: str, sender: str | None) -> Personalised:
        """The message of a recipient whose rendered text is blank: failed with 36, costing nothing, the reason
        kept as its status's detail (reports and the preview show it)."""
        analysis = self.analysis(text, sender)
        message = NewMessage(
            recipient.msisdn,
            recipient.country,
            _FAILED,
            MESSAGE_ERROR,
            0,
            None,
            analysis.text,
            analysis.segments,
            sender,
            None,
            BLANK_RENDERED,
        )
        return Personalised(recipient, analysis, message)

    def fields(
        self, recipient: Recipient | InvalidRecipient, text: str, sender: str | None, ref_client: str | None
    ) -> tuple[TextAnalysis, MessageFields]:
        """The text's analysis and the message as a tuple of plain values (NewMessage's fields, in order)."""
        analysis = self.analysis(text, sender)
        # The text as given when the rules left it unchanged: one string per row kept in memory, not two.
        own_text = text if analysis.text == text else analysis.text
        if isinstance(recipient, InvalidRecipient):
            return analysis, (
                recipient.raw[:20],
                None,
                _FAILED,
                INVALID_RECIPIENT,
                0,
                None,
                own_text,
                analysis.segments,
                sender,
                ref_client,
                None,
            )
        country = recipient.country
        price, refused = self._part_price(country, sender, analysis.encoding == Encoding.UCS2)
        if price is None or refused is not None:
            state, code, cost, due_at = _FAILED, NOT_ROUTABLE, 0, None
        else:
            state, code, cost, due_at = self._state, self._code, price * analysis.segments, self._due_at
        return analysis, (
            recipient.msisdn,
            country,
            state,
            code,
            cost,
            due_at,
            own_text,
            analysis.segments,
            sender,
            ref_client,
            refused,
        )

    def sender_check(self, sender: str) -> tuple[str, str] | None:
        """The (column, problem) for a row's own sender the rules refuse, else None. Remembered for a campaign's
        first CACHED_SENDERS senders (a campaign names a few, its rows many times)."""
        try:
            return self._senders[sender]
        except KeyError:
            pass
        found: tuple[str, str] | None = None
        problem = sender_problem(sender)
        if problem is not None:
            found = ("emetteur", problem)
        elif self._sender_rule is not None:
            refusal = self._sender_rule(sender)
            if refusal is not None:
                name, problem = refusal
                found = ("emetteur" if name == "sender" else name, problem)  # named by its column
        if len(self._senders) < CACHED_SENDERS:
            self._senders[sender] = found
        return found

    def _part_price(self, country: str, sender: str | None, unicode: bool) -> tuple[int | None, str | None]:
        """One part's price to `country` (None when unpriced) and why the country's rules refuse this sender or
        this text (None when they do not): either way the message gets 3560, as an unpriced one."""
        key = (country, sender, unicode)
        try:
            return self._part_prices[key]
        except KeyError:
            refused = None if self._refused is None else self._refused(country, sender, unicode)
            found = self._part_prices[key] = (self._price(country), refused)
            return found


# --- Templates sent to groups ---


def contact_recipient(row: ContactRow) -> Recipient:
    return Recipient(row.msisdn, row.msisdn, row.country or "", "mobile")


def values_of(row: ContactRow) -> dict[str, str]:
    return template_values(
        row.msisdn, row.last_name, row.first_name, row.company, row.birth_date, row.other, row.fields
    )


def personalise(
    maker: MessageMaker,
    template: Template,
    numbers: Sequence[Recipient | InvalidRecipient],
    members: Sequence[ContactRow],
    known: Mapping[str, ContactRow],
    sender: str | None,
) -> list[Personalised]:
    """The messages of a template send: the numbers of `numero` first (rendered with their contact's fields when
    the address book has them, `known`), then the groups' contacts not already named, each rendered.

    A recipient whose text renders blank (`{prenom}` alone, for a contact without a first name) is not sent an
    empty SMS nor charged, and does not stop the others: its message fails at once with 36 (`maker.blank`), as a
    number refused by its country's rules does, so reports name who was left out and why."""
    found: list[Personalised] = []
    seen: set[str] = set()
    empty: dict[str, str] = {}
    for recipient in numbers:
        if isinstance(recipient, Recipient):
            seen.add(recipient.msisdn)
            contact = known.get(recipient.msisdn)
            values = values_of(contact) if contact is not None else empty
        else:
            values = empty
        found.append(_rendered(maker, recipient, template.render(values), sender))
    for row in members:
        if row.msisdn in seen:
            continue
        seen.add(row.msisdn)
        found.append(_rendered(maker, contact_recipient(row), template.render(values_of(row)), sender))
    return found


def _rendered(
    maker: MessageMaker, recipient: Recipient | InvalidRecipient, text: str, sender: str | None
) -> Personalised:
    if isinstance(recipient, Recipient) and (not text or text.isspace()):
        return maker.blank(recipient, text, sender)
    return maker.make(recipient, text, sender)


def group_expansion(
    account_id: int,
    groups: Sequence[str],
    template: Template,
    numbers: Sequence[Recipient | InvalidRecipient],
    maker: MessageMaker,
    sender: str | None,
) -> Callable[[Connection, NewSend], None]:
    """The `NewSend.expand` of a group send: reads the groups' contacts in the acceptance transaction."""

    def expand(conn: Connection, send: NewSend) -> None:
        members = contact_rows.members(conn, account_id, groups)
        known: Mapping[str, ContactRow] = {}
        if template.personal:
            named = [r.msisdn for r in numbers if isinstance(r, Recipient)]
            known = contact_rows.by_msisdn(conn, account_id, named) if named else {}
        made = personalise(maker, template, numbers, members, known, sender)
        send.messages = [p.message for p in made]
        send.cost = sum(m.cost for m in send.messages)
        send.segments = max((p.analysis.segments for p in made), default=send.segments)

    return expand


# --- CSV campaigns ---


def campaign_messages(
    maker: MessageMaker,
    rows: Sequence[CampaignRow],
    *,
    default_sender: str | None,
    replies: bool,
) -> Iterator[Personalised]:
    """Every row as its message, or RowError for the first row the rules refuse (nothing is kept then).
    A generator: acceptance keeps each row's message only, not its analysis.

    A row is refused when its text is empty or blank, its sender or reference breaks the rules of `emetteur` and
    `refClient`, or its number is not one at all; a number that is well-formed but unusable (no such numbering
    plan, unpriced) is kept and reported with its own status, as in any send.
    """
    for row in rows:
        yield campaign_message(maker, row, default_sender=default_sender, replies=replies)


def campaign_message(
    maker: MessageMaker, row: CampaignRow, *, default_sender: str | None, replies: bool
) -> Personalised:
    """One row as its message (see `campaign_messages`), or RowError."""
    recipient, sender = check_row(maker, row, default_sender=default_sender, replies=replies)
    return maker.make(recipient, row.message, sender, row.ref_client or None)


def check_row(
    maker: MessageMaker, row: CampaignRow, *, default_sender: str | None, replies: bool
) -> tuple[Recipient | InvalidRecipient, str | None]:
    """The row's recipient and sender, or RowError for what the rules refuse (see `campaign_messages`)."""
    if not row.message:
        raise RowError(row.line, "message", "missing")
    if row.message.isspace():  # refused as sendSMS.do refuses a blank text: it would be charged for nothing
        raise RowError(row.line, "message", "empty")
    if not row.numero.strip():
        raise RowError(row.line, "numero", "missing")
    sender = row.sender or default_sender or None
    if sender:
        if replies:
            raise RowError(row.line, "emetteur", "not allowed with classe_msg=4 (replies come to a short number)")
        refused = maker.sender_check(sender)
        if refused is not None:
            raise RowError(row.line, *refused)
    if row.ref_client is not None and len(row.ref_client) > MAX_REF_CLIENT:
        raise RowError(row.line, "refClient", f"longer than {MAX_REF_CLIENT} characters")
    recipient = parse_recipient(row.numero)
    if isinstance(recipient, InvalidRecipient) and not any(c.isdigit() for c in row.numero):
        raise RowError(row.line, "numero", recipient.reason)
    return recipient, sender


class Campaign:
    """A CSV campaign made into messages row by row, as its file is read: neither the rows nor their messages are
    kept in memory (each message goes to a spool on disk, `store.acceptance.SpooledMessages`), so a campaign's
    memory does not grow with its file. `add` raises RowError at the first row the rules refuse; `close` removes
    the spool, and must follow whatever became of the campaign (the door closes it once answered)."""

    def __init__(
        self, maker: MessageMaker, *, default_sender: str | None, replies: bool, spool_dir: str | None = None
    ) -> None:
        self._maker = maker
        self._default_sender = default_sender
        self._replies = replies
        self.spooled = SpooledMessages(spool_dir)
        self.first: TextAnalysis | None = None  # the first row's analysis: the send's text, as smsList.do shows it

    def add(self, row: CampaignRow) -> None:
        recipient, sender = check_row(self._maker, row, default_sender=self._default_sender, replies=self._replies)
        analysis, fields = self._maker.fields(recipient, row.message, sender, row.ref_client or None)
        if self.first is None:
            self.first = analysis
        self.spooled.add(fields)

    def __len__(self) -> int:
        return len(self.spooled)

    def close(self) -> None:
        self.spooled.close()
