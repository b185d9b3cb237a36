"""Account settings read with the account, on both databases, and seen by the door once its cache expires."""

from __future__ import annotations

import asyncio

import pytest

from martinet.config import AccountDefaults
from martinet.services.accounts import AccountService, InvalidAccountSetting
from martinet.services.auth import Authenticator
from martinet.services.callback_urls import CallbackUrlCheck
from martinet.store.accounts import Account, AccountStore, UnknownAccount
from martinet.store.database import Database
from tests.clocks import ManualClock

#: The rules of a gateway that keeps the default: callbacks only to public addresses.
URLS = CallbackUrlCheck(allow_private_networks=False)


async def test_weight_and_rate_limit_are_stored_and_read_with_the_account(db: Database) -> None:
    service = AccountService(AccountStore(db, lambda: 1), AccountDefaults(rate_limit=3), URLS)
    created = await service.create("alice", weight=4, rate_limit=2.5)
    plain = await service.create("bob")
    assert (created.account.weight, created.account.rate_limit) == (4, 2.5)
    assert (plain.account.weight, plain.account.rate_limit) == (1, None)
    shown = await service.show("bob")
    assert (shown.account.weight, shown.account.rate_limit, shown.rate_limit) == (1, None, 3.0)

    changed = await service.update("alice", rate_limit=None, weight=9)
    assert (changed.account.weight, changed.account.rate_limit, changed.rate_limit) == (9, None, 3.0)
    changed = await service.update("alice", rate_limit=0)
    assert (changed.account.weight, changed.account.rate_limit, changed.rate_limit) == (9, 0.0, 0.0)
    assert changed.account.lane == created.account.lane  # untouched


async def test_bad_settings_and_unknown_logins_change_nothing(db: Database) -> None:
    service = AccountService(AccountStore(db, lambda: 1), AccountDefaults(), URLS)
    await service.create("alice", weight=2)
    for weight in (0, 101):
        with pytest.raises(InvalidAccountSetting, match="weight"):
            await service.update("alice", weight=weight)
    for rate in (-1.0, float("nan"), float("inf"), 1_000_001.0, 1e300):
        with pytest.raises(InvalidAccountSetting, match="rate limit"):
            await service.update("alice", rate_limit=rate)
    with pytest.raises(InvalidAccountSetting, match="lane"):
        await service.update("alice", lane="urgent")
    with pytest.raises(UnknownAccount):
        await service.update("nobody", weight=3)
    shown = await service.show("alice")
    assert (shown.account.weight, shown.account.rate_limit, shown.account.lane) == (2, None, "marketing")


async def test_the_authenticator_sees_a_new_limit_when_its_cache_expires(db: Database) -> None:
    store = AccountStore(db, lambda: 1)
    service = AccountService(store, AccountDefaults(), URLS)
    created = await service.create("alice", rate_limit=1)
    clock = ManualClock()
    auth = Authenticator(store, cache_seconds=5, clock=clock)
    first = await auth.by_token(created.token)
    assert first is not None and first.account.rate_limit == 1.0
    await service.update("alice", rate_limit=50)
    clock.now = 4.9
    cached = await auth.by_token(created.token)
    assert cached is not None and cached.account.rate_limit == 1.0
    clock.now = 5.1
    fresh = await auth.by_token(created.token)
    assert fresh is not None and fresh.account.rate_limit == 50.0


async def test_default_callback_urls_are_checked_stored_and_cleared(db: Database) -> None:
    service = AccountService(AccountStore(db, lambda: 1), AccountDefaults(), URLS)
    created = await service.create(
        "shop", callback_url="https://93.184.215.14/dlr", reply_url="https://93.184.215.14/mo"
    )
    assert (created.account.callback_url, created.account.reply_url) == (
        "https://93.184.215.14/dlr",
        "https://93.184.215.14/mo",
    )
    for bad, reason in (
        ("http://127.0.0.1/dlr", "loopback"),
        ("http://169.254.169.254/latest", "link-local"),
        ("ftp://93.184.215.14/dlr", "http"),
    ):
        with pytest.raises(InvalidAccountSetting, match="callback URL") as refused:
            await service.update("shop", callback_url=bad)
        assert reason in str(refused.value)
    with pytest.raises(InvalidAccountSetting, match="reply URL"):
        await service.create("other", reply_url="http://10.1.2.3/mo")
    assert (await service.show("shop")).account.callback_url == "https://93.184.215.14/dlr"  # unchanged
    view = await service.update("shop", reply_url="")
    assert (view.account.callback_url, view.account.reply_url) == ("https://93.184.215.14/dlr", None)
    view = await service.update("shop", callback_url="https://hooks.example.org/dlr")
    assert (await service.show("shop")).account.callback_url == "https://hooks.example.org/dlr"


class CountingStore(AccountStore):
    """The real store, counting the key lookups that reach it."""

    lookups = 0

    async def key_by_hash(self, token_hash: str) -> tuple[Account, str | None, str | None] | None:
        self.lookups += 1
        return await super().key_by_hash(token_hash)

    async def by_login(self, login: str, *, live: bool = False) -> tuple[Account, str | None] | None:
        self.lookups += 1
        return await super().by_login(login, live=live)


async def test_requests_that_miss_the_expired_cache_together_share_one_lookup(db: Database) -> None:
    store = CountingStore(db, lambda: 1)
    created = await AccountService(store, AccountDefaults(), URLS).create("alice")
    clock = ManualClock()
    auth = Authenticator(store, cache_seconds=5, clock=clock)
    assert await auth.by_token(created.token) is not None
    clock.now = 5.1
    callers = await asyncio.gather(*(auth.by_token(created.token) for _ in range(20)))
    assert {caller.account.login for caller in callers if caller is not None} == {"alice"}
    assert len([caller for caller in callers if caller is not None]) == 20
    assert store.lookups == 2  # the first request's, then one for the twenty


async def test_requests_with_the_same_login_and_password_share_one_check(db: Database) -> None:
    store = CountingStore(db, lambda: 1)
    await AccountService(store, AccountDefaults(), URLS).create("alice", password="s3cret-passw0rd")
    auth = Authenticator(store, cache_seconds=5, clock=ManualClock())
    right = [auth.by_password("alice", "s3cret-passw0rd") for _ in range(5)]
    wrong = [auth.by_password("alice", "guess") for _ in range(5)]
    callers = await asyncio.gather(*right, *wrong)
    assert [caller is not None for caller in callers] == [True] * 5 + [False] * 5
    assert store.lookups == 2  # one lookup (and one scrypt) for each pair of secrets
