"""The limits inherited down the account tree, applied at acceptance on every door.

`SendService` asks `rules_for(account)` for each send; the rules are read from the store (one recursive query
for the account's ancestors, one for its approved senders) and kept for `cache_seconds`, as the authentication
cache keeps the account itself: a limit changed by a parent reaches the doors within that time.
"""

from __future__ import annotations

import functools
import time
from collections import OrderedDict
from collections.abc import Callable

from martinet.batching import SharedLookups
from martinet.domain.account_rules import AccountRules, OwnLimits, inherit, parse_countries, parse_lanes
from martinet.store.account_tree import AccountTree, TreeAccount
from martinet.store.accounts import Account
from martinet.store.senders import SenderStore


def own_limits(account: TreeAccount) -> OwnLimits:
    """The limits stored on an account; text edited by hand into something unreadable locks the account."""
    try:
        lanes = parse_lanes(account.allowed_lanes)
        countries = parse_countries(account.allowed_countries)
    except ValueError:
        lanes, countries = frozenset(), frozenset()
    return OwnLimits(account.rate_limit, lanes, countries, account.sender_policy)


class AccountRulesCache:
    def __init__(
        self,
        tree: AccountTree,
        senders: SenderStore,
        cache_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 100_000,
    ) -> None:
        self._tree = tree
        self._senders = senders
        self._ttl = cache_seconds
        self._clock = clock
        self._max_entries = max_entries
        self._cache: OrderedDict[int, tuple[float, AccountRules]] = OrderedDict()
        self._lookups: SharedLookups[int, AccountRules] = SharedLookups()

    async def rules_for(self, account: Account) -> AccountRules:
        entry = self._cache.get(account.id)
        if entry is not None and entry[0] >= self._clock():
            return entry[1]
        # The account's requests in flight all missed at once (its entry expired): one read answers them all.
        return await self._lookups.run(account.id, functools.partial(self._read, account.id))

    async def _read(self, account_id: int) -> AccountRules:
        chain = await self._tree.lineage(account_id)
        rules = inherit([own_limits(a) for a in chain], await self._senders.approved(account_id))
        if self._ttl > 0:
            self._cache[account_id] = (self._clock() + self._ttl, rules)
            self._cache.move_to_end(account_id)
            while len(self._cache) > self._max_entries:
                self._cache.popitem(last=False)
        return rules
