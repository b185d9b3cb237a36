"""`martinet contacts import|export|list|groups`: an account's address book from the command line, through the
same contacts service as the HTTP doors."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from martinet.cli.preamble import SettingsLoader, Where, opened_store

if TYPE_CHECKING:  # the store is imported when a command runs, to keep the CLI quick to start
    from martinet.services.contacts import ContactService


def add_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    where: Where,
    settings: SettingsLoader,
) -> None:
    """Register ``contacts import|export|list|groups``; ``where`` adds the CLI's --config/--data."""
    contacts = subparsers.add_parser("contacts", help="an account's address book").add_subparsers(
        required=True, metavar="ACTION"
    )
    importing = contacts.add_parser(
        "import", help="import a CSV file (header first; ; or , separated; UTF-8 or ISO-8859-15)"
    )
    importing.add_argument("file", type=Path, help="the CSV file ('-': standard input)")
    importing.add_argument("--account", required=True, metavar="LOGIN")
    importing.add_argument("--group", help="also add every imported contact to this group (created if missing)")
    importing.add_argument("--json", action="store_true", help="one JSON object per line of the file")
    where(importing)
    importing.set_defaults(func=functools.partial(_import, load=settings))

    exporting = contacts.add_parser("export", help="write the address book as CSV (UTF-8 with BOM, ; separated)")
    exporting.add_argument("--account", required=True, metavar="LOGIN")
    exporting.add_argument("--group", help="only this group's contacts")
    exporting.add_argument("-o", "--output", type=Path, help="the file to write (default: standard output)")
    where(exporting)
    exporting.set_defaults(func=functools.partial(_export, load=settings))

    listing = contacts.add_parser("list", help="the contacts, one per line")
    listing.add_argument("--account", required=True, metavar="LOGIN")
    listing.add_argument("--group", help="only this group's contacts")
    listing.add_argument("--search", help="in names and company, or digits of the mobile")
    listing.add_argument("--limit", type=int, default=100)
    where(listing)
    listing.set_defaults(func=functools.partial(_list, load=settings))

    groups = contacts.add_parser("groups", help="the account's groups and their sizes")
    groups.add_argument("--account", required=True, metavar="LOGIN")
    where(groups)
    groups.set_defaults(func=functools.partial(_groups, load=settings))


@contextlib.asynccontextmanager
async def _open(args: argparse.Namespace, load: SettingsLoader) -> AsyncIterator[tuple[ContactService, int | None]]:
    """The account's contacts service and id (None, said on standard error, when there is no such account)."""
    from martinet.clock import now_ms
    from martinet.services.contacts import ContactService
    from martinet.store.accounts import AccountStore
    from martinet.store.contacts import ContactStore

    async with opened_store(load(args), migrate=False) as db:
        found = await AccountStore(db, now_ms).by_login(args.account)
        if found is None:
            print(f"no account named {args.account!r}", file=sys.stderr)
        yield ContactService(ContactStore(db, now_ms)), None if found is None else found[0].id


def _import(args: argparse.Namespace, load: SettingsLoader) -> int:
    from martinet.domain.contacts import ContactError

    try:
        data = sys.stdin.buffer.read() if str(args.file) == "-" else args.file.read_bytes()
    except OSError as exc:  # missing, a folder, not readable: the same exit as a file that cannot be read
        print(f"{args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2

    async def run() -> int:
        async with _open(args, load) as (service, account_id):
            if account_id is None:
                return 1
            try:
                report = await service.import_csv(account_id, data, args.group)
            except ContactError as exc:
                print(f"{args.file}: {exc.problem}", file=sys.stderr)
                return 2
        for line in report.lines:
            if args.json:
                print(
                    json.dumps(
                        {"line": line.line, "outcome": line.outcome, "mobile": line.mobile, "reason": line.reason}
                    )
                )
            elif line.outcome == "refused":
                print(f"line {line.line}: refused: {line.reason}", file=sys.stderr)
        created, merged, refused = (report.count(o) for o in ("created", "merged", "refused"))
        print(f"{created} created, {merged} merged, {refused} refused", file=sys.stderr if args.json else sys.stdout)
        return 0

    return asyncio.run(run())


def _export(args: argparse.Namespace, load: SettingsLoader) -> int:
    async def run() -> int:
        async with _open(args, load) as (service, account_id):
            if account_id is None:
                return 1
            out = args.output.open("wb") if args.output else sys.stdout.buffer
            try:
                async for chunk in service.export_csv(account_id, args.group):
                    out.write(chunk)
            finally:
                if args.output:
                    out.close()
                else:
                    out.flush()
        return 0

    return asyncio.run(run())


def _list(args: argparse.Namespace, load: SettingsLoader) -> int:
    async def run() -> int:
        async with _open(args, load) as (service, account_id):
            if account_id is None:
                return 1
            rows = await service.store.page(
                account_id, search=args.search, group=args.group, after=0, offset=0, limit=max(1, args.limit)
            )
        for row in rows:
            name = " ".join(part for part in (row.first_name, row.last_name) if part)
            print(f"c{row.id}\t+{row.msisdn}\t{name}\t{row.company}\t{','.join(row.groups)}")
        return 0

    return asyncio.run(run())


def _groups(args: argparse.Namespace, load: SettingsLoader) -> int:
    async def run() -> int:
        async with _open(args, load) as (service, account_id):
            if account_id is None:
                return 1
            groups = await service.store.groups(account_id, search=None, offset=0, limit=10_000)
        for group in groups:
            print(f"g{group.id}\t{group.name}\t{group.members}")
        return 0

    return asyncio.run(run())
