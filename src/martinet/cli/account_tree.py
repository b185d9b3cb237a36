"""`martinet account ledger|usage|transfer|delete|limits|sender|operator`: the account tree from the command line.

The command line is the gateway's operator: it manages every account, through the same service as the API
doors (`martinet.services.resellers`), so the same rules and answers apply.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime
import functools
import json
import sys
from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from martinet.cli.preamble import SettingsLoader, Where, opened_store

if TYPE_CHECKING:  # the store is imported when a command runs, to keep the CLI quick to start
    from martinet.services.resellers import ResellerService
    from martinet.store.accounts import Account


def add_commands(
    account: argparse._SubParsersAction[argparse.ArgumentParser], where: Where, settings: SettingsLoader
) -> None:
    """Register the account tree's commands under `martinet account`."""
    ledger = account.add_parser("ledger", help="an account's credit movements with the balance after each")
    ledger.add_argument("login")
    ledger.add_argument("--from", dest="start", type=_date, default=None, metavar="YYYY-MM-DD")
    ledger.add_argument("--to", dest="end", type=_date, default=None, metavar="YYYY-MM-DD", help="included")
    ledger.add_argument("--csv", action="store_true", help="CSV with a header row (default: one JSON per line)")
    where(ledger)
    ledger.set_defaults(func=functools.partial(_run, work=_ledger, load=settings))

    usage = account.add_parser("usage", help="messages, parts and credits per day, for invoicing")
    usage.add_argument("login")
    usage.add_argument("--from", dest="start", type=_date, required=True, metavar="YYYY-MM-DD")
    usage.add_argument("--to", dest="end", type=_date, required=True, metavar="YYYY-MM-DD", help="included")
    where(usage)
    usage.set_defaults(func=functools.partial(_run, work=_usage, load=settings))

    transfer = account.add_parser("transfer", help="move credits between two accounts of one line of the tree")
    transfer.add_argument("giver")
    transfer.add_argument("receiver")
    transfer.add_argument("amount")
    transfer.add_argument("--reference", default=None)
    where(transfer)
    transfer.set_defaults(func=functools.partial(_run, work=_transfer, load=settings))

    delete = account.add_parser("delete", help="delete a sub-account: its credits go back to its parent")
    delete.add_argument("login")
    where(delete)
    delete.set_defaults(func=functools.partial(_run, work=_delete, load=settings))

    limits = account.add_parser("limits", help="cap an account and its sub-accounts; prints the account")
    limits.add_argument("login")
    limits.add_argument("--lanes", default=None, metavar="L,L", help='lanes it may use ("" = no limit)')
    limits.add_argument("--countries", default=None, metavar="CC,CC", help='destinations ("" = no limit)')
    limits.add_argument("--sender-policy", choices=["any", "approved"], default=None)
    where(limits)
    limits.set_defaults(func=functools.partial(_run, work=_limits, load=settings))

    sender = account.add_parser("sender", help="sender IDs: list, request, approve, refuse")
    sender.add_argument("action", choices=["list", "request", "approve", "refuse"])
    sender.add_argument("login")
    sender.add_argument("sender", nargs="?")
    where(sender)
    sender.set_defaults(func=functools.partial(_run, work=_sender, load=settings))

    operator = account.add_parser("operator", help="make an account an operator (it manages every account)")
    operator.add_argument("login")
    operator.add_argument("--off", action="store_true", help="take the role back")
    where(operator)
    operator.set_defaults(func=functools.partial(_run, work=_operator, load=settings))


def _date(raw: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, not {raw!r}") from None


Work = Callable[["ResellerService", "Account", argparse.Namespace], Awaitable[int]]


def _run(args: argparse.Namespace, *, work: Work, load: SettingsLoader) -> int:
    async def run() -> int:
        from martinet.clock import now_ms
        from martinet.services.resellers import InvalidField, NotAllowed, NotManaged, ResellerService
        from martinet.store.account_tree import AccountClosed, AccountTree, HasSubAccounts
        from martinet.store.accounts import Account, AccountStore, InsufficientCredit
        from martinet.store.ledger import LedgerStore
        from martinet.store.senders import SenderStore

        settings = load(args)
        async with opened_store(settings) as db:
            accounts = AccountStore(db, now_ms)
            tree, senders = AccountTree(db, now_ms), SenderStore(db, now_ms)
            default_rate = settings.accounts.rate_limit
            service = ResellerService(accounts, tree, senders, LedgerStore(db), default_rate=default_rate)
            # The command line acts as the operator (id 0: no account; sender decisions show it as such).
            operator = Account(0, "(command line)", "fr", "UTC", "marketing", "replace", None, operator=True)
            try:
                return await work(service, operator, args)
            except NotManaged as exc:
                print(f"no account named {exc.args[0]!r}", file=sys.stderr)
            except (InvalidField, NotAllowed) as exc:
                print(str(exc), file=sys.stderr)
                return 2
            except InsufficientCredit:
                print("refused: the giver's balance does not cover it", file=sys.stderr)
            except AccountClosed:
                print("refused: the account is deleted", file=sys.stderr)
            except HasSubAccounts:
                print("refused: delete its sub-accounts first", file=sys.stderr)
            return 1

    return asyncio.run(run())


def _milli_credits(milli: int) -> str:
    sign = "-" if milli < 0 else ""
    whole, frac = divmod(abs(milli), 1000)
    return f"{sign}{whole}.{frac:03d}"


def _iso(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).isoformat(timespec="milliseconds")


def _bounds(start: datetime.date | None, end: datetime.date | None, timezone: str) -> tuple[int | None, int | None]:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone)

    def midnight(day: datetime.date) -> int:
        return int(datetime.datetime(day.year, day.month, day.day, tzinfo=zone).timestamp() * 1000)

    since = None if start is None else midnight(start)
    until = None if end is None else midnight(end + datetime.timedelta(days=1))
    return since, until


async def _ledger(service: ResellerService, operator: Account, args: argparse.Namespace) -> int:
    target = await service.account_by_login(operator, args.login)
    since, until = _bounds(args.start, args.end, target.timezone)
    writer = csv.writer(sys.stdout, lineterminator="\n") if args.csv else None
    if writer is not None:
        writer.writerow(["id", "at", "reason", "amount", "balance_after", "reference", "counterparty", "note"])
    offset, page = 0, 1000
    while True:
        entries = await service.ledger(operator, target.id, since=since, until=until, offset=offset, limit=page)
        for e in entries:
            row: dict[str, Any] = {
                "id": e.id,
                "at": _iso(e.at),
                "reason": e.reason,
                "amount": _milli_credits(e.amount),
                "balance_after": _milli_credits(e.balance_after),
                "reference": e.send_id or e.reference,
                "counterparty": e.counterparty,
                "note": e.note,
            }
            if writer is not None:
                writer.writerow(["" if value is None else value for value in row.values()])
            else:
                print(json.dumps(row))
        if len(entries) < page:
            return 0
        offset += page


async def _usage(service: ResellerService, operator: Account, args: argparse.Namespace) -> int:
    target = await service.account_by_login(operator, args.login)
    for day in await service.usage(operator, target.id, args.start, args.end):
        print(
            json.dumps(
                {
                    "date": day.day.isoformat(),
                    "messages": day.messages,
                    "parts": day.parts,
                    "credits": _milli_credits(day.cost),
                    "movements": {reason: _milli_credits(amount) for reason, amount in day.movements.items()},
                }
            )
        )
    return 0


async def _transfer(service: ResellerService, operator: Account, args: argparse.Namespace) -> int:
    from martinet.domain.credits import to_milli

    try:
        amount = to_milli(Decimal(args.amount))
    except (InvalidOperation, ValueError):
        print(f"{args.amount!r} is not an amount of credits (e.g. 100 or 12.5)", file=sys.stderr)
        return 2
    giver = await service.account_by_login(operator, args.giver)
    receiver = await service.account_by_login(operator, args.receiver)
    moved = await service.transfer(operator, receiver, amount, giver=giver, reference=args.reference)
    print(
        f"{args.giver}: balance {_milli_credits(moved.giver_balance)}; "
        f"{args.receiver}: balance {_milli_credits(moved.receiver_balance)}",
        file=sys.stderr,
    )
    return 0


async def _delete(service: ResellerService, operator: Account, args: argparse.Namespace) -> int:
    target = await service.account_by_login(operator, args.login)
    returned = await service.delete_subaccount(operator, target)
    print(f"{args.login} deleted; {_milli_credits(returned)} credits back to its parent", file=sys.stderr)
    return 0


async def _limits(service: ResellerService, operator: Account, args: argparse.Namespace) -> int:
    from martinet.domain.account_rules import limits_text
    from martinet.store.accounts import KEEP

    target = await service.account_by_login(operator, args.login)
    updated = await service.set_limits(
        operator,
        target.id,
        lanes=KEEP if args.lanes is None else args.lanes or None,
        countries=KEEP if args.countries is None else args.countries or None,
        sender_policy=KEEP if args.sender_policy is None else args.sender_policy,
    )
    applied = await service.applies(updated)
    print(
        json.dumps(
            {
                "login": updated.login,
                "lanes": updated.allowed_lanes,
                "countries": updated.allowed_countries,
                "sender_policy": updated.sender_policy,
                "rate_limit": updated.rate_limit,
                # What holds once the limits of the accounts above are added (0 = no cap, null = every one).
                "effective": {
                    "lanes": limits_text(applied.lanes),
                    "countries": limits_text(applied.countries),
                    "sender_policy": applied.sender_policy,
                    "rate_limit": applied.rate_limit,
                },
            }
        )
    )
    return 0


async def _sender(service: ResellerService, operator: Account, args: argparse.Namespace) -> int:
    target = await service.account_by_login(operator, args.login)
    if args.action == "list":
        found = await service.senders(operator, target.id)
    elif not args.sender:
        print(f"account sender {args.action}: give the SENDER", file=sys.stderr)
        return 2
    elif args.action == "request":
        found = [await service.request_sender(operator, target.id, args.sender)]
    else:
        status = "approved" if args.action == "approve" else "refused"
        found = [await service.decide_sender(operator, target.id, args.sender, status)]
    for s in found:
        print(json.dumps({"sender": s.sender, "status": s.status, "requested": _iso(s.requested_at)}))
    return 0


async def _operator(service: ResellerService, operator: Account, args: argparse.Namespace) -> int:
    target = await service.account_by_login(operator, args.login)
    await service.set_operator(target.id, not args.off)
    print(f"{args.login}: operator {'off' if args.off else 'on'}", file=sys.stderr)
    return 0
