"""Resellers: managing sub-accounts, their credits, keys, limits and sender IDs, for every door.

Who may do what (docs/resellers.md):
- an operator account manages every account;
- an account manages itself and all its descendants (its sub-accounts, theirs, and so on down): a reseller
  runs the whole tree it built. It never sees its siblings, its parent or any other branch;
- limits and sender decisions are set from above only: an account cannot lift its own limits or approve its
  own senders, its ancestors (or an operator) can;
- credits move along one line of the tree: from an account to one of its descendants, back up from a
  descendant, or from an account to its direct parent.

An account a caller does not manage is reported exactly as an unknown one (`NotManaged`), so no door tells
one customer which other accounts exist.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from martinet.domain.account_rules import (
    AppliedLimits,
    InvalidLimit,
    OwnLimits,
    inherit,
    limits_text,
    new_countries,
    parse_lanes,
    parse_policy,
)
from martinet.domain.ids import new_access_token
from martinet.domain.keys import (
    UNLIMITED,
    InvalidKeyLimit,
    KeyLimits,
    Network,
    lanes_text,
    networks_text,
    parse_networks,
)
from martinet.domain.keys import parse_lanes as parse_key_lanes
from martinet.domain.resources import STATUS_OF_STATE
from martinet.domain.sender import sender_problem
from martinet.domain.valueclass import valueclass
from martinet.services.account_rules import own_limits
from martinet.services.credentials import hash_password, token_hash
from martinet.services.rate_limits import effective_rate, valid_rate
from martinet.store.account_tree import AccountClosed, AccountTree, Transfer, TreeAccount
from martinet.store.accounts import KEEP, Account, AccountStore, ApiKey, Keep
from martinet.store.ledger import LedgerEntry, LedgerStore
from martinet.store.senders import APPROVED, REFUSED, SenderId, SenderStore

MAX_LOGIN = 50
MAX_REFERENCE = 64
#: What createSubAccount.do may say about the person or company behind a sub-account.
PROFILE_FIELDS = (
    "reference",
    "nom",
    "prenom",
    "societe",
    "adresse",
    "ville",
    "codePostal",
    "mobile",
    "telephone",
    "fax",
    "email",
    "date",
)
MAX_PROFILE_VALUE = 200
MAX_USAGE_DAYS = 366
_LOGIN = re.compile(r"[^\s\x00-\x1f\x7f]{1,50}")


class NotManaged(Exception):
    """The target account does not exist, or the caller does not manage it (the two look the same)."""


class NotAllowed(Exception):
    """The caller manages the account but may not do this to it (lift its own limits, delete itself)."""


class InvalidField(ValueError):
    """A value the request gave that cannot be used; `name` is the parameter, `problem` says why."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


@valueclass
class CreatedKey:
    id: int
    token: str  # in clear: the only time it is seen
    account: TreeAccount
    created_at: int
    expires_at: int | None


@valueclass
class UsageDay:
    day: date
    messages: dict[str, int]  # REST status → messages
    parts: dict[str, int]  # REST status → parts
    cost: int  # millicredits charged for the day's messages, as they stand (refunds deducted)
    movements: dict[str, int]  # ledger reason → millicredits


class ResellerService:
    def __init__(
        self,
        accounts: AccountStore,
        tree: AccountTree,
        senders: SenderStore,
        ledger: LedgerStore,
        *,
        default_rate: float,
    ) -> None:
        """`default_rate` is the configuration's `accounts.rate_limit`: the rate of an account with none of its own."""
        self._accounts = accounts
        self._tree = tree
        self._senders = senders
        self._ledger = ledger
        self._default_rate = default_rate

    # --- Who manages whom ---

    async def account(self, actor: Account, account_id: int | None = None) -> TreeAccount:
        """The actor's own account (None) or one it manages; raises NotManaged."""
        found = await self._tree.get(actor.id if account_id is None else account_id)
        if found is None or not await self._manages(actor, found):
            raise NotManaged(account_id)
        return found

    async def managed_settings(self, actor: Account, account_id: int | None) -> Account:
        """The settings of an account the actor manages (deleted ones included), to read its history."""
        found = await self.account(actor, account_id)
        settings = await self._accounts.by_login(found.login)
        if settings is None:
            raise NotManaged(account_id)
        return settings[0]

    async def account_by_login(self, actor: Account, login: str) -> TreeAccount:
        found = await self._tree.by_login(login)
        if found is None or not await self._manages(actor, found):
            raise NotManaged(login)
        return found

    async def transfer_target(
        self, actor: Account, login: str | None = None, *, account_id: int | None = None
    ) -> TreeAccount:
        """The account (by login or id) that the actor may send credits to: one it manages, or its own parent."""
        found = await (self._tree.by_login(login) if login is not None else self._tree.get(account_id or 0))
        if found is None:
            raise NotManaged(login or account_id)
        own = await self._tree.get(actor.id)
        if own is not None and own.parent_id == found.id:
            return found
        if not await self._manages(actor, found):
            raise NotManaged(login)
        return found

    async def _manages(self, actor: Account, target: TreeAccount) -> bool:
        if actor.operator or target.id == actor.id:
            return True
        return any(a.id == actor.id for a in (await self._tree.lineage(target.id))[1:])

    async def _above(self, actor: Account, target: TreeAccount) -> None:
        """Settings set from above: an ancestor of the target, or an operator (raises NotAllowed)."""
        if actor.operator and target.id != actor.id:
            return
        if target.id == actor.id or not await self._manages(actor, target):
            raise NotAllowed("only an account above this one (or an operator) may do this")

    async def set_operator(self, account_id: int, operator: bool) -> None:
        """Give or take the operator role (from the command line only: no door offers it)."""
        await self._tree.set_operator(account_id, operator)

    # --- Sub-accounts ---

    async def subaccounts(self, actor: Account, account_id: int | None = None) -> list[TreeAccount]:
        parent = await self.account(actor, account_id)
        return await self._tree.children(parent.id)

    async def create_subaccount(
        self,
        actor: Account,
        login: str,
        password: str | None,
        *,
        parent_id: int | None = None,
        profile: Mapping[str, str] | None = None,
    ) -> TreeAccount:
        """A new sub-account of the actor (or of an account it manages), with the parent's language, time zone,
        lane and character policy; raises LoginTaken, InvalidField, NotManaged, AccountClosed."""
        parent = await self.account(actor, parent_id)
        _open(parent)
        if not _LOGIN.fullmatch(login or ""):
            raise InvalidField("newPseudo", f"1 to {MAX_LOGIN} characters, without spaces")
        if password is not None and not 1 <= len(password) <= 1024:
            raise InvalidField("newPass", "1 to 1024 characters")
        fields = dict(profile or {})
        for name, value in fields.items():
            if name not in PROFILE_FIELDS:
                raise InvalidField("profile", f"{name!r} is not one of " + ", ".join(PROFILE_FIELDS))
            if len(value) > MAX_PROFILE_VALUE:
                raise InvalidField(name, f"longer than {MAX_PROFILE_VALUE} characters")
        settings = await self._accounts.by_login(parent.login)
        assert settings is not None
        base = settings[0]
        created = await self._accounts.create(
            login,
            password_hash=hash_password(password) if password else None,
            language=base.language,
            timezone=base.timezone,
            lane=base.lane,
            non_gsm=base.non_gsm,
            parent_id=parent.id,
            sandbox=base.sandbox,
        )
        if fields:
            await self._tree.set_profile(created.id, fields)
        found = await self._tree.get(created.id)
        assert found is not None
        return found

    async def delete_subaccount(self, actor: Account, target: TreeAccount) -> int:
        """Close a sub-account the actor manages (not itself): its credits back to its parent. Raises
        NotAllowed, HasSubAccounts, AccountClosed."""
        await self._above(actor, target)
        if target.parent_id is None:
            raise NotAllowed("a top-level account is not a sub-account")
        return await self._tree.close(target.id)

    async def set_limits(
        self,
        actor: Account,
        account_id: int,
        *,
        rate_limit: float | Keep | None = KEEP,
        lanes: str | Keep | None = KEEP,
        countries: str | Keep | None = KEEP,
        sender_policy: str | Keep = KEEP,
        caller_limits: KeyLimits = UNLIMITED,
    ) -> TreeAccount:
        """Set the limits of an account below the actor (None or "": no limit of its own). A key limited to lanes
        gives no lane beyond its own (asked for none, the account gets the key's), as `create_key` does."""
        target = await self.account(actor, account_id)
        await self._above(actor, target)
        try:
            if not isinstance(rate_limit, Keep) and rate_limit is not None and not valid_rate(rate_limit):
                raise InvalidField("rateLimit", "a number of sends per second from 0 to 1,000,000 (0 = no cap)")
            lanes_value = lanes
            if not isinstance(lanes, Keep):
                asked = parse_lanes(lanes)
                narrowed = _narrower_lanes(tuple(sorted(asked)) if asked is not None else None, caller_limits.lanes)
                lanes_value = limits_text(frozenset(narrowed) if narrowed is not None else None)
            countries_value = countries if isinstance(countries, Keep) else limits_text(new_countries(countries))
            policy = sender_policy if isinstance(sender_policy, Keep) else parse_policy(sender_policy)
        except InvalidLimit as exc:
            name = str(exc).split(" ")[0]
            field = {"unknown": "lanes", "not": "countries", "sender": "senderPolicy"}.get(name, "limits")
            raise InvalidField(field, str(exc)) from None
        return await self._tree.set_limits(
            target.id,
            rate_limit=rate_limit,
            allowed_lanes=lanes_value,
            allowed_countries=countries_value,
            sender_policy=policy,
        )

    async def applies(self, target: TreeAccount) -> AppliedLimits:
        """The limits that hold for `target`, its own and its ancestors' combined (`target` as `account` gave it to
        a caller allowed to see it). A caller learns no more of the accounts above than what binds its own line."""
        chain = await self._tree.lineage(target.id)
        return self._applied(target, [own_limits(account) for account in chain])

    async def applies_below(self, children: Sequence[TreeAccount]) -> list[AppliedLimits]:
        """`applies` for each of one parent's children (as `subaccounts` gave them): one read of the line above."""
        if not children:
            return []
        parent_id = children[0].parent_id
        assert parent_id is not None and all(child.parent_id == parent_id for child in children)
        above = [own_limits(account) for account in await self._tree.lineage(parent_id)]
        return [self._applied(child, [own_limits(child), *above]) for child in children]

    def _applied(self, target: TreeAccount, chain: list[OwnLimits]) -> AppliedLimits:
        return inherit(chain, frozenset()).applied(effective_rate(target.rate_limit, self._default_rate))

    # --- Credits ---

    async def transfer(
        self,
        actor: Account,
        receiver: TreeAccount,
        amount: int,
        *,
        giver: TreeAccount | None = None,
        reference: str | None = None,
    ) -> Transfer:
        """Move `amount` millicredits along one line of the tree; raises NotManaged (receiver unknown or not
        related), InvalidField, InsufficientCredit, AccountClosed."""
        giver = giver or await self.account(actor)
        if amount <= 0:
            raise InvalidField("amount", "a positive amount of credits")
        if reference is not None and len(reference) > MAX_REFERENCE:
            raise InvalidField("reference", f"longer than {MAX_REFERENCE} characters")
        if giver.id == receiver.id:
            raise InvalidField("to", "the giving account itself")
        if not actor.operator:
            if not await self._manages(actor, giver):
                raise NotManaged(giver.id)
            to_parent = giver.id == actor.id and receiver.id == giver.parent_id
            if not to_parent and not await self._manages(actor, receiver):
                raise NotManaged(receiver.id)
            if not to_parent and not await self._one_line(giver, receiver):
                raise NotManaged(receiver.id)
        return await self._tree.transfer(giver.id, receiver.id, amount, reference=reference)

    async def _one_line(self, a: TreeAccount, b: TreeAccount) -> bool:
        """Whether one of the two accounts is an ancestor of the other."""
        if any(x.id == a.id for x in await self._tree.lineage(b.id)):
            return True
        return any(x.id == b.id for x in await self._tree.lineage(a.id))

    async def ledger(
        self, actor: Account, account_id: int, *, since: int | None, until: int | None, offset: int, limit: int
    ) -> list[LedgerEntry]:
        target = await self.account(actor, account_id)
        return await self._ledger.entries(target.id, since=since, until=until, offset=offset, limit=limit)

    async def usage(self, actor: Account, account_id: int, first: date, last: date) -> list[UsageDay]:
        """One entry per day from `first` to `last` (included), in the account's time zone, days without
        activity included (so an invoice shows every day of its period)."""
        target = await self.account(actor, account_id)
        if last < first:
            raise InvalidField("to", "before from")
        if (last - first).days >= MAX_USAGE_DAYS:
            raise InvalidField("to", f"at most {MAX_USAGE_DAYS} days after from")
        zone = ZoneInfo(target.timezone)
        if last >= date.max:
            raise InvalidField("to", "before 9999-12-31")
        since = _midnight(first, zone)
        until = _midnight(last + timedelta(days=1), zone)
        rows, movements = await self._ledger.usage(target.id, since, until)
        days = {
            first + timedelta(days=n): UsageDay(first + timedelta(days=n), {}, {}, 0, {})
            for n in range((last - first).days + 1)
        }
        costs: dict[date, int] = {}
        for row in rows:
            day = _local_day(row.bucket, zone)
            entry = days.get(day)
            if entry is None:
                continue
            status = STATUS_OF_STATE.get(row.state, "ENROUTE")
            entry.messages[status] = entry.messages.get(status, 0) + row.messages
            entry.parts[status] = entry.parts.get(status, 0) + row.parts
            costs[day] = costs.get(day, 0) + row.cost
        for movement in movements:
            entry = days.get(_local_day(movement.bucket, zone))
            if entry is not None:
                entry.movements[movement.reason] = entry.movements.get(movement.reason, 0) + movement.amount
        return [UsageDay(d.day, d.messages, d.parts, costs.get(d.day, 0), d.movements) for d in days.values()]

    # --- Sender IDs ---

    async def senders(self, actor: Account, account_id: int) -> list[SenderId]:
        return await self._senders.list((await self.account(actor, account_id)).id)

    async def request_sender(self, actor: Account, account_id: int, sender: str) -> SenderId:
        target = await self.account(actor, account_id)
        _open(target)
        _check_sender(sender)
        return await self._senders.request(target.id, sender)

    async def decide_sender(self, actor: Account, account_id: int, sender: str, status: str) -> SenderId:
        """Approve or refuse an account's sender: its ancestors or an operator decide, never the account."""
        target = await self.account(actor, account_id)
        _open(target)
        await self._above(actor, target)
        if status not in (APPROVED, REFUSED):
            raise InvalidField("status", "approved or refused")
        _check_sender(sender)
        return await self._senders.decide(target.id, sender, status, actor.id)

    # --- API keys ---

    async def create_key(
        self,
        actor: Account,
        caller_limits: KeyLimits,
        account_id: int | None = None,
        *,
        label: str = "",
        lanes: str | None = None,
        networks: str | None = None,
        expires_at: int | None = None,
        now: int,
    ) -> CreatedKey:
        """A new key for the actor or an account it manages, never wider than the key asking for it: a key
        limited to lanes or networks creates keys within them (the caller's limits when none are given)."""
        target = await self.account(actor, account_id)
        _open(target)
        if len(label) > 100:
            raise InvalidField("label", "longer than 100 characters")
        if expires_at is not None and expires_at <= now:
            raise InvalidField("expiresAt", "in the past")
        try:
            key_lanes = parse_key_lanes(lanes)
            key_networks = parse_networks(networks)
        except InvalidKeyLimit as exc:
            raise InvalidField("lanes" if "lane" in str(exc) else "networks", str(exc)) from None
        key_lanes = _narrower_lanes(key_lanes, caller_limits.lanes)
        key_networks = _narrower_networks(key_networks, caller_limits.networks)
        token = new_access_token()
        key_id = await self._accounts.add_api_key(
            target.id,
            token_hash(token),
            label,
            lanes=lanes_text(key_lanes),
            networks=networks_text(key_networks),
            expires_at=expires_at,
        )
        return CreatedKey(key_id, token, target, now, expires_at)

    async def keys(self, actor: Account, account_id: int | None = None) -> tuple[TreeAccount, list[ApiKey]]:
        target = await self.account(actor, account_id)
        return target, await self._accounts.api_keys(target.id)

    async def key_account(self, key_id: int) -> int:
        owner = await self._accounts.api_key_account(key_id)
        if owner is None:
            raise NotManaged(key_id)
        return owner

    async def revoke_key(self, actor: Account, key_id: int, caller_limits: KeyLimits = UNLIMITED) -> bool:
        """Revoke a key of an account the actor manages; raises NotManaged for any other key. A key limited to
        lanes or networks revokes only keys within its own limits (NotAllowed): it could otherwise lock the
        account's unrestricted keys out."""
        owner = await self._accounts.api_key_account(key_id)
        if owner is None:
            raise NotManaged(key_id)
        await self.account(actor, owner)
        if caller_limits != UNLIMITED:
            key = next(k for k in await self._accounts.api_keys(owner) if k.id == key_id)
            if not _no_wider(KeyLimits(parse_key_lanes(key.lanes), parse_networks(key.networks)), caller_limits):
                raise NotAllowed("a key limited to lanes or networks revokes only keys within its limits")
        return await self._accounts.revoke_api_key(key_id)


def _open(account: TreeAccount) -> None:
    """A deleted account is read, never changed: no key, sub-account or sender ID (AccountClosed, a 409), as
    it receives no credit and takes no limit."""
    if account.closed_at is not None:
        raise AccountClosed(account.id)


def _no_wider(key: KeyLimits, caller: KeyLimits) -> bool:
    """Whether `key` is no wider than `caller`: its lanes among the caller's, its networks inside the caller's."""
    if caller.lanes is not None and (key.lanes is None or not set(key.lanes) <= set(caller.lanes)):
        return False
    if caller.networks is None:
        return True
    if key.networks is None:
        return False
    return all(any(_within(inner, outer) for outer in caller.networks) for inner in key.networks)


def _narrower_lanes(asked: tuple[str, ...] | None, allowed: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if allowed is None:
        return asked
    if asked is None:
        return allowed
    outside = [lane for lane in asked if lane not in allowed]
    if outside:
        raise InvalidField("lanes", f"this key may not give lane {outside[0]}")
    return asked


def _narrower_networks(
    asked: tuple[Network, ...] | None, allowed: tuple[Network, ...] | None
) -> tuple[Network, ...] | None:
    if allowed is None:
        return asked
    if asked is None:
        return allowed
    for network in asked:
        if not any(_within(network, outer) for outer in allowed):
            raise InvalidField("networks", f"{network} is outside the networks of this key")
    return asked


def _within(inner: Network, outer: Network) -> bool:
    if isinstance(inner, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return inner.subnet_of(outer)
    if isinstance(inner, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return inner.subnet_of(outer)
    return False


def _check_sender(sender: str) -> None:
    problem = sender_problem(sender)
    if problem is not None:
        raise InvalidField("emetteur", problem)
    if sender.isdigit():
        raise InvalidField("emetteur", "numeric senders are checked as numbers and need no approval")


def _midnight(day: date, zone: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp() * 1000)


def _local_day(ms: int, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(zone).date()
