"""The acceptance rules of the send service, tested on the service itself with the store held in memory.

Both doors reach these rules through `SendService.accept`; the HTTP tests check how each door words a refusal,
these check the rules: which recipients are sent to and at what price, what the text becomes, when a send is
scheduled, its lane and validity, what credit, a taken idempotency key and opt-outs do to the answer, and that a
refused send reaches the store not at all. The writer below keeps the store's promise (`SendWriter`) in memory:
a balance per account debited all-or-nothing, opt-out lists, taken keys. The store's own side of that promise is
tested on both databases in tests/store/test_acceptance.py.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from martinet.domain.lanes import MAX_VALIDITY, MIN_VALIDITY, Lane
from martinet.domain.pricing import PriceTable, load_default_price_table
from martinet.domain.status import DEFAULT_CODE, INVALID_RECIPIENT, NOT_ROUTABLE, OPTED_OUT, State
from martinet.domain.text import Encoding
from martinet.services.accept import (
    SCHEDULED_TOO_EARLY,
    STOP_REQUIRED,
    DuplicateRequest,
    InvalidParameter,
    NotEnoughCredit,
    SendRequest,
    SendService,
    StopPolicy,
)
from martinet.services.callback_urls import CallbackUrlCheck
from martinet.services.rate_limits import RateLimited, RateLimiter
from martinet.services.voice_sends import VoiceRequest, VoiceRules
from martinet.store.acceptance import DUPLICATE, KeyedRequest, NewSend, Verdict
from martinet.store.accounts import Account

pytestmark = pytest.mark.unit

# 2030-01-01T00:00:00Z: the service's clock.
NOW = 1_893_456_000_000
DAY_MS = 86_400_000
STOP = "STOP 36180"
FR, US = "0612345678", "+12015550123"  # a French mobile (priced), a US number (not priced below)
PRICES = PriceTable(prices={"FR": Decimal("0.05"), "BE": Decimal("0.08")})
FR_PART = 50  # millicredits per part to France


class MemoryWriter:
    """The acceptance store in memory: sends written all-or-nothing against a balance per account."""

    def __init__(self, balance: int = 1_000_000, opted_out: frozenset[str] = frozenset()) -> None:
        self.balance = balance
        self.opted_out = opted_out  # numbers on the account's opt-out list (every lane, for these tests)
        self.written: list[NewSend] = []
        self.keys: set[tuple[int, str]] = set()

    async def accept(self, send: NewSend) -> Verdict:
        if send.keyed is not None and (send.account_id, send.keyed.key) in self.keys:
            return DUPLICATE
        for message in send.messages:
            if message.due_at is not None and message.msisdn in self.opted_out:
                message.state, message.code, message.cost, message.due_at = State.FAILED, OPTED_OUT, 0, None
        send.cost = sum(m.cost for m in send.messages)
        if send.cost > self.balance:
            return False
        if send.keyed is not None:
            self.keys.add((send.account_id, send.keyed.key))
        self.balance -= send.cost
        self.written.append(send)
        return True


ACCOUNT = Account(
    id=7,
    login="acme",
    language="fr",
    timezone="Europe/Paris",
    lane=Lane.NOTIFICATION,
    non_gsm="replace",
    parent_id=None,
)


def service(writer: MemoryWriter, **options: Any) -> SendService:
    ids = iter(f"send{n:08d}" for n in range(1000))
    values: dict[str, Any] = {
        "stop_mention": STOP,
        "now_ms": lambda: NOW,
        "new_id": lambda _now: next(ids),
        "validity": {"otp": 300, "notification": 86_400},
        **options,
    }
    return SendService(writer, PRICES, **values)


def request(**fields: Any) -> SendRequest:
    values: dict[str, Any] = {"account": ACCOUNT, "text": "Votre code est 1234", "recipients": FR, **fields}
    return SendRequest(**values)


async def refusal(sends: SendService, writer: MemoryWriter, **fields: Any) -> tuple[str, str]:
    """The parameter a request is refused for and why; the store must not have seen it."""
    with pytest.raises(InvalidParameter) as refused:
        await sends.accept(request(**fields))
    assert writer.written == []
    return refused.value.name, refused.value.problem


# --- recipients ------------------------------------------------------------------------------------------------


async def test_each_recipient_is_priced_by_its_country_and_the_unsendable_cost_nothing() -> None:
    writer = MemoryWriter()
    accepted = await service(writer).accept(request(recipients=f"{FR}, 12, {US}, +32470123456"))
    (send,) = writer.written
    fates = [(m.msisdn, m.country, m.state, m.code, m.cost) for m in send.messages]
    assert fates == [
        ("33612345678", "FR", State.QUEUED, DEFAULT_CODE[State.QUEUED], FR_PART),
        ("12", None, State.FAILED, INVALID_RECIPIENT, 0),
        ("12015550123", "US", State.FAILED, NOT_ROUTABLE, 0),
        ("32470123456", "BE", State.QUEUED, DEFAULT_CODE[State.QUEUED], 80),
    ]
    assert (accepted.recipients, accepted.refused, accepted.cost) == (2, 2, FR_PART + 80)
    assert send.cost == accepted.cost
    assert writer.balance == 1_000_000 - accepted.cost


async def test_a_number_named_twice_is_sent_once() -> None:
    writer = MemoryWriter()
    accepted = await service(writer).accept(request(recipients=f"{FR},+33612345678;0612345678"))
    assert [m.msisdn for m in writer.written[0].messages] == ["33612345678"]
    assert accepted.cost == FR_PART


async def test_a_send_without_one_valid_recipient_is_refused() -> None:
    writer = MemoryWriter()
    sends = service(writer)
    assert await refusal(sends, writer, recipients="12, abc") == ("recipients", "no valid recipient")
    assert await refusal(sends, writer, recipients=" ") == ("recipients", "missing")
    assert await refusal(sends, writer, recipients=None) == ("recipients", "missing")


async def test_the_recipient_limit_counts_entries_as_written() -> None:
    writer = MemoryWriter()
    sends = service(writer, max_recipients=3)
    # Four entries, one invalid and one a duplicate: still four over a limit of three.
    assert await refusal(sends, writer, recipients=f"{FR},12,{FR},+32470123456") == (
        "recipients",
        "more than 3 recipients",
    )
    # A request may ask for fewer than the service allows, never more.
    assert await refusal(sends, writer, recipients=f"{FR},+32470123456", max_recipients=1) == (
        "recipients",
        "more than 1 recipients",
    )
    accepted = await sends.accept(request(recipients=f"{FR},12,+32470123456", max_recipients=50))
    assert accepted.recipients == 2


# --- sender and parameters -------------------------------------------------------------------------------------


async def test_sender_rules() -> None:
    writer = MemoryWriter()
    sends = service(writer)
    name, _ = await refusal(sends, writer, sender="far too long a sender")
    assert name == "sender"
    assert await refusal(sends, writer, sender="Acme", classe=4) == (
        "sender",
        "not allowed with classe_msg=4 (replies come to a short number)",
    )
    await sends.accept(request(sender="Acme"))
    assert writer.written[0].sender == "Acme"
    await sends.accept(request(sender=""))
    assert writer.written[1].sender is None  # an empty sender is no sender


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"text": ""}, "text"),
        ({"text": None}, "text"),
        ({"classe": 3}, "classe"),
        ({"max_parts": 0}, "max_parts"),
        ({"max_parts": 11}, "max_parts"),
        ({"ref_client": "r" * 41}, "ref_client"),
        ({"stop": 3}, "stop"),
        ({"notification_url": "https://example.com/" + "a" * 2000}, "notification_url"),
        ({"notification_url_reponse": "https://example.com/" + "a" * 2000}, "notification_url_reponse"),
    ],
)
async def test_parameters_out_of_their_range_are_refused(fields: dict[str, Any], name: str) -> None:
    writer = MemoryWriter()
    assert (await refusal(service(writer), writer, **fields))[0] == name


async def test_callback_urls_to_private_networks_are_refused_unless_allowed() -> None:
    writer = MemoryWriter()
    strict = service(writer, url_check=CallbackUrlCheck(allow_private_networks=False))
    name, _ = await refusal(strict, writer, notification_url="http://127.0.0.1/report")
    assert name == "notification_url"
    name, _ = await refusal(strict, writer, notification_url_reponse="http://10.0.0.8/replies")
    assert name == "notification_url_reponse"
    open_ = service(writer, url_check=CallbackUrlCheck(allow_private_networks=True))
    await open_.accept(request(notification_url="http://127.0.0.1/report"))
    assert writer.written[0].notification_url == "http://127.0.0.1/report"
    again = MemoryWriter()  # the answer is per setting, not per URL only
    strict = service(again, url_check=CallbackUrlCheck(allow_private_networks=False))
    name, _ = await refusal(strict, again, notification_url="http://127.0.0.1/report")
    assert name == "notification_url"


# --- text --------------------------------------------------------------------------------------------------------


async def test_a_long_text_costs_each_of_its_parts_and_is_cut_at_max_parts() -> None:
    writer = MemoryWriter()
    sends = service(writer)
    accepted = await sends.accept(request(text="a" * 200))  # two parts of 153 GSM-7 characters
    assert (accepted.analysis.segments, accepted.cost) == (2, 2 * FR_PART)
    assert writer.written[0].messages[0].cost == 2 * FR_PART
    cut = await sends.accept(request(text="a" * 400, max_parts=2))
    assert (cut.analysis.segments, len(cut.analysis.text), cut.cost) == (2, 306, 2 * FR_PART)


async def test_classe_9_is_unicode_and_classe_2_replaces_what_gsm_lacks() -> None:
    writer = MemoryWriter()
    sends = service(writer)
    unicode = await sends.accept(request(text="Merci ☺", classe=9))
    assert (unicode.analysis.encoding, writer.written[0].encoding) == (Encoding.UCS2, str(Encoding.UCS2))
    replaced = await sends.accept(request(text="Merci ☺"))
    assert replaced.analysis.encoding == Encoding.GSM7
    assert "☺" not in writer.written[1].text


@pytest.mark.parametrize(
    ("policy", "fields", "mention"),
    [
        ("add", {"lane": "marketing", "sender": "Acme"}, True),  # added as with stop=1
        ("off", {"lane": "marketing", "sender": "Acme"}, False),
        ("add", {"lane": "notification", "sender": "Acme"}, False),  # only marketing needs it
        ("add", {"lane": "marketing"}, False),  # the short number's own mention applies
        ("off", {"stop": 2}, True),  # asked for: always added
    ],
)
async def test_the_opt_out_mention(policy: StopPolicy, fields: dict[str, Any], mention: bool) -> None:
    writer = MemoryWriter()
    accepted = await service(writer, marketing_stop=policy).accept(request(text="Soldes", **fields))
    assert accepted.analysis.text == ("Soldes " + STOP if mention else "Soldes")
    assert writer.written[0].text == accepted.analysis.text


async def test_a_marketing_send_from_a_sender_without_stop_can_be_refused() -> None:
    writer = MemoryWriter()
    sends = service(writer, marketing_stop="refuse")
    assert await refusal(sends, writer, lane="marketing", sender="Acme") == ("stop", STOP_REQUIRED)
    await sends.accept(request(lane="marketing", sender="Acme", stop=1))
    assert writer.written[0].text.endswith(STOP)


# --- schedule, lane, validity ------------------------------------------------------------------------------------


async def test_a_send_for_later_is_scheduled_and_one_for_now_queued() -> None:
    writer = MemoryWriter()
    sends = service(writer)
    later = await sends.accept(request(scheduled_at=NOW + 3_600_000))
    assert later.scheduled
    message = writer.written[0].messages[0]
    assert (message.state, message.due_at, writer.written[0].scheduled_at) == (
        State.SCHEDULED,
        NOW + 3_600_000,
        NOW + 3_600_000,
    )
    # A moment ago still means now (a client's clock a little behind).
    now = await sends.accept(request(scheduled_at=NOW - 60_000))
    assert not now.scheduled
    message = writer.written[1].messages[0]
    assert (message.state, message.due_at, writer.written[1].scheduled_at) == (State.QUEUED, NOW, None)


async def test_the_schedule_horizon_and_the_year_2000_bound_the_scheduled_time() -> None:
    writer = MemoryWriter()
    sends = service(writer, schedule_horizon_days=30)
    assert await refusal(sends, writer, scheduled_at=NOW + 30 * DAY_MS + 1) == (
        "scheduled_at",
        "more than 30 days ahead",
    )
    # 1999-12-31T23:30:00Z is already 2000 in Paris; 22:30Z is not.
    assert await refusal(sends, writer, scheduled_at=946_679_400_000) == ("scheduled_at", SCHEDULED_TOO_EARLY)
    assert (await sends.accept(request(scheduled_at=946_683_000_000))).scheduled is False
    assert (await sends.accept(request(scheduled_at=NOW + 30 * DAY_MS))).scheduled


async def test_the_lane_is_the_requests_or_the_accounts_and_sets_the_default_validity() -> None:
    writer = MemoryWriter()
    sends = service(writer)
    await sends.accept(request())
    await sends.accept(request(lane="otp"))
    await sends.accept(request(lane="marketing"))  # no validity configured for it: never expires
    await sends.accept(request(lane="otp", validity=600))
    await sends.accept(request(lane="otp", validity=600, scheduled_at=NOW + 60_000))
    lanes = [(s.lane, s.validity, s.expires_at) for s in writer.written]
    assert lanes == [
        ("notification", None, NOW + 86_400_000),
        ("otp", None, NOW + 300_000),
        ("marketing", None, None),
        ("otp", 600, NOW + 600_000),
        ("otp", 600, NOW + 60_000 + 600_000),  # counted from when it is due
    ]


async def test_a_validity_outside_its_bounds_is_refused() -> None:
    writer = MemoryWriter()
    sends = service(writer)
    for seconds in (MIN_VALIDITY - 1, MAX_VALIDITY + 1):
        name, _ = await refusal(sends, writer, validity=seconds)
        assert name == "validity"
    for seconds in (MIN_VALIDITY, MAX_VALIDITY):
        await sends.accept(request(validity=seconds))
    assert len(writer.written) == 2


# --- what the store decides: credit, keys, opt-outs --------------------------------------------------------------


async def test_a_send_the_balance_does_not_cover_is_refused_whole() -> None:
    writer = MemoryWriter(balance=2 * FR_PART)
    sends = service(writer)
    with pytest.raises(NotEnoughCredit) as refused:
        await sends.accept(request(recipients=f"{FR},+33612345679,+33612345670"))
    assert refused.value.cost == 3 * FR_PART
    assert (writer.written, writer.balance) == ([], 2 * FR_PART)
    accepted = await sends.accept(request(recipients=f"{FR},+33612345679"))
    assert (accepted.cost, writer.balance) == (2 * FR_PART, 0)


async def test_a_taken_idempotency_key_is_a_duplicate() -> None:
    writer = MemoryWriter()
    sends = service(writer)
    keyed = KeyedRequest("order-1", "fingerprint", lambda send: (201, b"{}"))
    await sends.accept(request(keyed=keyed))
    with pytest.raises(DuplicateRequest) as duplicate:
        await sends.accept(request(keyed=keyed))
    assert duplicate.value.key == "order-1"
    assert len(writer.written) == 1


async def test_the_answer_counts_what_the_store_found_opted_out() -> None:
    writer = MemoryWriter(opted_out=frozenset({"33612345678"}))
    accepted = await service(writer).accept(request(recipients=f"{FR},+32470123456"))
    assert (accepted.recipients, accepted.refused, accepted.cost) == (1, 1, 80)
    assert [m.code for m in accepted.send.messages] == [OPTED_OUT, DEFAULT_CODE[State.QUEUED]]


# --- rate limit, preview ---------------------------------------------------------------------------------------


async def test_the_rate_limit_is_checked_before_anything_else() -> None:
    writer = MemoryWriter()
    sends = service(writer, rate_limiter=RateLimiter(0, clock=lambda: 0.0))
    limited = replace(ACCOUNT, rate_limit=1)
    await sends.accept(request(account=limited))
    with pytest.raises(RateLimited):
        await sends.accept(request(account=limited, text=""))  # refused for its rate before its text
    await sends.accept(request())  # the account's own limit only: unlimited by default
    assert len(writer.written) == 2


async def test_a_preview_prices_like_accept_and_stores_nothing() -> None:
    writer = MemoryWriter()
    sends = service(writer)
    preview = await sends.preview(request(text="a" * 200, recipients=f"{FR},12,{US}"))
    assert [(r.cost, r.problem) for r in preview.recipients] == [
        (2 * FR_PART, None),
        (0, "not a valid phone number"),
        (0, "not routable"),
    ]
    assert (preview.cost, preview.lane, writer.written) == (2 * FR_PART, "notification", [])
    accepted = await sends.accept(request(text="a" * 200, recipients=f"{FR},12,{US}"))
    assert accepted.cost == preview.cost


async def test_voice_messages_are_refused_where_voice_is_not_open() -> None:
    writer = MemoryWriter()
    sends = service(writer)
    assert await refusal(sends, writer, voice=VoiceRequest()) == (
        "text",
        "voice messages are not open on this platform",
    )


async def test_voice_messages_are_refused_without_a_sip_trunk_except_to_test_mode_accounts() -> None:
    writer = MemoryWriter()
    sends = service(writer, voice=VoiceRules(load_default_price_table(), trunks=False))
    assert await refusal(sends, writer, voice=VoiceRequest()) == (
        "text",
        "voice messages are not open on this platform",
    )
    accepted = await sends.accept(request(voice=VoiceRequest(), account=replace(ACCOUNT, sandbox=True)))
    assert (accepted.cost, [s.channel for s in writer.written]) == (1500, ["voice"])
