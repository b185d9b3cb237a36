"""Readiness (`/readyz`) and `martinet status`: the store answers, an engine is alive, its connectors are bound.

Over HTTP against a real gateway (engine running or not, a carrier that cannot be reached), from the checks'
rules directly for what takes time to happen (an engine gone silent), and `martinet status` as a subprocess
against a data folder with and without a running engine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import insert

from martinet.config import Settings
from martinet.health import Readiness, evaluate, lane_connectors
from martinet.store.callbacks import outbox_backlog
from martinet.store.database import Database, open_database
from martinet.store.nodes import EngineNode, NodeStore
from martinet.store.scheduler import queue_depth
from martinet.store.schema import callbacks
from tests.cli.support import MARTINET, environment, martinet
from tests.conftest import free_port
from tests.gateway import running_gateway, wait_for
from tests.served import create_account, served, write_config


async def test_readyz_is_ready_with_an_engine_and_its_sandbox(database_url: str) -> None:
    async with running_gateway(database_url) as gw, httpx.AsyncClient(base_url=gw.admin) as http:

        async def ready() -> httpx.Response | None:
            reply = await http.get("/readyz")
            return reply if reply.status_code == 200 else None

        reply = await wait_for(ready)
        body = reply.json()
        assert body["status"] == "ready"
        assert body["checks"]["store"] == {"ok": True}
        assert body["checks"]["engine"]["ok"] and body["checks"]["engine"]["live"] == 1
        assert body["checks"]["connectors"] == {"ok": True, "ready": {"sandbox": True}}
        assert (await http.get("/healthz")).status_code == 200


async def test_readyz_without_an_engine_says_so(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw, httpx.AsyncClient(base_url=gw.admin) as http:
        reply = await http.get("/readyz")
        assert reply.status_code == 503
        body = reply.json()
        assert body["status"] == "not ready"
        assert body["failed"] == ["engine", "connectors"]
        assert "no engine heartbeat within 6s" in body["checks"]["engine"]["reason"]
        assert body["checks"]["store"] == {"ok": True}
        assert (await http.get("/healthz")).status_code == 200  # the process is up all the same


async def test_a_connector_down_fails_readiness_only_once_its_lanes_traffic_waits(database_url: str) -> None:
    carrier = {"name": "carrier", "type": "smpp", "host": "127.0.0.1", "port": free_port(), "system_id": "x"}
    sandbox = {"name": "sandbox", "type": "sandbox"}
    # otp and marketing go to the sandbox; notification (the account's lane) to the default: the carrier.
    routes = [{"name": "others", "lanes": ["otp", "marketing"], "connectors": [{"name": "sandbox"}]}]
    async with (
        running_gateway(database_url, connectors=[carrier, sandbox], routes=routes, engine={"heartbeat": 0.2}) as gw,
        httpx.AsyncClient(base_url=gw.admin) as http,
    ):

        async def started() -> dict[str, Any] | None:
            # The engine's first heartbeat comes before its connectors start: wait for the one after.
            body: dict[str, Any] = (await http.get("/readyz")).json()
            return body if body["checks"]["connectors"].get("ready", {}).get("sandbox") else None

        body = await wait_for(started)
        assert body["status"] == "ready"  # the carrier is down, but no message waits for it
        connectors = body["checks"]["connectors"]
        assert connectors == {"ok": True, "ready": {"carrier": False, "sandbox": True}, "down": ["carrier"]}

        async with gw.client() as api:
            sent = await api.post(
                "/sendSMS.do", data={"accessToken": gw.token, "message": "hi", "numero": "0612345678"}
            )
        assert sent.text.startswith("0 | "), sent.text

        async def stuck() -> httpx.Response | None:
            reply = await http.get("/readyz")
            return reply if reply.status_code == 503 else None

        body = (await wait_for(stuck)).json()
        assert body["failed"] == ["connectors"]
        connectors = body["checks"]["connectors"]
        assert connectors["reason"] == "messages wait in lane notification and none of its connectors is ready: carrier"
        assert connectors["stuck_lanes"] == ["notification"]


async def test_an_unreachable_store_fails_every_check_at_once() -> None:
    db = open_database(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")
    try:
        status, body = await Readiness(db, Settings(), "test:1").check()
    finally:
        await db.dispose()
    assert status == 503
    assert body["failed"] == ["store", "engine", "connectors"]
    store = body["checks"]["store"]  # type: ignore[index]
    assert store["ok"] is False and store["reason"].startswith("the database cannot be read: ")


def test_an_engine_silent_for_three_heartbeats_is_not_alive() -> None:
    settings = Settings(engine={"heartbeat": 2})
    status = {"connectors": [{"name": "sandbox", "ready": True, "throughput": 0.0}]}
    node = EngineNode("a:1", "a", 0, 100_000, status)
    alive = evaluate({"ok": True}, [node], settings, 100_000 + 5_999)
    assert alive["engine"]["ok"] and alive["connectors"]["ok"]
    silent = evaluate({"ok": True}, [node], settings, 100_000 + 6_001)
    assert silent["engine"] == {"ok": False, "reason": "no engine heartbeat within 6s (last 6.0s ago)"}
    assert silent["connectors"]["ok"] is False
    missing = evaluate({"ok": True}, [EngineNode("a:1", "a", 0, 100_000, {})], settings, 100_001)
    assert missing["connectors"]["reason"] == (
        "no connector is ready, nothing can leave: sandbox (not reported by any live engine: sandbox)"
    )


def _engine(owner: str, heartbeat_at: int, **ready: bool) -> EngineNode:
    connectors = [{"name": name, "ready": up, "throughput": 0.0} for name, up in ready.items()]
    return EngineNode(owner, owner.split(":")[0], 0, heartbeat_at, {"connectors": connectors})


def test_each_lane_counts_the_connectors_its_routes_reach_first_match_first() -> None:
    connectors = [{"name": n, "type": "smpp", "host": "127.0.0.1", "system_id": "x"} for n in ("a", "b", "c", "d")]
    routes = [
        {"name": "french-otp", "lanes": ["otp"], "countries": ["FR"], "connectors": [{"name": "a"}]},
        {"name": "otp", "lanes": ["otp"], "connectors": [{"name": "b"}, {"name": "c"}]},
        {"name": "bulk", "lanes": ["marketing"], "accounts": ["shop"], "connectors": [{"name": "d"}]},
    ]
    settings = Settings(connectors=connectors, routes=routes)
    assert lane_connectors(settings) == {
        "otp": ("a", "b", "c"),  # "otp" takes every otp message the French route leaves: no default
        "notification": ("a", "b", "c", "d"),  # no route: every carrier
        "marketing": ("d", "a", "b", "c"),  # only the shop's marketing goes to d
    }
    now = 100_000
    # Ready on any live engine counts; a silent engine's report does not.
    engines = [_engine("x:1", now, a=False, b=False, c=True, d=False), _engine("y:2", now - 60_000, d=True)]
    idle = evaluate({"ok": True}, engines, settings, now, waiting=())
    assert idle["connectors"] == {
        "ok": True,
        "ready": {"a": False, "b": False, "c": True, "d": False},
        "down": ["a", "b", "d"],
    }
    assert evaluate({"ok": True}, engines, settings, now, waiting={"otp", "marketing"})["connectors"]["ok"]
    engines[0] = _engine("x:1", now, a=True, b=False, c=False, d=False)
    stuck = evaluate({"ok": True}, engines, settings, now, waiting={"otp", "marketing"})["connectors"]
    assert stuck["ok"]  # a is a French otp message's way out, and any marketing message's
    engines[0] = _engine("x:1", now, a=False, b=False, c=False, d=True)
    stuck = evaluate({"ok": True}, engines, settings, now, waiting={"otp", "marketing", "notification"})["connectors"]
    assert stuck["ok"] is False and stuck["stuck_lanes"] == ["otp"]
    assert stuck["reason"] == "messages wait in lane otp and none of its connectors is ready: a, b, c"


async def test_heartbeats_carry_the_status_and_queue_depth_counts_waiting_messages(db: Database) -> None:
    clock = iter(range(1_000, 100_000, 1_000))
    store = NodeStore(db, lambda: next(clock))
    await store.heartbeat("n:1", "n", 6_000, {"connectors": [{"name": "s", "ready": True, "throughput": 2.5}]})
    await store.heartbeat("n:1", "n", 6_000)  # a heartbeat without a status keeps the last one
    [engine] = await store.engines()
    assert (engine.owner, engine.started_at, engine.heartbeat_at) == ("n:1", 1_000, 2_000)
    assert engine.status == {"connectors": [{"name": "s", "ready": True, "throughput": 2.5}]}
    depth = await queue_depth(db)
    assert depth == {
        (lane, state): 0 for lane in ("otp", "notification", "marketing") for state in ("queued", "scheduled")
    }


async def test_the_outbox_backlog_counts_pending_and_dead_letters_only(db: Database) -> None:
    rows = [("pending", 3), ("failed", 2), ("delivered", 4)]
    async with db.writer.begin() as conn:
        await conn.execute(
            insert(callbacks),
            [
                {
                    "account_id": 1,
                    "kind": "status",
                    "order_key": f"m{state}{i}",
                    "url": "https://example.org/dlr",
                    "state": state,
                    "created_at": 1_000,
                    "next_at": 1_000,
                }
                for state, count in rows
                for i in range(count)
            ],
        )
    assert await outbox_backlog(db) == {"pending": 3, "failed": 2}


# --- martinet status --------------------------------------------------------------------------------------------


def status(config: Path, cwd: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return martinet("status", "--config", config, *extra, cwd=cwd)


def test_status_without_an_engine_exits_1_and_says_why(tmp_path: Path) -> None:
    config, _port = write_config(tmp_path, "idle")
    create_account(config, tmp_path)
    as_json = status(config, tmp_path, "--json")
    assert as_json.returncode == 1, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["status"] == "not ready" and report["failed"] == ["engine", "connectors"]
    assert report["engines"] == []
    sandbox = report["connectors"]["sandbox"]
    assert list(report["connectors"]) == ["sandbox"]
    assert (sandbox["bound"], sandbox["engines_bound"], sandbox["throughput"]) == (False, 0, 0.0)
    assert report["queue"]["otp"] == {"queued": 0, "scheduled": 0}
    assert report["callbacks"] == {"pending": 0, "failed": 0}
    text = status(config, tmp_path)
    assert text.returncode == 1
    assert "martinet: NOT READY" in text.stdout and "engine      FAILED: no engine heartbeat" in text.stdout
    assert "callbacks  0 pending, 0 failed" in text.stdout


def test_status_with_a_running_engine(tmp_path: Path) -> None:
    later = (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=2)).strftime("%d%m%Y-%H:%M")
    with served(tmp_path, "busy") as gateway:
        reply = httpx.post(
            f"{gateway.base}/http/1.6/sendSMS.do",
            data={"accessToken": gateway.token, "message": "plus tard", "numero": "0612345678", "date_envoi": later},
        )
        assert reply.text.startswith("0 | "), reply.text
        as_json = status(gateway.config, tmp_path, "--json")
        text = status(gateway.config, tmp_path)
    assert as_json.returncode == 0, as_json.stdout + as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["status"] == "ready"
    [engine] = report["engines"]
    assert engine["live"] and engine["pid"] and engine["owner"].endswith(f":{engine['pid']}")
    assert engine["connectors"] == [{"name": "sandbox", "ready": True, "throughput": 0.0}]
    assert report["connectors"]["sandbox"]["bound"] is True
    assert report["queue"]["notification"] == {"queued": 0, "scheduled": 1}
    assert text.returncode == 0
    assert "martinet: READY" in text.stdout and "sandbox" in text.stdout


#: Runs a command with SIGINT at its default disposition. A test runner started in the background by a shell
#: without job control (`nohup make test &`) has SIGINT ignored, an ignored signal stays ignored across `exec`, and
#: Python then installs no handler for it: the Ctrl-C the test sends would never reach the command.
_SIGINT_AS_DEFAULT = [
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])",
]


def test_status_watch_prints_again_until_interrupted(tmp_path: Path) -> None:
    import signal
    import time

    config, _port = write_config(tmp_path, "watched")
    create_account(config, tmp_path)
    process = subprocess.Popen(
        [*_SIGINT_AS_DEFAULT, *MARTINET, "status", "--config", str(config), "--json", "--watch", "0.2"],
        cwd=tmp_path,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first, second = process.stdout.readline(), process.stdout.readline()
        time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=30)
    assert [json.loads(line)["status"] for line in (first, second)] == ["not ready", "not ready"]
    assert process.returncode == 130 and "Traceback" not in err
