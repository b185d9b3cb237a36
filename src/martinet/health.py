"""Readiness: may this node be sent traffic? Shared by `/readyz` and `martinet status`.

Three checks, each answering from the database alone, because the HTTP worker asking is not the engine process
and is often not on the engine's machine: the store answers a query; an engine wrote a heartbeat lately (within
three heartbeat intervals, the same rule engines use to count each other); and the connectors that engine
reported are all ready (bound, for SMPP). One small query serves all three, with a short timeout: load
balancers and Kubernetes poll this every few seconds, and a probe that hangs is worse than one that says no.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from martinet.clock import now_ms
from martinet.config import Settings
from martinet.store.database import Database
from martinet.store.nodes import EngineNode, NodeStore

#: Seconds the store has to answer before it counts as unreachable.
STORE_TIMEOUT = 2.0


async def readiness(db: Database, settings: Settings) -> tuple[int, dict[str, object]]:
    """The HTTP status and JSON body of `/readyz`: 200 `ready`, or 503 `not ready` naming what failed."""
    engines: list[EngineNode] | None = None
    try:
        async with asyncio.timeout(STORE_TIMEOUT):
            engines = await NodeStore(db, now_ms).engines()
    except TimeoutError:
        store: dict[str, object] = {"ok": False, "reason": f"no answer within {STORE_TIMEOUT:g}s"}
    except Exception as exc:  # any driver error means the same thing to a probe: not reachable
        store = {"ok": False, "reason": f"{type(exc).__name__}: {_first_line(exc)}"}
    else:
        store = {"ok": True}
    checks = evaluate(store, engines, settings, now_ms())
    ready = all(check["ok"] for check in checks.values())
    body: dict[str, object] = {"status": "ready" if ready else "not ready", "checks": checks}
    if not ready:
        body["failed"] = [name for name, check in checks.items() if not check["ok"]]
    return (200 if ready else 503), body


def live_within_ms(settings: Settings) -> int:
    return int(settings.engine.heartbeat * 3000)


def live_engines(engines: Sequence[EngineNode], settings: Settings, now: int) -> list[EngineNode]:
    return [e for e in engines if e.heartbeat_at >= now - live_within_ms(settings)]


def evaluate(
    store: dict[str, object], engines: Sequence[EngineNode] | None, settings: Settings, now: int
) -> dict[str, dict[str, Any]]:
    """The three checks from what was read (`engines` None: the store could not be read)."""
    if engines is None:
        unknown = {"ok": False, "reason": "store not reachable"}
        return {"store": store, "engine": dict(unknown), "connectors": dict(unknown)}
    live = live_engines(engines, settings, now)
    window = live_within_ms(settings) / 1000
    if live:
        freshest = live[0]
        engine: dict[str, Any] = {
            "ok": True,
            "live": len(live),
            "node": freshest.node,
            "last_heartbeat_ms_ago": max(0, now - freshest.heartbeat_at),
        }
    elif engines:
        ago = (now - engines[0].heartbeat_at) / 1000
        engine = {"ok": False, "reason": f"no engine heartbeat within {window:g}s (last {ago:.1f}s ago)"}
    else:
        engine = {"ok": False, "reason": f"no engine heartbeat within {window:g}s (none in the last day)"}
    return {"store": store, "engine": engine, "connectors": _connectors(live, settings)}


def _connectors(live: Sequence[EngineNode], settings: Settings) -> dict[str, Any]:
    if not live:
        return {"ok": False, "reason": "no live engine to report them"}
    reported = {c.get("name"): c for c in live[0].status.get("connectors", ()) if isinstance(c, dict)}
    states: dict[str, bool] = {}
    for config in settings.connectors:
        entry = reported.get(config.name)
        states[config.name] = bool(entry and entry.get("ready"))
    check: dict[str, Any] = {"ok": all(states.values()), "ready": states}
    not_ready = [name for name, ready in states.items() if not ready]
    if not_ready:
        missing = [name for name in not_ready if name not in reported]
        reason = f"not ready: {', '.join(not_ready)}"
        if missing:
            reason += f" (not reported by engine {live[0].owner}: {', '.join(missing)})"
        check["reason"] = reason
    return check


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:200]
