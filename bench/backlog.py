"""Engine memory with a 1,000,000-message backlog, and the time to restart a killed gateway with it.

    .venv/bin/python -m bench.backlog [--messages 1000000] [--per-request 10000]

1. `martinet serve` on a fresh SQLite file (`synchronous=full`, one HTTP worker, the engine) whose only connector
   is an `smpp` one pointing at a loopback port where nothing listens: it never binds, so the engine claims
   nothing (lanes below OTP are claimed only up to what ready connectors can take) and every message stays
   `queued`. `messages / per_request` POSTs of `sendSMS.do`, each with `per_request` distinct French mobiles
   (distinct over the whole backlog too), fill the queue.
2. Once the backlog is in (counted in the database: every message `queued`) and the engine has run `settle`
   more seconds, the engine's resident memory (VmRSS, and its peak VmHWM, from /proc/<pid>/status; the engine is
   the first child the supervisor spawns, before its HTTP worker) and the database size (file + WAL) are read.
3. The whole gateway is killed with SIGKILL (process group). An SMSC simulator is started on the connector's
   port (not timed: it is up before the gateway is started again), then `martinet serve` again on the same
   database. Times from that second `Popen`: `/healthz` answering 200; the engine's "engine started" log line;
   the simulator receiving its first `submit_sm` (the engine dispatching the backlog again: the restart time).
   The engine's RSS is read again after `after` seconds of dispatching, with the parts the simulator received
   by then.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import MARTINET, admin_base, create_account, free_port, free_port_besides, machine, wait_http

TEXT = "Soldes d'hiver : -30 % sur tout le magasin ce week-end"


def _config(data: Path, port: int, smpp: int) -> Path:
    config = data / "martinet.toml"
    config.write_text(
        f"""
log_level = "info"
[database]
url = "sqlite:///{data / "martinet.db"}"
sqlite_synchronous = "full"
[http]
host = "127.0.0.1"
port = {port}
[admin]
host = "127.0.0.1"
port = {free_port_besides(port)}
[accounts]
lane = "notification"
[[connectors]]
name = "carrier"
type = "smpp"
host = "127.0.0.1"
port = {smpp}
system_id = "martinet"
password = "bench"
binds = 1
bind_mode = "transceiver"
window = 64
reconnect_min = 0.5
reconnect_max = 5
"""
    )
    return config


def _serve(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*MARTINET, "serve", "--config", str(config)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "w"),
    )


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    # the children die with the group; wait until none is left (they hold the SQLite file)
    deadline = time.monotonic() + 10
    while _children(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def _children(parent: int) -> list[int]:
    """The processes `parent` started with multiprocessing (not its resource tracker), oldest (lowest id) first."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError):
                fields = Path(entry.path, "stat").read_text().rpartition(")")[2].split()
                if int(fields[1]) == parent and b"spawn_main" in Path(entry.path, "cmdline").read_bytes():
                    found.append(int(entry.name))
    return sorted(found)


def _memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of `pid`, in MiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def _engine(serve: int) -> int:
    """The engine: `martinet serve` starts it first, before its HTTP worker(s) (martinet/server.py)."""
    deadline = time.monotonic() + 30
    while len(children := _children(serve)) < 2:
        if time.monotonic() > deadline:
            raise RuntimeError("the gateway did not start its engine and HTTP worker")
        time.sleep(0.1)
    return children[0]


def _states(database: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        return dict(conn.execute("SELECT state, count(*) FROM messages GROUP BY state").fetchall())


def _database_size(database: Path) -> dict[str, float]:
    sizes = {}
    for suffix in ("", "-wal"):
        path = Path(f"{database}{suffix}")
        sizes["db" + suffix.replace("-", "_")] = round(path.stat().st_size / 2**20, 1) if path.exists() else 0.0
    return sizes


def _fill(base: str, token: str, messages: int, per_request: int) -> list[float]:
    """POST `sendSMS.do` until `messages` are queued; each answer time, in seconds."""
    times = []
    for first in range(0, messages, per_request):
        numbers = ",".join(f"06{10_000_000 + i:08d}" for i in range(first, min(messages, first + per_request)))
        body = urllib.parse.urlencode({"accessToken": token, "numero": numbers, "message": TEXT}).encode()
        began = time.monotonic()
        with urllib.request.urlopen(f"{base}/http/1.6/sendSMS.do", data=body, timeout=120) as reply:
            answer = reply.read().decode("iso-8859-15")
        times.append(time.monotonic() - began)
        if not answer.startswith("0 | "):
            raise RuntimeError(f"send refused: {answer}")
    return times


def _simulator(data: Path, smpp: int) -> tuple[subprocess.Popen[bytes], str]:
    control = free_port()
    config = data / "smsc.toml"
    config.write_text(
        f"""
listen = "127.0.0.1:{smpp}"
control = "127.0.0.1:{control}"
intermediate_receipt = false
receipt_delay = 0.5
max_tracked_messages = 10000

[[credentials]]
system_id = "martinet"
password = "bench"

[outcomes]
DELIVRD = 100
"""
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "martinet.smsc", "--config", str(config), "--log-level", "warning"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=open(data / "smsc.log", "w"),  # noqa: SIM115
    )
    url = f"http://127.0.0.1:{control}/stats"
    wait_http(url)
    return process, url


def _submitted(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=1) as reply:
            return int(json.loads(reply.read()).get("submitted", 0))
    except OSError:
        return 0


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def _marks(
    began: float, admin: str, log: Path, stats: str | None, timeout: float, submitted: int = 0
) -> dict[str, float]:
    """Seconds from `began` to: `/healthz` answering 200 on the `admin` listener, "engine started" in the log, the first `submit_sm` beyond
    the `submitted` the simulator had counted (when its `stats` URL is given).

    Each is watched by a thread of its own, so that a request waiting on one (the listening socket accepts
    connections before the HTTP worker serves them) does not delay noticing another."""
    marks: dict[str, float] = {}
    deadline = began + timeout

    def watch(name: str, reached: Callable[[], bool]) -> None:
        while time.monotonic() < deadline:
            if reached():
                marks[name] = time.monotonic() - began
                return
            time.sleep(0.01)

    checks: dict[str, Callable[[], bool]] = {
        "healthz_s": lambda: _healthy(f"{admin}/healthz"),
        "engine_started_s": lambda: "engine started" in log.read_text(errors="replace"),
    }
    if stats is not None:
        checks["first_submit_s"] = lambda: _submitted(stats) > submitted
    threads = [threading.Thread(target=watch, args=item, daemon=True) for item in checks.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return marks


def run(
    messages: int = 1_000_000, per_request: int = 10_000, settle: float = 10.0, after: float = 10.0, restarts: int = 3
) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="martinet-backlog-"))
    port, smpp = free_port(), free_port()
    config = _config(data, port, smpp)
    database = data / "martinet.db"
    base = f"http://127.0.0.1:{port}"
    result: dict[str, Any] = {"messages": messages, "per_request": per_request, "settle": settle, "machine": machine()}
    token = create_account(config, "campaign")
    began = time.monotonic()
    gateway = _serve(config, data / "first.log")
    simulator: subprocess.Popen[bytes] | None = None
    stats = ""
    try:
        admin = admin_base(config)
        first = _marks(began, admin, data / "first.log", None, timeout=60)  # the same start on an empty queue
        if len(first) < 2:
            raise RuntimeError(f"the gateway did not start: {first}")
        result["empty_start_healthz_s"] = round(first["healthz_s"], 2)
        result["empty_start_engine_started_s"] = round(first["engine_started_s"], 2)
        engine = _engine(gateway.pid)
        result["engine_rss_empty_mib"] = _memory(engine)["VmRSS"]
        began = time.monotonic()
        answers = _fill(base, token, messages, per_request)
        result["fill_s"] = round(time.monotonic() - began, 1)
        result["fill_answer_median_s"] = round(sorted(answers)[len(answers) // 2], 2)
        time.sleep(settle)
        states = _states(database)
        result["states_before_kill"] = states
        if states.get("queued", 0) != messages:
            raise RuntimeError(f"expected {messages:,} queued messages, found {states}")
        result["engine_before_kill_mib"] = _memory(engine)
        result["http_worker_rss_mib"] = _memory(_children(gateway.pid)[1])["VmRSS"]
        result["database_mib"] = _database_size(database)

        rounds = []
        for attempt in range(restarts):
            _kill(gateway)
            if simulator is None:
                simulator, stats = _simulator(data, smpp)
            log = data / f"restart-{attempt + 1}.log"
            submitted = _submitted(stats)
            began = time.monotonic()
            gateway = _serve(config, log)
            marks = _marks(began, admin, log, stats, timeout=600, submitted=submitted)
            if len(marks) < 3:
                raise RuntimeError(f"the restarted gateway did not get there in 600 s: {marks}")
            rounds.append({k: round(v, 2) for k, v in marks.items()})
        result["restarts"] = rounds
        result["restart"] = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
        result["left_queued"] = _states(database).get("queued", 0)
        time.sleep(after)
        result["after_restart"] = {
            "seconds": after,
            "submitted": _submitted(stats) - submitted,
            "engine_mib": _memory(_engine(gateway.pid)),
        }
    except Exception:
        for name in ("first.log", "restart-1.log", "smsc.log"):
            with contextlib.suppress(OSError):
                print(f"--- {name}\n{(data / name).read_text(errors='replace')[-3000:]}", file=sys.stderr)
        raise
    finally:
        _kill(gateway)
        if simulator is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(simulator.pid, signal.SIGKILL)
            simulator.wait()
        shutil.rmtree(data, ignore_errors=True)
    print(json.dumps(result, indent=2), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.backlog", description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--per-request", type=int, default=10_000)
    parser.add_argument("--settle", type=float, default=10.0, help="seconds the engine runs on the full backlog")
    parser.add_argument("--after", type=float, default=10.0, help="seconds of dispatching after the restart")
    parser.add_argument("--restarts", type=int, default=3, help="kill and restart this many times (median)")
    args = parser.parse_args()
    run(args.messages, args.per_request, args.settle, args.after, args.restarts)


if __name__ == "__main__":
    main()
