"""`martinet key create|list|revoke`: an account's API keys, from the command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import functools
import json
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from martinet.cli.preamble import SettingsLoader, Where, opened_store
from martinet.config import Settings

if TYPE_CHECKING:  # the store is imported when a command runs, to keep the CLI quick to start
    from martinet.services.keys import KeyService


def add_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    where: Where,
    settings: SettingsLoader,
) -> None:
    """Register ``key create|list|revoke``; ``where`` adds the CLI's --config/--data, ``settings`` reads them."""
    key = subparsers.add_parser("key", help="API keys (accessToken and X-Api-Key)").add_subparsers(
        required=True, metavar="ACTION"
    )
    create = key.add_parser("create", help="a new key for an account; prints it (the only time it is shown)")
    create.add_argument("login")
    create.add_argument("--label", default="", help="what the key is for")
    create.add_argument("--lanes", default=None, metavar="L,L", help="only these lanes (otp, notification, marketing)")
    create.add_argument(
        "--networks", default=None, metavar="CIDR,CIDR", help="only from these addresses (10.0.0.0/8, 192.0.2.7)"
    )
    where(create)
    create.set_defaults(func=functools.partial(_create, load=settings))
    listing = key.add_parser("list", help="an account's keys (never the keys themselves)")
    listing.add_argument("login")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    where(listing)
    listing.set_defaults(func=functools.partial(_list, load=settings))
    revoke = key.add_parser("revoke", help="revoke a key by its id (from `key list`)")
    revoke.add_argument("id", type=int)
    where(revoke)
    revoke.set_defaults(func=functools.partial(_revoke, load=settings))


def _create(args: argparse.Namespace, load: SettingsLoader) -> int:
    async def run() -> int:
        from martinet.domain.keys import InvalidKeyLimit
        from martinet.store.accounts import UnknownAccount

        async with _service(load(args)) as service:
            try:
                created = await service.create(args.login, label=args.label, lanes=args.lanes, networks=args.networks)
            except UnknownAccount:
                print(f"no account named {args.login!r}", file=sys.stderr)
                return 1
            except InvalidKeyLimit as exc:
                print(str(exc), file=sys.stderr)
                return 2
        print(f"key {created.id} created", file=sys.stderr)
        print(created.token)
        return 0

    return asyncio.run(run())


def _list(args: argparse.Namespace, load: SettingsLoader) -> int:
    async def run() -> int:
        from martinet.store.accounts import UnknownAccount

        async with _service(load(args)) as service:
            try:
                keys = await service.list(args.login)
            except UnknownAccount:
                print(f"no account named {args.login!r}", file=sys.stderr)
                return 1
        for k in keys:
            row = {
                "id": k.id,
                "label": k.label,
                "lanes": k.lanes or "all",
                "networks": k.networks or "any",
                "created": _iso(k.created_at),
                "revoked": _iso(k.revoked_at) if k.revoked_at is not None else None,
            }
            if args.json:
                print(json.dumps(row))
            else:
                print("\t".join(str(value) if value is not None else "-" for value in row.values()))
        return 0

    return asyncio.run(run())


def _revoke(args: argparse.Namespace, load: SettingsLoader) -> int:
    async def run() -> int:
        async with _service(load(args)) as service:
            revoked = await service.revoke(args.id)
        if not revoked:
            print(f"no live key with id {args.id}", file=sys.stderr)
            return 1
        print(f"key {args.id} revoked (workers forget it within accounts.token_cache_seconds)", file=sys.stderr)
        return 0

    return asyncio.run(run())


@contextlib.asynccontextmanager
async def _service(settings: Settings) -> AsyncIterator[KeyService]:
    from martinet.clock import now_ms
    from martinet.services.keys import KeyService
    from martinet.store.accounts import AccountStore

    async with opened_store(settings) as db:
        yield KeyService(AccountStore(db, now_ms))


def _iso(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).isoformat(timespec="seconds")
