"""Where and when an account is called back, as a console form: the account's own Callbacks page and a reseller's
page of a sub-account fill in the same fields (`templates/_callback_settings.html`) and save them here.

The rules are `AccountService.update`'s, those of `martinet account update` and of the REST door's `PATCH
…/webhooks`: the URLs are checked as a send's `notification_url` is, an empty one removes the account's default,
and `callback_statuses` is `all` (every status change, as smsmode) or `final`.
"""

from __future__ import annotations

from martinet.api.console.context import Ctx
from martinet.store.accounts import Account


async def save_callback_settings(ctx: Ctx, login: str) -> Account:
    """Saves the form's settings on the account `login`, whom the page has already found the signed-in account
    allowed to change; returns the account as saved. Raises InvalidAccountSetting, changing nothing."""
    view = await ctx.services.account_admin.update(
        login,
        callback_url=ctx.form.get("callback_url", "").strip(),
        reply_url=ctx.form.get("reply_url", "").strip(),
        callback_statuses=ctx.form.get("callback_statuses", ""),
    )
    return view.account
