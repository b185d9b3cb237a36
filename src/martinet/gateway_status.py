"""The state of a gateway as an operator reads it: readiness, live engines, connectors, queue depth, callbacks.

It reads the database only, like `/readyz`: the engines write their status there at every heartbeat, so it
works from any process that reaches the database. `martinet status` prints it; the web console's operator
pages show it.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from martinet.config import Settings

if TYPE_CHECKING:  # the store is imported when asked, to keep the CLI quick to start
    from martinet.health import Readiness
    from martinet.store.database import Database


async def gather(db: Database, settings: Settings, checks: Readiness | None = None) -> dict[str, Any]:
    """Readiness plus the engines, connectors and queue depth, as one JSON-ready object; `checks` is kept
    between the rounds of --watch (its write to the store is reused for a few seconds)."""
    from martinet.clock import now_ms
    from martinet.health import Readiness, live_engines
    from martinet.identity import node_name, process_owner
    from martinet.store.callbacks import outbox_backlog
    from martinet.store.nodes import NodeStore
    from martinet.store.receipts import ReceiptStore
    from martinet.store.scheduler import queue_depth

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
            # SMPP: requests awaiting their answer now, and the carrier's refusals by command_status, summed over
            # the live engines (each counts since it started).
            "window_in_use": sum(int(c.get("window_in_use") or 0) for c in reports),
            "refusals": _summed(c.get("refusals") for c in reports),
            "uncertain_receipts": waiting.uncertain if waiting else 0,
        }
    report["connectors"] = connectors
    report["queue"] = queue
    report["callbacks"] = outbox
    return report


def _summed(maps: Any) -> dict[str, int]:
    total: dict[str, int] = {}
    for counts in maps:
        if isinstance(counts, dict):
            for key, value in counts.items():
                total[str(key)] = total.get(str(key), 0) + int(value or 0)
    return dict(sorted(total.items()))


def _iso(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
