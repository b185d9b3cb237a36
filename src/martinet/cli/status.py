"""`martinet status`: what `/readyz` says, and what an operator asks next, in a terminal.

It reads the database only, like `/readyz`: the engines write their status there at every heartbeat, so the
command works from any machine that reaches the database, whether or not a gateway runs beside it. It never
migrates the schema (unlike the account commands): a status check must not change what it looks at. Its one
write is readiness's own, a row of `store_probes`, which is how it knows that sends could be stored.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import functools
import json
import sys
from typing import TYPE_CHECKING, Any

from martinet.cli.preamble import SettingsLoader, Where, opened_store
from martinet.gateway_status import gather

if TYPE_CHECKING:  # the store is imported when the command runs, to keep the CLI quick to start
    pass


def add_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    where: Where,
    settings: SettingsLoader,
) -> None:
    """Register ``status``; ``where`` adds the CLI's --config/--data, ``settings`` reads them."""
    status = subparsers.add_parser(
        "status", help="readiness, live engines, connectors and queue depth (exit 0 when ready)"
    )
    status.add_argument("--json", action="store_true", help="one JSON object (one per line with --watch)")
    status.add_argument(
        "--watch", type=_interval, default=None, metavar="SECONDS", help="print again every SECONDS until Ctrl-C"
    )
    where(status)
    status.set_defaults(func=functools.partial(_status, load=settings))


def _interval(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0.1 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"expected seconds between 0.1 and 3600, not {raw!r}")
    return value


def _status(args: argparse.Namespace, load: SettingsLoader) -> int:
    settings = load(args)

    async def run() -> int:
        from martinet.health import Readiness
        from martinet.identity import node_name, process_owner

        async with opened_store(settings, migrate=False, reached=False) as db:
            checks = Readiness(db, settings, process_owner(node_name(settings)))
            while True:
                report = await gather(db, settings, checks)
                if args.json:
                    print(json.dumps(report), flush=True)
                else:
                    if args.watch is not None and sys.stdout.isatty():
                        print("\x1b[2J\x1b[H", end="")
                    print(render(report), flush=True)
                if args.watch is None:
                    return 0 if report["status"] == "ready" else 1
                await asyncio.sleep(args.watch)

    return asyncio.run(run())


def render(report: dict[str, Any]) -> str:
    lines = [f"martinet: {report['status'].upper()} at {report['at']}"]
    for name, check in report["checks"].items():
        detail = _detail(name, check) if check["ok"] else f"FAILED: {check.get('reason', '')}"
        lines.append(f"  {name:<12}{detail}")
    engines = report.get("engines") or []
    lines.append("")
    lines.append("engines" if engines else "engines: none in the last day")
    for e in engines:
        state = "live" if e["live"] else "silent"
        lines.append(
            f"  {e['node']:<20} {e['owner']:<28} {state:<7} started {e['started_at']}"
            f"  last heartbeat {e['last_heartbeat_ms_ago'] / 1000:.1f}s ago"
        )
    if report.get("connectors"):
        lines.append("")
        lines.append(f"  {'connector':<20} {'bound':<7} {'parts/s':>9}  {'receipt IDs':<12} {'kept receipts':>13}")
        for name, c in report["connectors"].items():
            bound = "yes" if c["bound"] else "NO"
            reading = c.get("id_reading") or "-"
            kept = f"{c.get('kept_receipts', 0)}" + (
                f" ({c['uncertain_receipts']} uncertain)" if c.get("uncertain_receipts") else ""
            )
            lines.append(f"  {name:<20} {bound:<7} {c['throughput']:>9.2f}  {reading:<12} {kept:>13}")
    if report.get("queue") is not None:
        lines.append("")
        lines.append(f"  {'lane':<20} {'queued':>9} {'scheduled':>10}")
        for lane, depth in report["queue"].items():
            lines.append(f"  {lane:<20} {depth['queued']:>9} {depth['scheduled']:>10}")
    if report.get("callbacks") is not None:
        lines.append("")
        outbox = report["callbacks"]
        lines.append(f"callbacks  {outbox['pending']} pending, {outbox['failed']} failed (martinet callbacks list)")
    return "\n".join(lines)


def _detail(name: str, check: dict[str, Any]) -> str:
    if name == "engine":
        ago = check.get("last_heartbeat_ms_ago", 0) / 1000
        return f"ok ({check.get('live')} live; freshest {check.get('node')}, heartbeat {ago:.1f}s ago)"
    if name == "connectors":
        ready = [connector for connector, up in check.get("ready", {}).items() if up]
        down = check.get("down")
        tail = f"; down, other connectors carry their lanes: {', '.join(down)}" if down else ""
        return f"ok ({', '.join(ready)} ready{tail})"
    return "ok"


def _iso(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
