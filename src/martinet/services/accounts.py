"""Creating, changing and showing accounts and moving credits, for the CLI now and the sub-account API later.

The settings are checked here rather than only by the CLI, so that every door that manages accounts later
refuses the same values.
"""

from __future__ import annotations

from martinet.config import AccountDefaults
from martinet.domain.ids import new_access_token
from martinet.domain.lanes import Lane
from martinet.domain.valueclass import valueclass
from martinet.services.callback_urls import MAX_URL, CallbackUrlCheck
from martinet.services.credentials import hash_password, token_hash
from martinet.services.rate_limits import effective_rate, valid_rate
from martinet.store.accounts import KEEP, Account, AccountStore, Keep, UnknownAccount

MIN_WEIGHT, MAX_WEIGHT = 1, 100


class InvalidAccountSetting(ValueError):
    """A setting the gateway does not accept; the message names it and says what is allowed. `setting`: the
    keyword of `AccountService.update` it came from, where a door names the field in its own words; `problem`:
    what is wrong without the setting's name, where a door says it in its own language."""

    def __init__(self, message: str, setting: str | None = None, problem: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting
        self.problem = problem


@valueclass
class NewAccount:
    account: Account
    token: str


@valueclass
class AccountView:
    """An account as an operator reads it: its settings, its balance and the rate limit that applies to it."""

    account: Account
    balance: int  # millicredits
    rate_limit: float  # sends/s: the account's own or the configured default; 0 = unlimited


class AccountService:
    def __init__(self, accounts: AccountStore, defaults: AccountDefaults, url_check: CallbackUrlCheck) -> None:
        self._accounts = accounts
        self._defaults = defaults
        self._url_check = url_check

    async def create(
        self,
        login: str,
        *,
        credits: int = 0,
        password: str | None = None,
        lane: str | None = None,
        non_gsm: str | None = None,
        language: str | None = None,
        sandbox: bool = False,
        token: str | None = None,
        weight: int = 1,
        rate_limit: float | None = None,
        callback_url: str | None = None,
        reply_url: str | None = None,
        parent: str | None = None,
        callback_statuses: str = "all",
    ) -> NewAccount:
        """Create an account with one API key (returned in clear, once) and an opening credit; `parent`: the
        login of the account it is a sub-account of (raises UnknownAccount when there is none)."""
        _check_settings(lane, weight, rate_limit)
        _check_callback_statuses(callback_statuses)
        await self._check_urls(callback_url, reply_url)
        parent_id = None
        if parent is not None:
            found = await self._accounts.by_login(parent)
            if found is None:
                raise UnknownAccount(parent)
            parent_id = found[0].id
        account = await self._accounts.create(
            login,
            password_hash=hash_password(password) if password else None,
            language=language or self._defaults.language,
            timezone=self._defaults.timezone,
            lane=lane or self._defaults.lane,
            non_gsm=non_gsm or self._defaults.non_gsm,
            sandbox=sandbox,
            weight=weight,
            rate_limit=rate_limit,
            callback_url=callback_url or None,
            reply_url=reply_url or None,
            parent_id=parent_id,
            callback_statuses=callback_statuses,
        )
        token = token or new_access_token()
        await self._accounts.add_api_key(account.id, token_hash(token), label="default")
        if credits:
            await self._accounts.post(account.id, credits, "topup", "opening credit")
        return NewAccount(account, token)

    async def credit(self, login: str, amount: int, note: str | None = None) -> int:
        """Add (or, negative, remove) credits in millicredits; returns the new balance."""
        found = await self._accounts.by_login(login)
        if found is None:
            raise UnknownAccount(login)
        reason = "topup" if amount >= 0 else "withdrawal"
        return await self._accounts.post(found[0].id, amount, reason, note)

    async def update(
        self,
        login: str,
        *,
        lane: str | Keep = KEEP,
        weight: int | Keep = KEEP,
        rate_limit: float | Keep | None = KEEP,
        sandbox: bool | Keep = KEEP,
        callback_url: str | Keep | None = KEEP,
        reply_url: str | Keep | None = KEEP,
        callback_statuses: str | Keep = KEEP,
    ) -> AccountView:
        """Change the given settings (`rate_limit=None`: back to the configured default; a URL None or empty:
        none); returns the result.

        Raises InvalidAccountSetting or UnknownAccount, changing nothing.
        """
        _check_settings(
            None if lane is KEEP else lane,
            1 if weight is KEEP else weight,
            None if rate_limit is KEEP else rate_limit,
        )
        if callback_statuses is not KEEP:
            _check_callback_statuses(callback_statuses)
        await self._check_urls(None if callback_url is KEEP else callback_url, None if reply_url is KEEP else reply_url)
        account = await self._accounts.update(
            login,
            lane=lane,
            weight=weight,
            rate_limit=rate_limit,
            sandbox=sandbox,
            callback_url=callback_url if callback_url is KEEP else callback_url or None,
            reply_url=reply_url if reply_url is KEEP else reply_url or None,
            callback_statuses=callback_statuses,
        )
        return await self._view(account)

    async def show(self, login: str) -> AccountView:
        found = await self._accounts.by_login(login)
        if found is None:
            raise UnknownAccount(login)
        return await self._view(found[0])

    async def _check_urls(self, callback_url: str | None, reply_url: str | None) -> None:
        """The rules of a send's `notification_url`s: a default the notifier would refuse is refused now."""
        for setting, name, url in (
            ("callback_url", "callback URL", callback_url),
            ("reply_url", "reply URL", reply_url),
        ):
            if url:
                problem = self._url_check.problem(url) if len(url) <= MAX_URL else f"longer than {MAX_URL} characters"
                if problem is not None:
                    raise _refused(setting, name, problem)

    async def _view(self, account: Account) -> AccountView:
        balance = await self._accounts.balance(account.id)
        return AccountView(account, balance, effective_rate(account.rate_limit, self._defaults.rate_limit))


def _refused(setting: str, name: str, problem: str) -> InvalidAccountSetting:
    """The refusal of `setting` (`AccountService.update`'s keyword), `name` as the message shows it."""
    return InvalidAccountSetting(f"{name}: {problem}", setting, problem)


def _check_settings(lane: str | None, weight: int, rate_limit: float | None) -> None:
    if lane is not None and lane not in {str(known) for known in Lane}:
        raise _refused("lane", "lane", f"must be one of {', '.join(str(known) for known in Lane)}")
    if not MIN_WEIGHT <= weight <= MAX_WEIGHT:
        raise _refused("weight", "weight", f"must be between {MIN_WEIGHT} and {MAX_WEIGHT}")
    if rate_limit is not None and not valid_rate(rate_limit):
        problem = "must be a number of sends per second from 0 to 1,000,000 (0 = unlimited)"
        raise _refused("rate_limit", "rate limit", problem)


#: What `callback_statuses` may be: a callback for each reportable status change, or only for final ones.
CALLBACK_STATUSES = ("all", "final")


def _check_callback_statuses(value: str) -> None:
    if value not in CALLBACK_STATUSES:
        expected = f"expected one of {', '.join(CALLBACK_STATUSES)}, not {value!r}"
        raise _refused("callback_statuses", "callback statuses", expected)
