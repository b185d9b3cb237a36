"""`martinet optout list|add|remove`: an account's opt-out list, from the command line."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import functools
import json
import sys
from typing import TYPE_CHECKING

from martinet.cli.preamble import SettingsLoader, Where, opened_store
from martinet.domain.recipients import Recipient, parse_recipients

if TYPE_CHECKING:  # the store is imported when a command runs, to keep the CLI quick to start
    from martinet.store.accounts import AccountStore


def add_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    where: Where,
    settings: SettingsLoader,
) -> None:
    """Register ``optout list|add|remove``; ``where`` adds the CLI's --config/--data, ``settings`` reads them."""
    optout = subparsers.add_parser("optout", help="numbers that asked an account to stop").add_subparsers(
        required=True, metavar="ACTION"
    )
    listing = optout.add_parser("list", help="the account's opt-out list")
    listing.add_argument("login")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    where(listing)
    listing.set_defaults(func=functools.partial(_list, load=settings))
    for action, text in (("add", "put numbers on the list"), ("remove", "take numbers off the list")):
        command = optout.add_parser(action, help=text)
        command.add_argument("login")
        command.add_argument("numbers", nargs="+", metavar="NUMBER", help="as on the API: 0612345678, +33…")
        where(command)
        command.set_defaults(func=functools.partial(_change, load=settings, action=action))


def _list(args: argparse.Namespace, load: SettingsLoader) -> int:
    async def run() -> int:
        from martinet.store.accounts import AccountStore
        from martinet.store.opt_outs import OptOutStore

        async with opened_store(load(args), migrate=False) as db:
            account_id = await _account_id(AccountStore(db, _now), args.login)
            if account_id is None:
                return 1
            for entry in await OptOutStore(db, _now).list(account_id):
                when = datetime.datetime.fromtimestamp(entry.created_at / 1000, datetime.UTC).isoformat()
                if args.json:
                    print(json.dumps({"numero": entry.msisdn, "since": when, "source": entry.source}))
                else:
                    print(f"{entry.msisdn}\t{when}\t{entry.source}")
        return 0

    return asyncio.run(run())


def _change(args: argparse.Namespace, load: SettingsLoader, action: str) -> int:
    numbers = _numbers(args.numbers)
    if numbers is None:
        return 2

    async def run() -> int:
        from martinet.store.accounts import AccountStore
        from martinet.store.opt_outs import OptOutStore

        async with opened_store(load(args), migrate=False) as db:
            account_id = await _account_id(AccountStore(db, _now), args.login)
            if account_id is None:
                return 1
            store = OptOutStore(db, _now)
            if action == "add":
                changed = await store.add(account_id, numbers, "manual")
            else:
                changed = await store.remove(account_id, numbers)
        verb = "added" if action == "add" else "removed"
        print(f"{changed} number(s) {verb}, {len(numbers) - changed} unchanged")
        return 0

    return asyncio.run(run())


def _numbers(raw: list[str]) -> list[str] | None:
    parsed = parse_recipients(",".join(raw))
    bad = [r.raw for r in parsed if not isinstance(r, Recipient)]
    if bad:
        print(f"not valid phone numbers: {', '.join(bad)}", file=sys.stderr)
        return None
    return [r.msisdn for r in parsed if isinstance(r, Recipient)]


async def _account_id(store: AccountStore, login: str) -> int | None:
    found = await store.by_login(login)
    if found is None:
        print(f"no account named {login!r}", file=sys.stderr)
        return None
    return found[0].id


def _now() -> int:
    from martinet.clock import now_ms

    return now_ms()
