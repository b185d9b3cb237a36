"""Readiness: may this node be sent traffic? Shared by `/readyz` and `martinet status`.

Three checks, each answering from the database alone, because the HTTP worker asking is not the engine process
and is often not on the engine's machine:

- `store`: the database answers a query, and commits a write (one row of `store_probes`), so that a full disk or
  a read-only database is seen even though reads still work. The write is made at most once per
  `admin.write_probe_seconds` per process, whatever the number of probes, and a probe that is still waiting for
  its commit is shared, never repeated: a scrape storm costs one write;
- `engine`: an engine wrote a heartbeat lately (within three heartbeat intervals, the rule engines use to count
  each other);
- `connectors`: some connector is ready on a live engine, and every lane that has messages waiting has one of
  its connectors ready. A connector that is down while others carry its lanes' traffic is reported, not failed:
  it does not keep messages from leaving, and failing every node of a cluster for a backup carrier would refuse
  all traffic to save none.

Each answer comes with a short timeout: load balancers and Kubernetes poll this every few seconds, and a probe
that hangs is worse than one that says no.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

from martinet.clock import now_ms
from martinet.config import Settings
from martinet.config.routes import default_connectors, route_from_config
from martinet.domain.lanes import Lane
from martinet.store.database import Database
from martinet.store.nodes import EngineNode, NodeStore
from martinet.store.readiness import ProbeStore

#: Seconds the store has to answer (a query, a commit) before it counts as failing.
STORE_TIMEOUT = 2.0

#: Said of a store that reads but cannot commit: what an operator sees of it elsewhere.
CANNOT_WRITE = "the database answers but cannot commit a write (sends are answered 31, the engine cannot record)"


class WriteProbe:
    """The write half of the store check: one commit at most every `max_age` seconds, its outcome reused."""

    def __init__(self, store: ProbeStore, max_age: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._max_age = max_age
        self._clock = clock
        self._last: tuple[float, str | None] | None = None  # when, and the problem (None: committed)
        self._running: asyncio.Task[None] | None = None

    async def problem(self) -> str | None:
        """None when a write committed lately, else why not.

        A write still waiting after `STORE_TIMEOUT` is not cancelled (on SQLite it holds the write lock in a
        thread): it goes on, later probes wait for it rather than start another, and its outcome is kept.
        """
        if self._last is not None and self._clock() - self._last[0] < self._max_age:
            return self._last[1]
        if self._running is None:
            self._running = asyncio.create_task(self._write())
        done, _pending = await asyncio.wait({self._running}, timeout=STORE_TIMEOUT)
        if not done or self._last is None:  # still waiting (or stopped with its process)
            return f"{CANNOT_WRITE}: no commit within {STORE_TIMEOUT:g}s"
        return self._last[1]

    async def _write(self) -> None:
        try:
            await self._store.write()
        except Exception as exc:  # any driver error means the same thing to a probe: sends cannot be stored
            self._last = (self._clock(), f"{CANNOT_WRITE}: {type(exc).__name__}: {_first_line(exc)}")
        else:
            self._last = (self._clock(), None)
        finally:
            self._running = None


class Readiness:
    """The checks of one process (an HTTP worker, `martinet status`); `owner` names its row of `store_probes`."""

    def __init__(self, db: Database, settings: Settings, owner: str) -> None:
        self._db = db
        self._settings = settings
        self._probes = ProbeStore(db, owner, now_ms)
        self._write = WriteProbe(self._probes, settings.admin.write_probe_seconds)
        self._lanes = lane_connectors(settings)

    async def check(self) -> tuple[int, dict[str, object]]:
        """The HTTP status and JSON body of `/readyz`: 200 `ready`, or 503 `not ready` naming what failed."""
        engines: list[EngineNode] | None = None
        waiting: set[str] | None = None
        try:
            async with asyncio.timeout(STORE_TIMEOUT):
                engines = await NodeStore(self._db, now_ms).engines()
                waiting = await self._probes.lanes_waiting()
        except TimeoutError:
            store: dict[str, object] = {
                "ok": False,
                "reason": f"the database does not answer within {STORE_TIMEOUT:g}s",
            }
        except Exception as exc:  # any driver error means the same thing to a probe: not reachable
            store = {"ok": False, "reason": f"the database cannot be read: {type(exc).__name__}: {_first_line(exc)}"}
        else:
            problem = await self._write.problem()
            store = {"ok": True} if problem is None else {"ok": False, "reason": problem}
        checks = evaluate(store, engines, self._settings, now_ms(), waiting or (), self._lanes)
        ready = all(check["ok"] for check in checks.values())
        body: dict[str, object] = {"status": "ready" if ready else "not ready", "checks": checks}
        if not ready:
            body["failed"] = [name for name, check in checks.items() if not check["ok"]]
        return (200 if ready else 503), body


def lane_connectors(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Per lane, the connectors its messages may take, in the order routes name them.

    Routes are read as the router reads them, first match first: a route that holds for a lane and has no
    other condition takes all of the lane's messages, so the routes after it and the default connectors are
    never reached for that lane. Routes that also look at the country, number, operator or account may or
    may not take a given message: their connectors count as the lane's. Messages of sandbox accounts, which
    always go to the sandbox connector, are not told apart.
    """
    routes = [route_from_config(config) for config in settings.routes]
    result: dict[str, tuple[str, ...]] = {}
    for lane in Lane:
        names: list[str] = []
        catches_all = False
        for route in routes:
            if route.lanes and lane not in route.lanes:
                continue
            names += [entry.connector for entry in route.entries if entry.connector not in names]
            if not (route.countries or route.prefixes or route.operators or route.accounts):
                catches_all = True
                break
        if not catches_all:
            names += [name for name in default_connectors(settings) if name not in names]
        result[str(lane)] = tuple(names)
    return result


def live_within_ms(settings: Settings) -> int:
    return int(settings.engine.heartbeat * 3000)


def live_engines(engines: Sequence[EngineNode], settings: Settings, now: int) -> list[EngineNode]:
    return [e for e in engines if e.heartbeat_at >= now - live_within_ms(settings)]


def evaluate(
    store: dict[str, object],
    engines: Sequence[EngineNode] | None,
    settings: Settings,
    now: int,
    waiting: Collection[str] = (),
    lanes: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, dict[str, Any]]:
    """The three checks from what was read (`engines` None: the store could not be read); `waiting`: the lanes
    with queued messages, `lanes`: each lane's connectors (default: from the settings)."""
    if engines is None:
        unknown = {"ok": False, "reason": "the database cannot be read"}
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
    lanes = lane_connectors(settings) if lanes is None else lanes
    return {"store": store, "engine": engine, "connectors": _connectors(live, settings, waiting, lanes)}


def _connectors(
    live: Sequence[EngineNode], settings: Settings, waiting: Collection[str], lanes: dict[str, tuple[str, ...]]
) -> dict[str, Any]:
    if not live:
        return {"ok": False, "reason": "no live engine to report them"}
    reported: dict[str, bool] = {}
    for engine in live:
        for entry in engine.status.get("connectors", ()):
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                reported[entry["name"]] = reported.get(entry["name"], False) or bool(entry.get("ready"))
    states = {config.name: reported.get(config.name, False) for config in settings.connectors}
    check: dict[str, Any] = {"ok": True, "ready": states}
    not_ready = [name for name, ready in states.items() if not ready]
    if not not_ready:
        return check
    missing = [name for name in not_ready if name not in reported]

    def described(names: Sequence[str]) -> str:
        text = ", ".join(names)
        unreported = [name for name in names if name in missing]
        if unreported:
            text += f" (not reported by any live engine: {', '.join(unreported)})"
        return text

    stuck = [lane for lane in Lane if lane in waiting and not any(states.get(n) for n in lanes.get(lane, ()))]
    if not any(states.values()):
        check["ok"] = False
        check["reason"] = f"no connector is ready, nothing can leave: {described(not_ready)}"
    elif stuck:
        check["ok"] = False
        check["reason"] = "; ".join(
            f"messages wait in lane {lane} and none of its connectors is ready: {described(lanes[lane])}"
            for lane in stuck
        )
    else:
        check["down"] = not_ready  # reported: their lanes' traffic leaves by other connectors
    if stuck:
        check["stuck_lanes"] = [str(lane) for lane in stuck]
    return check


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:200]
