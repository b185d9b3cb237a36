"""``martinet callbacks list|replay|secret``: the status callbacks outbox, for the operator.

``list`` shows callbacks newest first (text, or one JSON object per line with ``--json``); ``replay`` queues
callbacks again as new ones (pending, due now, no attempts, a fresh age window); ``secret`` prints an account's
signing secret, creating it on first use, or a new one with ``--rotate``. See docs/webhooks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from martinet.cli.preamble import SettingsLoader, Where, opened_store
from martinet.config import Settings
from martinet.domain.webhooks import event_id, reply_event_id
from martinet.store.accounts import UnknownAccount
from martinet.store.callbacks import CallbackRow, CallbackStore

__all__ = ["add_commands"]

T = TypeVar("T")


def add_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    where: Where,
    settings: SettingsLoader,
) -> None:
    """Register ``callbacks list|replay|secret``; ``where`` adds --config/--data, ``settings`` reads them."""
    group = subparsers.add_parser("callbacks", help="status callbacks (delivery reports to client URLs)")
    actions = group.add_subparsers(required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="callbacks, newest first")
    state = listing.add_mutually_exclusive_group()
    for name in ("failed", "pending", "delivered"):
        state.add_argument(f"--{name}", dest="state", action="store_const", const=name, help=f"only {name} ones")
    listing.add_argument("--account", default=None, metavar="LOGIN")
    listing.add_argument("--limit", type=_positive, default=50, metavar="N", help="at most N (default 50)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    where(listing)
    listing.set_defaults(func=functools.partial(_list, load=settings))

    replay = actions.add_parser(
        "replay",
        help="send callbacks again",
        description="Queue the callbacks again as new ones: pending, due now, attempts 0, and created now (a "
        "fresh callbacks.max_age_hours window). Prints how many were queued.",
    )
    replay.add_argument("ids", nargs="*", type=_positive, metavar="ID")
    replay.add_argument("--all-failed", action="store_true", help="every failed callback")
    replay.add_argument("--account", default=None, metavar="LOGIN", help="only this account's callbacks")
    where(replay)
    replay.set_defaults(func=functools.partial(_replay, load=settings))

    secret = actions.add_parser("secret", help="print an account's callback signing secret")
    secret.add_argument("login", metavar="LOGIN")
    secret.add_argument("--rotate", action="store_true", help="replace it with a new one (the old one stops working)")
    where(secret)
    secret.set_defaults(func=functools.partial(_secret, load=settings))


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, not {raw!r}")
    return value


def _with_store(settings: Settings, work: Callable[[CallbackStore], Awaitable[T]]) -> T:
    async def run() -> T:
        from martinet.clock import now_ms

        async with opened_store(settings) as db:
            return await work(CallbackStore(db, now_ms))

    return asyncio.run(run())


def _list(args: argparse.Namespace, load: SettingsLoader) -> int:
    settings = load(args)
    rows = _with_store(settings, lambda store: store.list(state=args.state, login=args.account, limit=args.limit))
    if args.json:
        for row in rows:
            print(json.dumps(_fields(row), ensure_ascii=False))
        return 0
    if not rows:
        print("no callbacks", file=sys.stderr)
        return 0
    print(f"{'ID':>8}  {'STATE':<9}  {'TRIES':>5}  {'ACCOUNT':<12}  {'CREATED (UTC)':<19}  {'LAST':>4}  URL / ERROR")
    for row in rows:
        last = "" if row.last_status is None else str(row.last_status)
        line = f"{row.id:>8}  {row.state:<9}  {row.attempts:>5}  {row.login:<12}  {_time(row.created_at):<19}  "
        line += f"{last:>4}  {row.url}"
        if row.last_error:
            line += f"  ({row.last_error})"
        print(line)
    return 0


def _event(row: CallbackRow) -> str | None:
    """The event id the receiver saw in `X-Martinet-Event-Id`: a status change's or a reply's."""
    if row.history_id is not None:
        return event_id(row.history_id)
    return None if row.inbound_id is None else reply_event_id(row.inbound_id)


def _fields(row: CallbackRow) -> dict[str, object]:
    return {
        "id": row.id,
        "account": row.login,
        "state": row.state,
        "attempts": row.attempts,
        "url": row.url,
        "event_id": _event(row),
        "created_at": _time(row.created_at),
        "next_at": _time(row.next_at),
        "delivered_at": None if row.delivered_at is None else _time(row.delivered_at),
        "last_status": row.last_status,
        "last_error": row.last_error,
    }


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _replay(args: argparse.Namespace, load: SettingsLoader) -> int:
    if bool(args.ids) == bool(args.all_failed):
        print("callbacks replay: give IDs or --all-failed (not both)", file=sys.stderr)
        return 2
    settings = load(args)
    try:
        count = _with_store(
            settings, lambda store: store.replay(ids=args.ids, all_failed=args.all_failed, login=args.account)
        )
    except UnknownAccount:
        print(f"no account named {args.account!r}", file=sys.stderr)
        return 1
    print(count)
    print(f"{count} callback(s) queued again", file=sys.stderr)
    return 0


def _secret(args: argparse.Namespace, load: SettingsLoader) -> int:
    settings = load(args)
    try:
        value = _with_store(settings, lambda store: store.secret(args.login, rotate=args.rotate))
    except UnknownAccount:
        print(f"no account named {args.login!r}", file=sys.stderr)
        return 1
    print(value)
    return 0
