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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from martinet.config import Settings

if TYPE_CHECKING:  # the store is imported when the command runs, to keep the CLI quick to start
    from martinet.health import Readiness
    from martinet.store.database import Database

SettingsLoader = Callable[[argparse.Namespace], Settings]


def add_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    where: Callable[[argparse.ArgumentParser], None],
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
        from martinet.app import node_name, open_store, process_owner
        from martinet.health import Readiness

        db = open_store(settings)
        checks = Readiness(db, settings, process_owner(node_name(settings)))
        try:
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
        finally:
            await db.dispose()

    return asyncio.run(run())


async def gather(db: Database, settings: Settings, checks: Readiness | None = None) -> dict[str, Any]:
    """Readiness plus the engines, connectors and queue depth, as one JSON-ready object; `checks` is kept
    between the rounds of --watch (its write to the store is reused for a few seconds)."""
    from martinet.app import node_name, process_owner
    from martinet.clock import now_ms
    from martinet.health import Readiness, live_engines
    from martinet.store.callbacks import outbox_backlog
    from martinet.store.nodes import NodeStore
    from martinet.store.queue import queue_depth
    from martinet.store.receipts import ReceiptStore

    if checks is None:
        checks = Readiness(db, settings, process_owner(node_name(settings)))
    _code, body = await checks.check()
    report: dict[str, Any] = {"at": _iso(now_ms()), **body}
    try:
        engines = await NodeStore(db, now_ms).engines()
        queue: dict[str, dict[str, int]] = {}
        for (lane, state), count in (await queue_depth(db)).items():
            queue.setdefault(lane, {})[state] = count
        outbox = await outbox_backlog(db)
        kept = await ReceiptStore(db, now_ms).kept()
    except Exception:  # the store check above says why
        report.update(engines=[], connectors={}, queue=None, callbacks=None)
        return report
    now = now_ms()
    live = {e.owner for e in live_engines(engines, settings, now)}
    report["engines"] = [
        {
            "node": e.node,
            "owner": e.owner,
            "pid": e.status.get("pid"),
            "live": e.owner in live,
            "started_at": _iso(e.started_at),
            "heartbeat_at": _iso(e.heartbeat_at),
            "last_heartbeat_ms_ago": max(0, now - e.heartbeat_at),
            "connectors": [c for c in e.status.get("connectors", ()) if isinstance(c, dict)],
        }
        for e in engines
    ]
    connectors: dict[str, dict[str, Any]] = {}
    for config in settings.connectors:
        reports = [c for e in report["engines"] if e["live"] for c in e["connectors"] if c.get("name") == config.name]
        bound = sum(1 for c in reports if c.get("ready"))
        readings = {str(c["id_reading"]) for c in reports if c.get("id_reading")}
        waiting = kept.get(config.name)
        connectors[config.name] = {
            "bound": bound > 0,
            "engines_bound": bound,
            "throughput": round(sum(float(c.get("throughput") or 0) for c in reports), 2),
            # How receipts write message IDs (docs/smpp.md): configured, learned, or "learning".
            "id_reading": min(readings - {"learning"} or readings, default=None),
            "kept_receipts": waiting.kept if waiting else 0,
            "uncertain_receipts": waiting.uncertain if waiting else 0,
        }
    report["connectors"] = connectors
    report["queue"] = queue
    report["callbacks"] = outbox
    return report


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
