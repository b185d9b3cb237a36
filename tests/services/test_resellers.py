"""The account tree on both databases: who manages whom in two- and three-level trees, credit transfers atomic
with the ledger on both sides (also under 1,000 concurrent transfers and sends), closing a sub-account, the
ledger and usage, sender IDs, keys, and the limits inherited down the tree as acceptance applies them."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from martinet.app import price_table
from martinet.clock import now_ms
from martinet.domain.account_rules import AppliedLimits
from martinet.domain.ids import new_send_id
from martinet.domain.keys import UNLIMITED, KeyLimits, parse_lanes, parse_networks
from martinet.domain.status import State
from martinet.services.accept import InvalidParameter, SendRequest, SendService
from martinet.services.account_rules import AccountRulesCache
from martinet.services.auth import Authenticator
from martinet.services.contacts import ContactService
from martinet.services.personal_sends import CampaignRow
from martinet.services.rate_limits import RateLimited, RateLimiter
from martinet.services.resellers import InvalidField, NotAllowed, NotManaged, ResellerService
from martinet.store.acceptance import AcceptanceWriter, NewMessage, NewSend
from martinet.store.account_tree import AccountClosed, AccountTree, HasSubAccounts
from martinet.store.accounts import Account, AccountStore, InsufficientCredit
from martinet.store.contacts import ContactStore
from martinet.store.database import Database
from martinet.store.ledger import LedgerStore
from martinet.store.schema import messages
from martinet.store.senders import SenderStore
from tests.gateway import test_settings as gateway_settings

CREDIT = 1000  # millicredits


@dataclass
class Tree:
    db: Database
    accounts: AccountStore
    tree: AccountTree
    senders: SenderStore
    service: ResellerService
    reseller: Account
    customer: Account  # child of reseller
    department: Account  # child of customer (three levels)
    other: Account  # another top-level account
    operator: Account


async def _account(accounts: AccountStore, login: str) -> Account:
    found = await accounts.by_login(login)
    assert found is not None
    return found[0]


@pytest.fixture
async def tree(db: Database) -> AsyncIterator[Tree]:
    accounts = AccountStore(db, now_ms)
    tree = AccountTree(db, now_ms)
    senders = SenderStore(db, now_ms)
    service = ResellerService(accounts, tree, senders, LedgerStore(db), default_rate=0)
    common = {"password_hash": None, "language": "fr", "timezone": "Europe/Paris", "lane": "notification"}
    reseller = await accounts.create("reseller", non_gsm="replace", **common)  # type: ignore[arg-type]
    other = await accounts.create("other", non_gsm="replace", **common)  # type: ignore[arg-type]
    operator = await accounts.create("root", non_gsm="replace", **common)  # type: ignore[arg-type]
    await tree.set_operator(operator.id, True)
    await accounts.post(reseller.id, 100 * CREDIT, "topup")
    await accounts.post(other.id, 100 * CREDIT, "topup")
    await service.create_subaccount(reseller, "customer", "pw", profile={"societe": "Café Ünïcode"})
    customer = await _account(accounts, "customer")
    await service.create_subaccount(customer, "department", None)
    yield Tree(
        db,
        accounts,
        tree,
        senders,
        service,
        reseller,
        customer,
        await _account(accounts, "department"),
        other,
        await _account(accounts, "root"),
    )


async def _ledger_matches(t: Tree, *accounts: Account) -> None:
    for account in accounts:
        assert await t.accounts.ledger_sum(account.id) == await t.accounts.balance(account.id)


async def test_visibility_ancestors_manage_their_whole_subtree_and_nothing_else(tree: Tree) -> None:
    t = tree
    service = t.service
    department = await t.tree.get(t.department.id)
    assert department is not None and department.parent_id == t.customer.id
    # The reseller manages its child and its grandchild (ancestor rule), and itself.
    for target in (t.reseller, t.customer, t.department):
        assert (await service.account(t.reseller, target.id)).id == target.id
    assert [a.login for a in await service.subaccounts(t.reseller)] == ["customer"]
    assert [a.login for a in await service.subaccounts(t.reseller, t.customer.id)] == ["department"]
    # A child never sees its parent, another branch or another top-level account; unknown looks the same.
    for actor, target in ((t.customer, t.reseller), (t.department, t.customer), (t.other, t.customer)):
        with pytest.raises(NotManaged):
            await service.account(actor, target.id)
    with pytest.raises(NotManaged):
        await service.account(t.reseller, t.other.id)
    with pytest.raises(NotManaged):
        await service.account(t.reseller, 999_999)
    # Siblings: a second child of the reseller does not see the first one's subtree.
    await service.create_subaccount(t.reseller, "sibling", "pw")
    sibling = await _account(t.accounts, "sibling")
    with pytest.raises(NotManaged):
        await service.account(sibling, t.customer.id)
    with pytest.raises(NotManaged):
        await service.account(sibling, t.department.id)
    # The operator manages everything.
    assert (await service.account(t.operator, t.department.id)).login == "department"
    # The sub-account took its parent's settings, and its profile.
    customer = await service.account(t.reseller, t.customer.id)
    assert customer.profile_fields == {"societe": "Café Ünïcode"}


async def test_transfers_down_and_up_the_tree_with_both_ledger_sides(tree: Tree) -> None:
    t = tree
    s = t.service
    customer = await s.account(t.reseller, t.customer.id)
    department = await s.account(t.reseller, t.department.id)
    moved = await s.transfer(t.reseller, customer, 30 * CREDIT, reference="INV-1")
    assert (moved.giver_balance, moved.receiver_balance) == (70 * CREDIT, 30 * CREDIT)
    # Down two levels, by the grandparent; back up by the child to its parent; pulled back by the ancestor.
    await s.transfer(t.reseller, department, 5 * CREDIT)
    await s.transfer(t.department, await s.transfer_target(t.department, "customer"), 2 * CREDIT)
    await s.transfer(t.reseller, await s.account(t.reseller), 1 * CREDIT, giver=customer)
    assert await t.accounts.balance(t.reseller.id) == 66 * CREDIT
    assert await t.accounts.balance(t.customer.id) == 31 * CREDIT
    assert await t.accounts.balance(t.department.id) == 3 * CREDIT
    # Not related, not on one line, more than the balance: refused, nothing moved.
    with pytest.raises(NotManaged):
        await s.transfer_target(t.customer, "other")
    with pytest.raises(NotManaged):
        await s.transfer_target(t.department, "reseller")  # its grandparent: not its parent
    await s.create_subaccount(t.reseller, "sibling", "pw")
    sibling = await s.account(t.reseller, (await _account(t.accounts, "sibling")).id)
    with pytest.raises(NotManaged):
        await s.transfer(t.reseller, sibling, CREDIT, giver=customer)  # sideways between two children
    with pytest.raises(InsufficientCredit):
        await s.transfer(t.customer, department, 32 * CREDIT)
    with pytest.raises(InvalidField):
        await s.transfer(t.reseller, customer, 0)
    entries = await s.ledger(t.reseller, t.customer.id, since=None, until=None, offset=0, limit=100)
    assert [(e.reason, e.amount, e.counterparty, e.balance_after) for e in entries] == [
        ("transfer_in", 30 * CREDIT, "reseller", 30 * CREDIT),
        ("transfer_in", 2 * CREDIT, "department", 32 * CREDIT),
        ("transfer_out", -1 * CREDIT, "reseller", 31 * CREDIT),
    ]
    assert entries[0].reference == "INV-1"
    # A page that starts later still shows the balance after each row.
    later = await s.ledger(t.reseller, t.customer.id, since=None, until=None, offset=1, limit=1)
    assert [e.balance_after for e in later] == [32 * CREDIT]
    await _ledger_matches(t, t.reseller, t.customer, t.department)


async def test_deleting_a_sub_account_returns_its_credit_and_keeps_its_history(tree: Tree) -> None:
    t = tree
    s = t.service
    department = await s.account(t.reseller, t.department.id)
    await s.transfer(t.reseller, department, 10 * CREDIT)
    key = await s.create_key(t.department, UNLIMITED, now=now_ms())
    auth = Authenticator(t.accounts, cache_seconds=0)
    assert await auth.by_token(key.token) is not None
    customer = await s.account(t.reseller, t.customer.id)
    with pytest.raises(HasSubAccounts):
        await s.delete_subaccount(t.reseller, customer)
    with pytest.raises(NotAllowed):
        await s.delete_subaccount(t.department, department)  # not itself
    # A send it scheduled for later: deleting the account cancels it, and its cost goes back up with the rest.
    writer = AcceptanceWriter(t.db)
    await writer.start()
    try:
        at = now_ms()
        later = at + 86_400_000
        scheduled = NewSend(
            new_send_id(at), t.department.id, at, later, "x", "GSM-7", 1, 2, None, None, None, None, "otp", 3000
        )
        scheduled.messages = [NewMessage("33612345678", "FR", State.SCHEDULED, 10, 3000, later)]
        assert await writer.accept(scheduled) is True
    finally:
        await writer.stop()
    assert await s.delete_subaccount(t.customer, department) == 10 * CREDIT
    assert await t.accounts.balance(t.customer.id) == 10 * CREDIT
    assert await t.accounts.balance(t.department.id) == 0
    async with t.db.reader.connect() as conn:
        states = (await conn.execute(select(messages.c.state).where(messages.c.send_id == scheduled.id))).scalars()
        assert list(states) == [State.CANCELLED]
    # It can no longer authenticate or receive credits; its history stays readable by its ancestors.
    assert await auth.by_token(key.token) is None
    with pytest.raises(AccountClosed):
        await s.transfer(t.customer, await s.account(t.customer, t.department.id), CREDIT)
    entries = await s.ledger(t.reseller, t.department.id, since=None, until=None, offset=0, limit=10)
    assert [(e.reason, e.amount, e.note) for e in entries][-3:] == [
        ("send", -3000, None),
        ("refund", 3000, "sub-account deleted"),
        ("transfer_out", -10 * CREDIT, "sub-account deleted"),
    ]
    # A refund that reaches it after its deletion is moved up by an ancestor with a transfer.
    await t.accounts.post(t.department.id, 2 * CREDIT, "refund", "late failure")
    deleted = await s.account(t.customer, t.department.id)
    moved = await s.transfer(t.customer, await s.account(t.customer), 2 * CREDIT, giver=deleted)
    assert (moved.giver_balance, moved.receiver_balance) == (0, 12 * CREDIT)
    assert (await s.account(t.reseller, t.department.id)).closed_at is not None
    await _ledger_matches(t, t.customer, t.department)


async def test_limits_and_senders_are_set_from_above_only(tree: Tree) -> None:
    t = tree
    s = t.service
    with pytest.raises(NotAllowed):
        await s.set_limits(t.customer, t.customer.id, countries="FR,BE,DE")  # its own limits
    with pytest.raises(InvalidField):
        await s.set_limits(t.reseller, t.customer.id, countries="France")
    with pytest.raises(InvalidField) as unknown:  # two letters, but no number is in "UK" (it is GB)
        await s.set_limits(t.reseller, t.customer.id, countries="FR,UK")
    assert unknown.value.name == "countries" and "'UK'" in unknown.value.problem
    for rate in (-1.0, float("nan"), float("inf"), 1_000_001.0):  # the REST door's bounds, for every door
        with pytest.raises(InvalidField) as too_fast:
            await s.set_limits(t.reseller, t.customer.id, rate_limit=rate)
        assert too_fast.value.name == "rateLimit" and "from 0 to 1,000,000" in too_fast.value.problem
    assert (await s.set_limits(t.reseller, t.customer.id, rate_limit=1_000_000)).rate_limit == 1_000_000
    updated = await s.set_limits(t.reseller, t.customer.id, countries="fr,be", lanes="notification", rate_limit=2)
    assert (updated.allowed_countries, updated.allowed_lanes, updated.rate_limit) == ("BE,FR", "notification", 2.0)
    asked = await s.request_sender(t.customer, t.customer.id, "CAFE")
    assert asked.status == "requested"
    with pytest.raises(NotAllowed):
        await s.decide_sender(t.customer, t.customer.id, "CAFE", "approved")
    with pytest.raises(InvalidField):
        await s.request_sender(t.customer, t.customer.id, "36180")  # numeric: checked as a number, no approval
    with pytest.raises(InvalidField):
        await s.request_sender(t.customer, t.customer.id, "Café")
    assert (await s.decide_sender(t.reseller, t.customer.id, "CAFE", "approved")).status == "approved"
    assert (await s.decide_sender(t.operator, t.customer.id, "SHOP", "refused")).status == "refused"
    assert [(x.sender, x.status) for x in await s.senders(t.customer, t.customer.id)] == [
        ("CAFE", "approved"),
        ("SHOP", "refused"),
    ]


async def test_keys_are_never_wider_than_the_key_that_creates_them(tree: Tree) -> None:
    t = tree
    s = t.service
    limited = KeyLimits(parse_lanes("otp"), parse_networks("10.0.0.0/8"))
    inherited = await s.create_key(t.reseller, limited, t.customer.id, now=now_ms())
    target, keys = await s.keys(t.reseller, t.customer.id)
    listed = next(k for k in keys if k.id == inherited.id)
    assert (target.id, listed.lanes, listed.networks) == (t.customer.id, "otp", "10.0.0.0/8")
    with pytest.raises(InvalidField):
        await s.create_key(t.reseller, limited, lanes="marketing", now=now_ms())
    with pytest.raises(InvalidField):
        await s.create_key(t.reseller, limited, networks="192.168.0.0/16", now=now_ms())
    narrower = await s.create_key(t.reseller, limited, networks="10.1.0.0/16", now=now_ms())
    assert narrower.account.id == t.reseller.id
    # Expired keys authenticate nothing; a key of another branch cannot be revoked.
    expiring = await s.create_key(t.reseller, UNLIMITED, expires_at=now_ms() + 200, now=now_ms())
    auth = Authenticator(t.accounts, cache_seconds=0)
    assert await auth.by_token(expiring.token) is not None
    deadline = now_ms() + 30_000
    while await auth.by_token(expiring.token) is not None:
        assert now_ms() < deadline
        await asyncio.sleep(0.1)
    with pytest.raises(NotManaged):
        await s.revoke_key(t.other, inherited.id)
    assert await s.revoke_key(t.customer, inherited.id)


# --- acceptance: limits inherited down the tree ---------------------------------------------------------------


@pytest.fixture
async def sends(tree: Tree, database_url: str) -> AsyncIterator[SendService]:
    settings = gateway_settings(database_url)
    writer = AcceptanceWriter(tree.db)
    await writer.start()
    try:
        yield SendService(
            writer,
            price_table(settings),
            stop_mention="STOP 36180",
            now_ms=now_ms,
            new_id=new_send_id,
            rate_limiter=RateLimiter(0, clock=lambda: 0.0),  # a stopped clock: no bucket refills during a test
            account_rules=AccountRulesCache(tree.tree, tree.senders, cache_seconds=0),
        )
    finally:
        await writer.stop()


async def test_limits_set_above_apply_to_the_whole_subtree_at_acceptance(tree: Tree, sends: SendService) -> None:
    t = tree
    s = t.service
    await s.transfer(t.reseller, await s.account(t.reseller, t.customer.id), 50 * CREDIT)
    await s.transfer(t.reseller, await s.account(t.reseller, t.department.id), 20 * CREDIT)
    await s.set_limits(t.reseller, t.customer.id, countries="FR", lanes="notification,otp", sender_policy="approved")
    await s.set_limits(t.customer, t.department.id, lanes="otp,marketing")  # intersected with its parent's

    async def refusal(account: Account, **fields: object) -> tuple[str, str] | None:
        values: dict[str, object] = {"text": "bonjour", "recipients": "0612345678", **fields}
        try:
            await sends.accept(SendRequest(account=account, **values))  # type: ignore[arg-type]
        except InvalidParameter as exc:
            return exc.name, exc.problem
        return None

    assert await refusal(t.customer) is None
    assert await refusal(t.customer, recipients="0612345678,+32470123456") == (
        "recipients",
        "destination country not allowed for this account: BE",
    )
    assert await refusal(t.department, recipients="+4915123456789", lane="otp") is not None  # inherited FR only
    assert await refusal(t.department, lane="otp") is None
    assert (await refusal(t.department, lane="marketing") or ("",))[0] == "lane"  # its parent does not allow it
    assert (await refusal(t.department, lane="notification") or ("",))[0] == "lane"  # its own limit
    # Approved senders only, as the parent asked: alphanumeric ones must be approved, numeric ones are numbers.
    assert await refusal(t.customer, sender="CAFE") == ("sender", "not an approved sender ID of this account")
    await s.decide_sender(t.reseller, t.customer.id, "CAFE", "approved")
    assert await refusal(t.customer, sender="CAFE") is None
    assert await refusal(t.customer, sender="36180") is None
    assert (await refusal(t.customer, sender="0612345678") or ("",))[0] == "sender"
    assert await refusal(t.department, sender="CAFE", lane="otp") is not None  # approved for its parent only
    # Other branches are not touched by these limits.
    assert await refusal(t.other, recipients="+32470123456") is None


async def test_a_rate_cap_set_above_limits_the_subtree(tree: Tree, sends: SendService) -> None:
    t = tree
    s = t.service
    await s.transfer(t.reseller, await s.account(t.reseller, t.department.id), 20 * CREDIT)
    await s.set_limits(t.reseller, t.customer.id, rate_limit=1)
    department = await _account(t.accounts, "department")
    request = SendRequest(account=department, text="x", recipients="0612345678", lane="notification")
    await sends.accept(request)
    with pytest.raises(RateLimited):
        await sends.accept(request)  # a burst of one: the cap of its parent
    await sends.accept(SendRequest(account=t.reseller, text="x", recipients="0612345678"))
    await sends.accept(SendRequest(account=t.reseller, text="x", recipients="0612345678"))


# --- 1,000 concurrent transfers and sends on one balance -------------------------------------------------------


async def test_concurrent_transfers_and_sends_never_lose_a_millicredit(tree: Tree) -> None:
    t = tree
    s = t.service
    customer = await s.account(t.reseller, t.customer.id)
    reseller = await s.account(t.reseller)
    writer = AcceptanceWriter(t.db)
    await writer.start()
    rng = random.Random(15)
    await s.transfer(t.reseller, customer, 50 * CREDIT)
    start = await t.accounts.balance(t.reseller.id) + 50 * CREDIT  # far less than the operations ask for
    outcomes = {"sent": 0, "refused": 0, "moved": 0, "short": 0}
    spent = 0

    async def send(account: Account, cost: int) -> None:
        nonlocal spent
        now = now_ms()
        message = NewMessage("33612345678", "FR", State.QUEUED, 1, cost, now)
        new = NewSend(new_send_id(now), account.id, now, None, "x", "GSM-7", 1, 2, None, None, None, None, "otp", cost)
        new.messages = [message]
        if await writer.accept(new) is True:
            outcomes["sent"] += 1
            spent += cost
        else:
            outcomes["refused"] += 1

    async def move(down: bool, amount: int) -> None:
        try:
            if down:
                await s.transfer(t.reseller, customer, amount)
            else:
                await s.transfer(t.customer, reseller, amount)
            outcomes["moved"] += 1
        except InsufficientCredit:
            outcomes["short"] += 1

    operations = []
    for n in range(1000):
        amount = rng.choice((1, 7, 333, 1000, 2500))  # millicredits, so that rounding could not hide a loss
        if n % 2:
            operations.append(send(t.reseller if rng.random() < 0.5 else t.customer, amount))
        else:
            operations.append(move(rng.random() < 0.6, amount))
    try:
        await asyncio.gather(*operations)
    finally:
        await writer.stop()
    assert sum(outcomes.values()) == 1000
    assert outcomes["refused"] + outcomes["short"] > 0  # the balance ran out along the way: the checks were hit
    balances = [await t.accounts.balance(a.id) for a in (t.reseller, t.customer)]
    assert min(balances) >= 0
    assert sum(balances) == start - spent  # transfers create and destroy nothing
    await _ledger_matches(t, t.reseller, t.customer)
    for account in (t.reseller, t.customer):  # never below zero at any point of either ledger
        entries = await s.ledger(t.reseller, account.id, since=None, until=None, offset=0, limit=10_000)
        assert entries, account.login
        assert min(e.balance_after for e in entries) >= 0


async def test_usage_counts_messages_parts_and_credits_by_day(tree: Tree) -> None:
    t = tree
    s = t.service
    writer = AcceptanceWriter(t.db)
    await writer.start()
    now = now_ms()
    try:
        for n, state in enumerate((State.QUEUED, State.QUEUED, State.FAILED)):
            message = NewMessage(f"3361234567{n}", "FR", state, 1, 2000 if state == State.QUEUED else 0, now)
            new = NewSend(
                new_send_id(now), t.reseller.id, now, None, "x" * 200, "GSM-7", 2, 2, None, None, None, None, "otp", 0
            )
            new.cost, new.messages = message.cost, [message]
            assert await writer.accept(new) is True
    finally:
        await writer.stop()
    today = datetime.fromtimestamp(now / 1000, ZoneInfo(t.reseller.timezone)).date()  # usage days are the account's
    days = await s.usage(t.reseller, t.reseller.id, today.replace(day=1) if today.day > 1 else today, today)
    day = next(d for d in days if d.messages)
    assert day.messages == {"ENROUTE": 2, "UNDELIVERABLE": 1}
    assert day.parts == {"ENROUTE": 4, "UNDELIVERABLE": 2}
    assert day.cost == 4000
    assert day.movements["send"] == -4000
    with pytest.raises(NotManaged):
        await s.usage(t.customer, t.reseller.id, today, today)


async def test_limits_set_above_hold_for_group_contacts_and_campaign_rows(tree: Tree, database_url: str) -> None:
    """A group's contacts and a file's rows are recipients the account named too: a country its parent closed
    gets that recipient's 3560, an unapproved sender on a row refuses the file naming the row."""
    t, s = tree, tree.service
    await s.transfer(t.reseller, await s.account(t.reseller, t.customer.id), 50 * CREDIT)
    await s.set_limits(t.reseller, t.customer.id, countries="FR", sender_policy="approved")
    contacts = ContactService(ContactStore(t.db, now_ms))
    report = await contacts.import_csv(t.customer.id, b"mobile;prenom\n0612345678;Ana\n+32470123456;Bo\n", "clients")
    assert report.count("created") == 2
    writer = AcceptanceWriter(t.db)
    await writer.start()
    try:
        sends = SendService(
            writer,
            price_table(gateway_settings(database_url)),
            stop_mention="STOP 36180",
            now_ms=now_ms,
            new_id=new_send_id,
            rate_limiter=RateLimiter(0),
            contacts=contacts.store,
            account_rules=AccountRulesCache(t.tree, t.senders, cache_seconds=0),
        )
        accepted = await sends.accept(
            SendRequest(account=t.customer, text="Bonjour {prenom}", recipients="", groups=("clients",))
        )
        async with t.db.reader.connect() as conn:
            found = await conn.execute(
                select(messages.c.msisdn, messages.c.state, messages.c.code).where(
                    messages.c.send_id == accepted.send_id
                )
            )
            by_number = {r.msisdn: (r.state, r.code) for r in found}
        assert by_number["33612345678"][0] == State.QUEUED
        assert by_number["32470123456"] == (State.FAILED, 3560)
        rows = [
            CampaignRow(2, "0612345678", "un", "36180"),
            CampaignRow(3, "0612345679", "deux", "NOPE"),
        ]
        with pytest.raises(InvalidParameter) as refused:
            await sends.accept(SendRequest(account=t.customer, text="", recipients="", rows=rows))
        assert refused.value.name == "rows"
        assert "line 3" in refused.value.problem and "emetteur" in refused.value.problem
    finally:
        await writer.stop()


async def test_what_applies_combines_an_accounts_own_limits_with_every_ancestors(tree: Tree) -> None:
    t = tree
    s = t.service
    assert await s.applies(await s.account(t.department)) == AppliedLimits(0, None, None, "any")  # none anywhere
    await s.set_limits(t.operator, t.reseller.id, rate_limit=10, countries="FR,BE,DE", sender_policy="approved")
    await s.set_limits(t.reseller, t.customer.id, lanes="notification,otp", countries="FR,BE")
    await s.set_limits(t.customer, t.department.id, rate_limit=50, countries="BE,ES")
    # The department's own rate (50) is capped by its grandparent's (10); its countries are those every account of
    # its line allows; the sender policy asked by one of them holds below it.
    department = await s.applies(await s.account(t.department))
    assert department == AppliedLimits(10, frozenset({"notification", "otp"}), frozenset({"BE"}), "approved")
    # Its parent's line holds for the customer, with its own rate unset: the cap above, not "no cap".
    customer = await s.account(t.customer)
    expected = AppliedLimits(10, frozenset({"notification", "otp"}), frozenset({"BE", "FR"}), "approved")
    assert await s.applies(customer) == expected
    # The reseller's own rate (set by the operator) holds for it as its own.
    reseller = await s.account(t.reseller)
    assert await s.applies(reseller) == AppliedLimits(10, None, frozenset({"BE", "DE", "FR"}), "approved")
    # A list of one parent's children reads the line above once, and says the same.
    children = await s.subaccounts(t.reseller, t.customer.id)
    assert await s.applies_below(children) == [department] and await s.applies_below([]) == []
    # An account's other branches, and the configured default for an account with no rate of its own.
    defaulted = ResellerService(t.accounts, t.tree, t.senders, LedgerStore(t.db), default_rate=3)
    assert await defaulted.applies(await s.account(t.other)) == AppliedLimits(3, None, None, "any")
    assert (await defaulted.applies(customer)).rate_limit == 3  # the default, under the cap of 10
