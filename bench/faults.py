"""Fault drills under load: a carrier killed, the gateway killed, the disk full, the database server gone; what is
lost, sent twice, late.

    .venv/bin/python -m bench.faults [--drills carrier,crash,disk,outage] [--databases sqlite,postgresql] [--seconds N]

Everything runs on loopback, in processes started here and killed at the end of each drill. The carriers are SMSC
simulators, each in a process of its own (`bench/carrier.py`: every message DELIVRD, an ENROUTE receipt 0.1 s
after the submission and the final one `receipt_delay` s after it), which report the destinations they received
and when. The load is paced `sendSMS.do` POSTs of 100 distinct French mobiles each, every number used once in a
drill, so that a number the carriers received twice is a message sent twice. The drills:

1. **carrier** — a route sends France to `primary` then `backup` (window 64, one bind each, `receipt_deadline`
   20 s); `rate`/s for `seconds`; half-way through, the primary's process is killed (SIGKILL). Measured: accepted,
   lost (accepted and not final at the end), left non-final after the receipt deadline (the parts the dead
   carrier owed receipts for must become `3599`), received by both carriers, time to failover (kill → first
   `submit_sm` at the backup), time to recover (kill → the queue back to its level before the kill; end of the
   load → every message final), and the receipt backlog (receipts the carriers sent and the gateway has not yet
   acknowledged, every 0.5 s, in seconds of traffic).
2. **crash** — one carrier (window 64, one bind), `rate`/s for `seconds`; half-way through, as soon as the gateway
   holds claims not yet recorded as submitted, the whole `martinet serve` process group is killed (SIGKILL) and
   started again at once. Measured: accepted, lost, destinations the
   carrier received more than once (at most window × binds), restart → first new `submit_sm`, restart → every
   message final. Done `repeats` times, each on a fresh database.
3. **disk** (SQLite) — the database lives on a small tmpfs mounted for the drill (root only); under a light load a
   file fills the tmpfs, stays `full_seconds`, then is deleted. Measured: what `sendSMS.do` answered while full
   (only `31` is clean), sends half-written (numbers of refused requests found in the database, sends missing
   messages), what `/readyz` said, and after the space came back: first accepted send, `/readyz` 200, lost.
4. The carrier and crash drills again with `--databases postgresql`: two `martinet serve` (engine nodes `node-a`
   and `node-b`, `engine.lease_seconds` 15) on one fresh PostgreSQL database (created and dropped here), the load
   alternating between them and going to the other when one refuses connections (as a load balancer would); the
   crash drill kills one node (the survivor takes its claims back once their lease expires), then both at once
   (`repeats` times).
5. **outage** (PostgreSQL) — one node reaches its database through a loopback relay (`bench/relay.py`); under a
   light load, the relay is cut for `outage_seconds`: every connection to the server reset, new ones refused, as
   when the server is stopped, restarts or the network between fails; then mended. Measured as the disk drill,
   with the server gone instead of the space; the checks read the database directly, not through the relay.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import concurrent.futures
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import page
from bench.harness import MARTINET, admin_base, config_head, free_port, machine, wait_http
from bench.relay import Relay

PER_REQUEST = 100
TEXT = "Votre colis arrive demain entre 9h et 12h"
WINDOW = 64
RECEIPTS_PER_MESSAGE = 2  # ENROUTE, then the final one
FINAL_STATES = ("delivered", "undelivered", "failed", "expired", "cancelled")
WAITING_STATES = ("scheduled", "queued", "submitting")
LEASE_SECONDS = 15  # PostgreSQL nodes: how long a dead node's claims stay taken
SAMPLE_S = 0.5
SYSTEM_ID, PASSWORD = "martinet", "bench"


def msisdn(index: int) -> str:
    """The E.164 digits of the `index`-th number of a drill (the load sends it as 06…)."""
    return f"336{10_000_000 + index:08d}"


# ---------------------------------------------------------------------------------------------- carriers


class Carrier:
    """A simulator in its own process (`bench.carrier`), reached on its report port."""

    def __init__(self, data: Path, name: str, receipt_delay: float, latency: float = 0.0) -> None:
        """`latency`: seconds before each `submit_sm_resp`."""
        self.name = name
        self.smpp_port, self.report_port = free_port(), free_port()
        config = data / f"{name}.toml"
        config.write_text(
            f"""
listen = "127.0.0.1:{self.smpp_port}"
control = false
message_id_format = "hex"
latency = {latency}
intermediate_receipt = "ENROUTE"
intermediate_delay = {min(0.1, receipt_delay)}
receipt_delay = {receipt_delay}
max_tracked_messages = 5000000

[[credentials]]
system_id = "{SYSTEM_ID}"
password = "{PASSWORD}"

[outcomes]
DELIVRD = 100
"""
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.carrier", str(config), str(self.report_port)],
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=open(data / f"{name}.log", "w"),  # noqa: SIM115
        )
        self.dead = False
        self.dump: dict[str, Any] | None = None
        wait_http(f"http://127.0.0.1:{self.report_port}/stats")

    def _get(self, path: str, timeout: float = 10) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.report_port}{path}", timeout=timeout) as reply:
            return json.loads(reply.read())

    def stats(self) -> dict[str, Any]:
        if self.dead:
            return {}
        try:
            return dict(self._get("/stats", timeout=2))
        except OSError:
            return {}

    def arrivals(self, after_ms: float) -> dict[str, Any]:
        """How many submissions arrived after `after_ms` (monotonic ms) and when the first did."""
        return dict(self._get(f"/arrivals?after={after_ms}"))

    def destinations(self) -> list[str]:
        """Every destination received (with repeats); a dead carrier's, as it recorded them when killed."""
        if self.dump is not None:
            return list(self.dump["destinations"])
        return list(self._get("/destinations", timeout=60))

    def kill(self, dump: Path) -> float:
        """SIGKILL, in the same step as the record of what it received; the kill's monotonic ms."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.report_port}/die?dump={dump}", method="POST")
        with contextlib.suppress(OSError, http.client.HTTPException):
            urllib.request.urlopen(request, timeout=10).read()
        self.process.wait(10)
        self.dead = True
        self.dump = json.loads(dump.read_text())
        return float(self.dump["killed_ms"])

    def wait_binds(self, binds: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.stats().get("active_binds", 0) < binds:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: {binds} binds expected, {self.stats().get('active_binds')} seen")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


# ---------------------------------------------------------------------------------------------- gateways


class Node:
    """One `martinet serve` (its own process group), started and killed as a drill says."""

    def __init__(self, data: Path, name: str, config_text: str) -> None:
        self.name = name
        self.data = data
        self.config = data / f"{name}.toml"
        self.config.write_text(config_text)
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def base(self) -> str:
        import tomllib

        http_section = tomllib.loads(self.config.read_text(encoding="utf-8"))["http"]
        return f"http://127.0.0.1:{http_section['port']}"

    @property
    def admin(self) -> str:
        return admin_base(self.config)

    def start(self) -> float:
        """Start it; returns the monotonic ms of the `Popen` (readiness is awaited with `wait_healthy`)."""
        self.starts += 1
        log = self.data / f"{self.name}-{self.starts}.log"
        began = time.monotonic() * 1000
        self.process = subprocess.Popen(
            [*MARTINET, "serve", "--config", str(self.config)],
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=open(log, "w"),  # noqa: SIM115
        )
        return began

    def wait_healthy(self, timeout: float = 60) -> None:
        try:
            wait_http(f"{self.admin}/healthz", timeout=timeout)
        except RuntimeError:
            raise RuntimeError(f"{self.name} did not start: {self.log_tail()}") from None

    def log_tail(self, chars: int = 3000) -> str:
        log = self.data / f"{self.name}-{self.starts}.log"
        return log.read_text(errors="replace")[-chars:] if log.exists() else ""

    def kill(self) -> float:
        """SIGKILL to the whole process group (supervisor, engine, HTTP workers, notifier); its monotonic ms.
        `reap` waits until none of them is left."""
        assert self.process is not None
        killed = time.monotonic() * 1000
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        return killed

    def reap(self) -> None:
        assert self.process is not None
        self.process.wait()
        deadline = time.monotonic() + 10
        while _group_alive(self.process.pid) and time.monotonic() < deadline:
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            if self.process is not None and _group_alive(self.process.pid):
                os.killpg(self.process.pid, signal.SIGKILL)
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        deadline = time.monotonic() + 10
        while _group_alive(self.process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)


def _group_alive(pgid: int) -> bool:
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = Path(entry.path, "stat").read_text().rpartition(")")[2].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    return True
    return False


def gateway_config(
    data: Path,
    node: str,
    database_url: str,
    carriers: list[Carrier],
    *,
    receipt_deadline: float | None = None,
    lease_seconds: float | None = None,
) -> str:
    """A node's TOML: one HTTP worker, the engine named `node`, one `smpp` connector per carrier (window 64, one
    bind) and, with more than one carrier, a route sending France to them in order (failover)."""
    port = free_port()
    engine = f'[engine]\nnode = "{node}"\n'
    if lease_seconds is not None:
        engine += f"lease_seconds = {lease_seconds}\n"
    connectors = ""
    for carrier in carriers:
        connectors += f"""[[connectors]]
name = "{carrier.name}"
type = "smpp"
host = "127.0.0.1"
port = {carrier.smpp_port}
system_id = "{SYSTEM_ID}"
password = "{PASSWORD}"
binds = 1
window = {WINDOW}
reconnect_min = 0.5
reconnect_max = 2
"""
        if receipt_deadline is not None:
            connectors += f"receipt_deadline = {receipt_deadline}\n"
    route = ""
    if len(carriers) > 1:
        names = ", ".join(f'"{c.name}"' for c in carriers)
        route = f'[[routes]]\nname = "france"\ncountries = ["FR"]\nconnectors = [{names}]\n'
    return config_head(data, port, workers=1, database_url=database_url) + engine + connectors + route


def create_account(config: Path) -> str:
    return subprocess.run(
        [*MARTINET, "account", "create", "bench", "--credits", "100000000", "--config", str(config)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@contextlib.contextmanager
def fresh_database(kind: str, data: Path, postgres: str) -> Iterator[str]:
    """A SQLite file in `data`, or a PostgreSQL database created for the drill and dropped after it."""
    if kind == "sqlite":
        yield f"sqlite:///{data / 'martinet.db'}"
        return
    from bench.otp import database

    parts = urllib.parse.urlsplit(postgres)
    name = f"martinet_bench_faults_{uuid.uuid4().hex[:8]}"
    with database(urllib.parse.urlunsplit(parts._replace(path=f"/{name}")), data) as url:
        yield url


class Database:
    """Read-only counts in the gateway's database: a read-only SQLite connection, or asyncpg on a loop of its own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._sqlite: sqlite3.Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pg: Any = None
        if url.startswith("sqlite:///"):
            path = url.removeprefix("sqlite:///")
            self._sqlite = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        else:
            import asyncpg

            self._loop = asyncio.new_event_loop()
            self._pg = self._loop.run_until_complete(asyncpg.connect(url, timeout=10))

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._sqlite is not None:
                return [tuple(r) for r in self._sqlite.execute(query).fetchall()]
            assert self._loop is not None
            return [tuple(r) for r in self._loop.run_until_complete(self._pg.fetch(query))]

    def states(self) -> dict[str, int]:
        return {str(s): int(n) for s, n in self.rows("select state, count(*) from messages group by state")}

    def final_numbers(self) -> set[str]:
        listed = ", ".join(f"'{s}'" for s in FINAL_STATES)
        return {str(r[0]) for r in self.rows(f"select msisdn from messages where state in ({listed})")}

    def undone(self) -> int:
        """Messages not final now whose history says they were: a final status overwritten by a later report."""
        listed = ", ".join(f"'{s}'" for s in FINAL_STATES)
        query = (
            "select count(distinct h.message_id) from status_history h join messages m on m.id = h.message_id "
            f"where h.state in ({listed}) and m.state not in ({listed})"
        )
        return int(self.rows(query)[0][0])

    def count(self, where: str) -> int:
        return int(self.rows(f"select count(*) from messages where {where}")[0][0])

    def close(self) -> None:
        with self._lock:
            if self._sqlite is not None:
                self._sqlite.close()
            if self._loop is not None:
                self._loop.run_until_complete(self._pg.close())
                self._loop.close()


def non_final(states: dict[str, int]) -> int:
    return sum(n for s, n in states.items() if s not in FINAL_STATES)


# ---------------------------------------------------------------------------------------------- the load


class Load:
    """Paced `sendSMS.do` POSTs of `per_request` numbers each, alternating between the gateways in `bases`.

    A request refused at connect (a dead node) goes to the next base; any other failure leaves the request
    unanswered (it may have been accepted before its node died), never sent again: a retry could send its
    numbers twice. Connections idle for over 3 s are reopened before use (uvicorn closes them after 5 s)."""

    def __init__(self, bases: list[str], token: str, per_request: int = PER_REQUEST, threads: int = 12) -> None:
        self._targets = [urllib.parse.urlsplit(b) for b in bases]
        self._token = token
        self.per_request = per_request
        self._local = threading.local()
        self._pool = concurrent.futures.ThreadPoolExecutor(threads)
        self._lock = threading.Lock()
        self.accepted: list[int] = []  # first index of each accepted request
        self.refused: list[tuple[int, str]] = []  # (first index, answer) of requests answered otherwise
        self.unanswered: list[tuple[int, str]] = []  # (first index, error)
        self.answers: list[tuple[float, int, str]] = []  # (monotonic s, first index, answer or error)
        self.next_index = 0

    def numbers(self, firsts: list[int]) -> set[str]:
        return {msisdn(first + i) for first in firsts for i in range(self.per_request)}

    def post(self, first: int, turn: int) -> None:
        numbers = ",".join(f"06{10_000_000 + i:08d}" for i in range(first, first + self.per_request))
        body = urllib.parse.urlencode({"accessToken": self._token, "numero": numbers, "message": TEXT})
        answer, error = "", ""
        for attempt in range(len(self._targets)):
            target = self._targets[(turn + attempt) % len(self._targets)]
            answer, error = self._send(target, body)
            if error != "refused":
                break
        with self._lock:
            self.answers.append((time.monotonic(), first, answer or error))
            if answer.startswith("0 | "):
                self.accepted.append(first)
            elif answer:
                self.refused.append((first, answer))
            else:
                self.unanswered.append((first, error))

    def _send(self, target: urllib.parse.SplitResult, body: str) -> tuple[str, str]:
        """(answer, "") or ("", error); error "refused" when nothing listened."""
        connections = self._local.__dict__.setdefault("connections", {})
        key = target.netloc
        conn, used = connections.get(key, (None, 0.0))
        if conn is not None and time.monotonic() - used > 3.0:
            conn.close()
            conn = None
        if conn is None:
            conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port or 80, timeout=60)
        try:
            conn.request("POST", "/http/1.6/sendSMS.do", body, {"Content-Type": "application/x-www-form-urlencoded"})
            answer = conn.getresponse().read().decode("iso-8859-15")
        except ConnectionRefusedError:
            conn.close()
            connections.pop(key, None)
            return "", "refused"
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            connections.pop(key, None)
            return "", f"{type(exc).__name__}: {exc}"
        connections[key] = (conn, time.monotonic())
        return answer, ""

    def offer(self, rate: float, seconds: float) -> None:
        """`rate` numbers per second for `seconds`, then wait for every answer."""
        interval = self.per_request / rate
        requests = round(rate * seconds / self.per_request)
        began = time.monotonic()
        futures = []
        for turn in range(requests):
            delay = began + turn * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            first = self.next_index
            self.next_index += self.per_request
            futures.append(self._pool.submit(self.post, first, turn))
        concurrent.futures.wait(futures)

    def in_background(self, rate: float, seconds: float) -> threading.Thread:
        thread = threading.Thread(target=self.offer, args=(rate, seconds), daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self._pool.shutdown()


# ---------------------------------------------------------------------------------------------- sampling


@dataclass
class Sample:
    t: float  # monotonic s
    owed: dict[str, int]  # carrier → receipts sent and not yet acknowledged (or parked)
    states: dict[str, int]


class Sampler:
    """Every 0.5 s: each live carrier's receipt backlog, and the messages by state."""

    def __init__(self, database: Database, carriers: list[Carrier]) -> None:
        self._database = database
        self._carriers = carriers
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def _loop(self) -> None:
        tick = time.monotonic()
        while not self._stop.is_set():
            owed = {}
            for carrier in self._carriers:
                stats = carrier.stats()
                if stats:
                    owed[carrier.name] = int(stats["receipts_owed"])
            try:
                states = self._database.states()
            except Exception:  # a PostgreSQL hiccup or a locked SQLite file: skip the sample
                states = {}
            self.samples.append(Sample(time.monotonic(), owed, states))
            tick += SAMPLE_S
            self._stop.wait(max(0.0, tick - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def backlog_figures(samples: list[Sample], start: float, end: float, rate: float) -> dict[str, float]:
    """Max and p95 of the receipt backlog between `start` and `end`, in receipts and in seconds of traffic."""
    owed = sorted(sum(s.owed.values()) for s in samples if start <= s.t <= end)
    if not owed:
        return {"max": 0, "p95": 0, "max_s": 0.0, "p95_s": 0.0, "samples": 0}
    p95 = owed[min(len(owed) - 1, int(len(owed) * 0.95))]
    per_second = rate * RECEIPTS_PER_MESSAGE
    return {
        "max": owed[-1],
        "p95": p95,
        "max_s": owed[-1] / per_second,
        "p95_s": p95 / per_second,
        "samples": len(owed),
    }


def wait_final(database: Database, timeout: float) -> float | None:
    """Until every message in the database is final: the monotonic s it happened, or None after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = database.states()
        if states and non_final(states) == 0:
            return time.monotonic()
        time.sleep(0.2)
    return None


def lost(load: Load, database: Database) -> int:
    """Numbers whose request was answered `0 | Accepté` and that have no final message."""
    return len(load.numbers(load.accepted) - database.final_numbers())


def twice(destinations: list[str]) -> int:
    """Submissions beyond the first of each destination: messages sent more than once."""
    return sum(n - 1 for n in collections.Counter(destinations).values() if n > 1)


# ---------------------------------------------------------------------------------------------- drill 1


def carrier_drill(
    kind: str, rate: float, seconds: float, receipt_deadline: float, receipt_delay: float, postgres: str
) -> dict[str, Any]:
    """A route primary → backup; the primary killed half-way through the load."""
    data = Path(tempfile.mkdtemp(prefix="martinet-faults-"))
    carriers: list[Carrier] = []
    nodes: list[Node] = []
    result: dict[str, Any] = {
        "drill": "carrier",
        "database": kind,
        "rate": rate,
        "seconds": seconds,
        "receipt_deadline": receipt_deadline,
        "receipt_delay": receipt_delay,
    }
    try:
        with fresh_database(kind, data, postgres) as url:
            primary = Carrier(data, "primary", receipt_delay)
            backup = Carrier(data, "backup", receipt_delay)
            carriers += [primary, backup]
            names = ["node-a"] if kind == "sqlite" else ["node-a", "node-b"]
            lease = None if kind == "sqlite" else LEASE_SECONDS
            nodes += [
                Node(
                    data,
                    n,
                    gateway_config(data, n, url, carriers, receipt_deadline=receipt_deadline, lease_seconds=lease),
                )
                for n in names
            ]
            token = create_account(nodes[0].config)
            for node in nodes:
                node.start()
            for node in nodes:
                node.wait_healthy()
            primary.wait_binds(len(nodes))
            backup.wait_binds(len(nodes))
            database = Database(url)
            load = Load([n.base for n in nodes], token)
            sampler = Sampler(database, carriers).start()
            began = time.monotonic()
            loading = load.in_background(rate, seconds)
            time.sleep(max(0.0, began + seconds / 2 - time.monotonic()))
            waiting_before = max(
                (non_final_waiting(s) for s in sampler.samples if s.t >= began + seconds / 2 - 2), default=0
            )
            killed_ms = primary.kill(data / "primary-dump.json")
            killed = killed_ms / 1000
            # One answer for both figures: read apart, the backup's arrivals between the reads made it negative.
            seen = backup.arrivals(killed_ms)
            at_kill_backup = seen["total"] - seen["count"]
            loading.join()
            load_end = time.monotonic()
            all_final = wait_final(database, receipt_deadline + 60)
            sampler.stop()
            states = database.states()
            arrivals = backup.arrivals(killed_ms)
            both = collections.Counter(primary.destinations()) & collections.Counter(backup.destinations())
            threshold = max(waiting_before, PER_REQUEST)  # its level before the kill, or one request's worth
            recovered = next(
                (s.t for s in sampler.samples if s.t > killed + SAMPLE_S and non_final_waiting(s) <= threshold),
                None,
            )
            result.update(
                accepted=len(load.accepted) * PER_REQUEST,
                refused_requests=len(load.refused),
                unanswered_requests=len(load.unanswered),
                rows=sum(states.values()),
                lost=lost(load, database),
                non_final=non_final(states),
                states=states,
                unknown_3599=database.count("code = 3599"),
                final_then_undone=database.undone(),
                primary_received=len(primary.destinations()),
                backup_received_before_kill=at_kill_backup,
                backup_received=len(backup.destinations()),
                sent_to_both=sum(both.values()),
                sent_twice=twice(primary.destinations() + backup.destinations()),
                bound=WINDOW * len(nodes),
                failover_s=(arrivals["first_ms"] - killed_ms) / 1000 if arrivals["first_ms"] is not None else None,
                waiting_before_kill=waiting_before,
                recover_s=recovered - killed if recovered is not None else None,
                all_final_after_load_s=all_final - load_end if all_final is not None else None,
                backlog=backlog_figures(sampler.samples, began + 2, load_end, rate),
                backlog_before_kill=backlog_figures(sampler.samples, began + 2, killed, rate),
                backlog_after_kill=backlog_figures(sampler.samples, killed, load_end, rate),
                nodes=len(nodes),
            )
            database.close()
            load.close()
    finally:
        _teardown(nodes, carriers, data, result)
    _print(result)
    return result


def non_final_waiting(sample: Sample) -> int:
    """Messages not yet handed to a carrier."""
    return sum(sample.states.get(s, 0) for s in WAITING_STATES)


def _teardown(nodes: list[Node], carriers: list[Carrier], data: Path, result: dict[str, Any]) -> None:
    for node in nodes:
        node.stop()
    for carrier in carriers:
        carrier.stop()
    if "accepted" not in result or os.environ.get("MARTINET_BENCH_KEEP"):
        print(f"drill data kept in {data}", file=sys.stderr)
        for node in nodes:
            print(f"--- {node.name}\n{node.log_tail()}", file=sys.stderr)
    else:
        shutil.rmtree(data, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- drill 2


def crash_drill(kind: str, rate: float, seconds: float, kill: str, postgres: str) -> dict[str, Any]:
    """One carrier; half-way through the load, `kill` ("gateway", "one" or "both" PostgreSQL nodes) is SIGKILLed;
    every node killed is started again at once, except the one of "one" (its survivor takes its claims back)."""
    data = Path(tempfile.mkdtemp(prefix="martinet-faults-"))
    carriers: list[Carrier] = []
    nodes: list[Node] = []
    result: dict[str, Any] = {"drill": "crash", "database": kind, "rate": rate, "seconds": seconds, "kill": kill}
    try:
        with fresh_database(kind, data, postgres) as url:
            carrier = Carrier(data, "carrier", 0.5)
            carriers.append(carrier)
            names = ["node-a"] if kind == "sqlite" else ["node-a", "node-b"]
            lease = None if kind == "sqlite" else LEASE_SECONDS
            nodes += [Node(data, n, gateway_config(data, n, url, carriers, lease_seconds=lease)) for n in names]
            token = create_account(nodes[0].config)
            for node in nodes:
                node.start()
            for node in nodes:
                node.wait_healthy()
            carrier.wait_binds(len(nodes))
            database = Database(url)
            load = Load([n.base for n in nodes], token)
            sampler = Sampler(database, carriers).start()
            began = time.monotonic()
            loading = load.in_background(rate, seconds)
            time.sleep(max(0.0, began + seconds / 2 - time.monotonic()))
            victims = nodes if kill in ("gateway", "both") else nodes[:1]
            result["claims_seen_before_kill"], result["kill_waited_s"] = _busy(database, victims, timeout=5.0)
            killed_ms = min([node.kill() for node in victims])
            for node in victims:
                node.reap()
            restarted_ms = killed_ms
            result["received_at_kill"] = carrier.arrivals(0)["total"]
            if kill == "one":
                owner = f"{victims[0].name}:%"
                claims = [
                    int(r[0])
                    for r in database.rows(
                        f"select id from messages where state = 'submitting' and lease_owner like '{owner}'"
                    )
                ]
                result["claims_of_dead_node"] = len(claims)
                taken_back = _wait_claims(database, claims, LEASE_SECONDS + 60)
                result["claims_taken_back_s"] = (taken_back - killed_ms / 1000) if taken_back is not None else None
            else:
                restarted_ms = min(node.start() for node in victims)
                result["restart_first_submit_s"] = _first_arrival(carrier, restarted_ms, 60)
                for node in victims:
                    node.wait_healthy()
                result["restart_healthy_s"] = time.monotonic() - restarted_ms / 1000
            loading.join()
            load_end = time.monotonic()
            all_final = wait_final(database, 120)
            sampler.stop()
            restart_at = (restarted_ms if kill != "one" else killed_ms) / 1000
            states = database.states()
            destinations = carrier.destinations()
            result.update(
                accepted=len(load.accepted) * PER_REQUEST,
                refused_requests=len(load.refused),
                unanswered_requests=len(load.unanswered),
                unanswered_in_store=_rows_of(database, load, [f for f, _ in load.unanswered]),
                rows=sum(states.values()),
                lost=lost(load, database),
                non_final=non_final(states),
                states=states,
                received=len(destinations),
                resubmitted=twice(destinations),
                final_then_undone=database.undone(),
                bound=WINDOW * len(victims),
                all_final_s=all_final - restart_at if all_final is not None else None,
                all_final_after_load_s=all_final - load_end if all_final is not None else None,
                refusals=dict(collections.Counter(a.split(" |")[0][:40] for _, a in load.refused)),
                errors=dict(collections.Counter(e.split(":")[0] for _, e in load.unanswered)),
                backlog_before_kill=backlog_figures(sampler.samples, began + 2, killed_ms / 1000, rate),
            )
            database.close()
            load.close()
    finally:
        _teardown(nodes, carriers, data, result)
    _print(result)
    return result


def _busy(database: Database, victims: list[Node], timeout: float) -> tuple[int, float]:
    """Wait (at most `timeout`) until the nodes about to be killed hold claims not yet recorded as submitted
    (`submitting`), so the kill lands mid-dispatch; the claims seen and the seconds waited."""
    owners = " or ".join(f"lease_owner like '{node.name}:%'" for node in victims)
    began = time.monotonic()
    seen = 0
    while time.monotonic() - began < timeout:
        seen = database.count(f"state = 'submitting' and ({owners})")
        if seen:
            break
        time.sleep(0.005)
    return seen, time.monotonic() - began


def _first_arrival(carrier: Carrier, after_ms: float, timeout: float) -> float | None:
    """Seconds from `after_ms` to the carrier's first submission after it (polled every 20 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        arrivals = carrier.arrivals(after_ms)
        if arrivals["first_ms"] is not None:
            return float(arrivals["first_ms"] - after_ms) / 1000
        time.sleep(0.02)
    return None


def _wait_claims(database: Database, ids: list[int], timeout: float) -> float | None:
    """Until none of the messages `ids` is still claimed (`submitting`): the monotonic s, or None."""
    if not ids:
        return time.monotonic()
    listed = ", ".join(str(i) for i in ids)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if database.count(f"id in ({listed}) and state = 'submitting'") == 0:
            return time.monotonic()
        time.sleep(0.1)
    return None


def _rows_of(database: Database, load: Load, firsts: list[int]) -> int:
    """Messages in the database for the numbers of the requests starting at `firsts`."""
    numbers = load.numbers(firsts)
    if not numbers:
        return 0
    listed = ", ".join(f"'{n}'" for n in sorted(numbers))
    return database.count(f"msisdn in ({listed})")


# ---------------------------------------------------------------------------------------------- drill 3


def store_fault_under_load(
    node: Node,
    carrier: Carrier,
    database: Database,
    token: str,
    rate: float,
    timing: tuple[float, float, float],
    fault: Callable[[], None],
    mend: Callable[[], None],
) -> dict[str, Any]:
    """The disk and outage drills' common part: a light load (`rate` numbers a second, ten a request) for `before`
    + `hold` + `after` seconds (`timing`); `fault()` after `before` s, `mend()` `hold` s after the fault took
    hold. `/readyz` is read all along. The figures every such drill reports; the times are from the fault taking
    hold (`readyz`) or from the mend (`*_after_mend_s`)."""
    before, hold, after = timing
    per_request = 10
    load = Load([node.base], token, per_request=per_request, threads=4)
    readiness: list[tuple[float, int, str]] = []
    watching = threading.Event()
    watcher = threading.Thread(target=_watch_readyz, args=(node.admin, readiness, watching), daemon=True)
    began = time.monotonic()
    loading = load.in_background(rate, before + hold + after)
    watcher.start()
    time.sleep(max(0.0, began + before - time.monotonic()))
    faulting_at = time.monotonic()
    fault()
    fault_at = time.monotonic()
    time.sleep(max(0.0, fault_at + hold - time.monotonic()))
    mend()
    mended_at = time.monotonic()
    loading.join()
    load_end = time.monotonic()
    all_final = wait_final(database, 90)
    watching.set()
    watcher.join()
    answers = sorted(load.answers)
    during = [(t, f, a) for t, f, a in answers if fault_at <= t <= mended_at]
    first_ok_after = next((t for t, _, a in answers if t > mended_at and a.startswith("0 | ")), None)
    ready_again = next((t for t, status, _ in readiness if t > mended_at and status == 200), None)
    not_ready = next((t for t, status, _ in readiness if fault_at <= t and status != 200), None)
    states = database.states()
    logged = list(_log_entries(node))
    figures = {
        "fault_s": fault_at - faulting_at,
        "answers_before": dict(collections.Counter(_kind(a) for t, _, a in answers if t < faulting_at)),
        "answers_during": dict(collections.Counter(_kind(a) for _, _, a in during)),
        "answers_after": dict(collections.Counter(_kind(a) for t, _, a in answers if t > mended_at)),
        "refused_numbers_in_store": _rows_of(database, load, [f for _, f, a in during if not a.startswith("0 | ")]),
        "sends_missing_messages": int(
            database.rows(
                "select count(*) from sends where recipient_count != "
                "(select count(*) from messages where messages.send_id = sends.id)"
            )[0][0]
        ),
        "readyz": _changes(readiness, fault_at),
        "not_ready_after_s": not_ready - fault_at if not_ready is not None else None,
        "readyz_during": sorted({(s, b) for t, s, b in readiness if fault_at <= t <= mended_at}),
        "accepted": len(load.accepted) * per_request,
        "lost": lost(load, database),
        "non_final": non_final(states),
        "states": states,
        "first_accepted_after_mend_s": first_ok_after - mended_at if first_ok_after is not None else None,
        "ready_after_mend_s": ready_again - mended_at if ready_again is not None else None,
        "all_final_after_load_s": all_final - load_end if all_final is not None else None,
        "sent_twice": twice(carrier.destinations()),
        "carrier_latency_s": DISK_CARRIER_LATENCY,
        "outcomes_held": _log_events(logged, HELD_OUTCOME),
        "log_errors": _log_errors(logged),
        "log_tracebacks": _log_tracebacks(logged),
        "gateway_restarts": sum(1 for e in logged if "starting it again" in str(e.get("event", ""))),
    }
    load.close()
    return figures


def disk_drill(rate: float, before: float, full_seconds: float, after: float, size_mib: int) -> dict[str, Any]:
    """SQLite on a tmpfs that a file fills, then frees, under a light load."""
    result: dict[str, Any] = {
        "drill": "disk",
        "database": "sqlite",
        "rate": rate,
        "full_seconds": full_seconds,
        "size_mib": size_mib,
    }
    if os.geteuid() != 0 or shutil.which("mount") is None:
        result["skipped"] = "needs root to mount a tmpfs"
        _print(result)
        return result
    data = Path(tempfile.mkdtemp(prefix="martinet-faults-"))
    store = data / "store"
    store.mkdir(mode=0o700)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m,mode=0700", "tmpfs", str(store)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        result["skipped"] = f"mount -t tmpfs failed: {mounted.stderr.strip()}"
        shutil.rmtree(data, ignore_errors=True)
        _print(result)
        return result
    carriers: list[Carrier] = []
    nodes: list[Node] = []
    filler = store / "filler"
    try:
        url = f"sqlite:///{store / 'martinet.db'}"
        # Each submission answered 0.2 s after it is read: about 20 are on their way when the disk fills, whose
        # answers the engine cannot write until there is room again.
        carrier = Carrier(data, "carrier", 0.5, latency=DISK_CARRIER_LATENCY)
        carriers.append(carrier)
        node = Node(data, "node-a", gateway_config(data, "node-a", url, carriers))
        nodes.append(node)
        token = create_account(node.config)
        node.start()
        node.wait_healthy()
        carrier.wait_binds(1)
        database = Database(url)

        def fill() -> None:
            result["filler_mib"] = round(_fill(filler) / 2**20, 1)

        result.update(
            store_fault_under_load(
                node, carrier, database, token, rate, (before, full_seconds, after), fill, filler.unlink
            )
        )
        database.close()
    finally:
        with contextlib.suppress(OSError):
            filler.unlink()
        for n in nodes:
            n.stop()
        for c in carriers:
            c.stop()
        subprocess.run(["umount", str(store)], check=False)
        if "accepted" in result and not os.environ.get("MARTINET_BENCH_KEEP"):
            shutil.rmtree(data, ignore_errors=True)
        else:
            print(f"drill data kept in {data}", file=sys.stderr)
    _print(result)
    return result


def _fill(path: Path) -> int:
    """Write `path` until the file system is full (1 MiB, then 4 KiB, then single bytes); its size."""
    written = 0
    with path.open("wb", buffering=0) as file:
        for chunk in (1 << 20, 4096, 1):
            block = b"\0" * chunk
            while True:
                try:
                    written += file.write(block) or 0
                except OSError:
                    break
    return written


def _kind(answer: str) -> str:
    """An answer's code (`0`, `31`…) or the error's type."""
    head = answer.split(" | ", 1)[0]
    return head if head.isdigit() else answer.split(":", 1)[0][:40]


def _watch_readyz(admin: str, seen: list[tuple[float, int, str]], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            with urllib.request.urlopen(f"{admin}/readyz", timeout=5) as reply:
                status, body = reply.status, reply.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read().decode("utf-8", "replace")
        except OSError as exc:
            status, body = 0, f"{type(exc).__name__}: {exc}"
        seen.append((time.monotonic(), status, _readiness(body)))
        stop.wait(SAMPLE_S)


def _readiness(body: str) -> str:
    """What a `/readyz` answer says, without what changes at each call (heartbeat ages): its status and the
    checks that failed, with their reasons."""
    try:
        answer = json.loads(body)
        checks = answer.get("checks", {})
    except (ValueError, AttributeError):
        return " ".join(body.split())[:200]
    failed = [
        f"{name}: {re.sub(r' [(]last [^)]*[)]', '', str(check.get('reason', 'failed')))[:160]}"
        for name, check in sorted(checks.items())
        if isinstance(check, dict) and not check.get("ok", True)
    ]
    return f"{answer.get('status', '?')}" + (f" ({'; '.join(failed)})" if failed else "")


def _changes(readiness: list[tuple[float, int, str]], zero: float) -> list[tuple[float, int, str]]:
    """The readiness answers each time they changed, with their time from `zero`."""
    changes: list[tuple[float, int, str]] = []
    for t, status, body in readiness:
        if not changes or (changes[-1][1], changes[-1][2]) != (status, body):
            changes.append((round(t - zero, 1), status, body))
    return changes


#: Seconds the disk drill's carrier takes to answer each submission.
DISK_CARRIER_LATENCY = 0.2

#: What the engine logs each time it holds a batch of carriers' answers it could not write (`engine/dispatcher.py`).
HELD_OUTCOME = "recording a dispatch outcome failed (try 1)"


def _answering(disk: dict[str, Any]) -> str:
    latency = disk.get("carrier_latency_s")
    return f" answering each submission {latency:g} s after reading it" if latency else ""


def _log_entries(node: Node) -> Iterator[dict[str, Any]]:
    """The gateway's JSON log lines, parsed; other lines skipped."""
    for line in node.log_tail(10_000_000).splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            yield entry


def _log_events(entries: list[dict[str, Any]], event: str) -> int:
    """Log lines of any level whose event begins with `event`."""
    return sum(1 for entry in entries if str(entry.get("event", "")).startswith(event))


def _log_errors(entries: list[dict[str, Any]]) -> dict[str, int]:
    """Log lines at ERROR or above by their first words, to say what the gateway reported while full."""
    found: collections.Counter[str] = collections.Counter()
    for entry in entries:
        if entry.get("level") in ("error", "critical"):
            found[f"{entry.get('logger')}: {str(entry.get('event'))[:100]}"] += 1
    return dict(found.most_common(8))


def _log_tracebacks(entries: list[dict[str, Any]]) -> dict[str, int]:
    """Log lines at ERROR or above that carry a traceback, by logger: what a fault that lasts costs the log."""
    found: collections.Counter[str] = collections.Counter()
    for entry in entries:
        if entry.get("level") in ("error", "critical") and "exception" in entry:
            found[str(entry.get("logger"))] += 1
    return dict(found.most_common())


# ---------------------------------------------------------------------------------------------- all drills


# ---------------------------------------------------------------------------------------------- drill 5


class LoopThread:
    """An event loop in a thread of its own, for the relay: the drill's own code is synchronous."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def outage_drill(postgres: str, rate: float, before: float, outage: float, after: float) -> dict[str, Any]:
    """PostgreSQL reached through a relay that is cut for `outage` s, then mended, under a light load."""
    result: dict[str, Any] = {"drill": "outage", "database": "postgresql", "rate": rate, "outage_seconds": outage}
    data = Path(tempfile.mkdtemp(prefix="martinet-outage-"))
    loops = LoopThread()
    carrier: Carrier | None = None
    node: Node | None = None
    try:
        with fresh_database("postgresql", data, postgres) as direct:
            target = urllib.parse.urlsplit(direct)
            relay = Relay(target.hostname or "127.0.0.1", target.port or 5432)
            loops.run(relay.start())
            relayed = target._replace(netloc=f"{target.username}@127.0.0.1:{relay.port}").geturl()
            carrier = Carrier(data, "carrier", 0.5, latency=DISK_CARRIER_LATENCY)
            node = Node(data, "node-a", gateway_config(data, "node-a", relayed, [carrier]))
            token = create_account(node.config)
            node.start()
            node.wait_healthy()
            carrier.wait_binds(1)
            database = Database(direct)
            result.update(
                store_fault_under_load(
                    node,
                    carrier,
                    database,
                    token,
                    rate,
                    (before, outage, after),
                    lambda: loops.run(relay.cut()),
                    lambda: loops.run(relay.mend()),
                )
            )
            database.close()
            node.stop()
            node = None
            loops.run(relay.cut())
    finally:
        if node is not None:
            node.stop()
        if carrier is not None:
            carrier.stop()
        loops.close()
        shutil.rmtree(data, ignore_errors=True)
    _print(result)
    return result


def run(
    *,
    drills: tuple[str, ...] = ("carrier", "crash", "disk", "outage"),
    databases: tuple[str, ...] = ("sqlite", "postgresql"),
    postgres: str = "postgresql://postgres@127.0.0.1:5432",
    carrier_rate: float = 400,
    carrier_seconds: float = 25,
    receipt_deadline: float = 20,
    receipt_delay: float = 1.0,
    crash_rate: float = 1200,
    crash_seconds: float = 20,
    repeats: int = 3,
    disk_rate: float = 100,
    full_seconds: float = 15,
    disk_mib: int = 64,
    outage_rate: float = 100,
    outage_seconds: float = 15,
) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": machine(), "drills": []}
    for kind in databases:
        if "carrier" in drills:
            results["drills"].append(
                carrier_drill(kind, carrier_rate, carrier_seconds, receipt_deadline, receipt_delay, postgres)
            )
        if "crash" in drills:
            kills = ["gateway"] * repeats if kind == "sqlite" else ["one"] + ["both"] * repeats
            for kill in kills:
                results["drills"].append(crash_drill(kind, crash_rate, crash_seconds, kill, postgres))
    if "disk" in drills and "sqlite" in databases:
        results["drills"].append(disk_drill(disk_rate, 5.0, full_seconds, 10.0, disk_mib))
    if "outage" in drills and "postgresql" in databases:
        results["drills"].append(outage_drill(postgres, outage_rate, 5.0, outage_seconds, 10.0))
    return results


def _print(result: dict[str, Any]) -> None:
    print(json.dumps(result, indent=1, default=str), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--drills", default="carrier,crash,disk,outage", help="among carrier, crash, disk, outage")
    parser.add_argument("--databases", default="sqlite,postgresql", help="among sqlite, postgresql")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432", help="server for the drills")
    parser.add_argument("--seconds", type=float, help="load duration of the carrier and crash drills (short runs)")
    parser.add_argument("--carrier-rate", type=float, default=400)
    parser.add_argument("--crash-rate", type=float, default=1200)
    parser.add_argument("--repeats", type=int, default=3, help="gateway kills on SQLite, kills of both PG nodes")
    parser.add_argument("--receipt-deadline", type=float, default=20)
    parser.add_argument("--full-seconds", type=float, default=15, help="how long the disk stays full")
    parser.add_argument("--outage-seconds", type=float, default=15, help="how long the database server stays gone")
    parser.add_argument("--json", type=Path, help="write the figures there too")
    args = parser.parse_args()
    figures = run(
        drills=tuple(d.strip() for d in args.drills.split(",") if d.strip()),
        databases=tuple(d.strip() for d in args.databases.split(",") if d.strip()),
        postgres=args.postgres,
        carrier_rate=args.carrier_rate,
        carrier_seconds=args.seconds or 25,
        receipt_deadline=args.receipt_deadline,
        crash_rate=args.crash_rate,
        crash_seconds=args.seconds or 20,
        repeats=args.repeats,
        full_seconds=args.full_seconds,
        outage_seconds=args.outage_seconds,
    )
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1, default=str))


if __name__ == "__main__":
    main()


# ---------------------------------------------------------------------------------------------- the page

Row = tuple[str, str, str, str]
_DATABASES = {"sqlite": "SQLite, one node", "postgresql": "PostgreSQL, two nodes"}


def _s(value: float | None) -> str:
    return f"{value:.2f} s" if value is not None else "never"


def rows(figures: dict[str, Any]) -> list[Row]:
    """The rows of docs/benchmarks.md, one group per drill run; the first starts with "fault drill"."""
    out: list[Row] = []
    crash_runs: collections.Counter[str] = collections.Counter()
    for d in figures["drills"]:
        if d["drill"] == "carrier":
            out += _carrier_rows(d)
        elif d["drill"] == "crash":
            crash_runs[f"{d['database']} {d['kill']}"] += 1
            out += _crash_rows(d, crash_runs[f"{d['database']} {d['kill']}"])
        elif d["drill"] == "disk":
            out += _disk_rows(d)
        elif d["drill"] == "outage":
            out += _outage_rows(d)
    return out


def _carrier_rows(d: dict[str, Any]) -> list[Row]:
    b = d["backlog"]
    return [
        (
            f"fault drill: carrier killed (SIGKILL) mid-load, route primary → backup ({_DATABASES[d['database']]}), "
            f"{d['rate']:,.0f}/s for {d['seconds']:.0f} s: accepted / lost",
            f"{d['accepted']:,} / {d['lost']:,}",
            "0 lost",
            page.verdict(d["lost"] == 0),
        ),
        (
            f"  left non-final after the receipt deadline ({d['receipt_deadline']:.0f} s) / concluded `3599` "
            "(receipts the dead carrier owed)",
            f"{d['non_final']:,} / {d['unknown_3599']:,}",
            "0 non-final",
            page.verdict(d["non_final"] == 0),
        ),
        (
            "  sent to both carriers (received by the primary before it died, then by the backup)",
            f"{d['sent_to_both']:,}",
            f"≤ {d['bound']} (window × binds)",
            page.verdict(d["sent_to_both"] <= d["bound"]),
        ),
        ("  time to failover: kill → first `submit_sm` at the backup", _s(d["failover_s"]), "", ""),
        (
            "  time to recover: kill → waiting queue back to its level before the kill; end of the load → every "
            "message final",
            f"{_s(d['recover_s'])}; {_s(d['all_final_after_load_s'])}",
            "",
            "",
        ),
        (
            "  receipt backlog during the load (sent by the carriers, not yet acknowledged; every 0.5 s), max / p95",
            f"{b['max']:,} / {b['p95']:,} receipts = {b['max_s']:.2f} / {b['p95_s']:.2f} s of traffic",
            "< 1 s of traffic",
            page.verdict(b["max_s"] < 1),
        ),
    ]


def _crash_rows(d: dict[str, Any], run: int) -> list[Row]:
    if d["kill"] == "gateway":
        title = f"fault drill: gateway kill -9 under load (SQLite, window 64 × 1 bind), kill {run}"
        timing = ("  restart → first new `submit_sm` / every message final", "restart_first_submit_s")
    elif d["kill"] == "both":
        title = f"fault drill: both PostgreSQL nodes killed -9 under load and restarted (window 64 × 1 bind each), kill {run}"
        timing = ("  restart → first new `submit_sm` / every message final", "restart_first_submit_s")
    else:
        title = (
            f"fault drill: one of two PostgreSQL nodes killed -9 under load, not restarted (lease {LEASE_SECONDS} s)"
        )
        claims = d.get("claims_of_dead_node", 0)
        timing = (
            f"  kill → the dead node's {claims:,} claims submitted by the survivor / every message final"
            if claims
            else "  kill → (the dead node held no claim at the kill) / every message final",
            "claims_taken_back_s",
        )
    b = d["backlog_before_kill"]
    has_timing = d["kill"] != "one" or bool(d.get("claims_of_dead_node"))
    return [
        (
            f"{title}, {d['rate']:,.0f}/s for {d['seconds']:.0f} s: accepted / lost / received twice by the carrier",
            f"{d['accepted']:,} / {d['lost']:,} / {d['resubmitted']:,}",
            f"0 lost, ≤ {d['bound']} twice",
            page.verdict(d["lost"] == 0 and d["resubmitted"] <= d["bound"]),
        ),
        (timing[0], f"{_s(d.get(timing[1])) if has_timing else '—'} / {_s(d['all_final_s'])}", "", ""),
        (
            "  receipt backlog before the kill, max / p95",
            f"{b['max']:,} / {b['p95']:,} receipts = {b['max_s']:.2f} / {b['p95_s']:.2f} s of traffic",
            "< 1 s of traffic",
            page.verdict(b["max_s"] < 1),
        ),
    ]


def _disk_rows(d: dict[str, Any]) -> list[Row]:
    title = (
        f"fault drill: disk full under {d['rate']:,.0f}/s (SQLite on a {d['size_mib']} MiB tmpfs, full for "
        f"{d['full_seconds']:.0f} s)"
    )
    if "skipped" in d:
        return [(title, f"not run: {d['skipped']}", "", "")]
    first = next(((status, text) for t, status, text in d["readyz"] if t >= 0 and status != 200), None)
    said = f"{first[0]} {first[1]}" if first is not None and d["not_ready_after_s"] is not None else ""
    return [
        _answers_row(f"{title}: `sendSMS.do` answers while full", d["answers_during"]),
        _half_written_row(d),
        (
            "  `/readyz` while full",
            f"not ready after {_s(d['not_ready_after_s'])}: {said}" if said else "200 ready throughout",
            "not ready",
            page.verdict(bool(said)),
        ),
        (
            "  space freed → first accepted send / `/readyz` 200; end of the load → every message final",
            f"{_s(d['first_accepted_after_mend_s'])} / {_s(d['ready_after_mend_s'])}; "
            f"{_s(d['all_final_after_load_s'])}",
            "",
            "",
        ),
        _sent_row(d),
    ]


def _answers_row(title: str, answers: dict[str, int]) -> Row:
    """What `sendSMS.do` answered while the store failed: only `31` and acceptances are clean."""
    others = {k: v for k, v in answers.items() if k not in ("0", "31")}
    return (
        title,
        f"{answers.get('31', 0):,} × `31`, {answers.get('0', 0):,} accepted, "
        + (", ".join(f"{v} × {k}" for k, v in others.items()) or "nothing else"),
        "`31` (or accepted)",
        page.verdict(not others),
    )


def _half_written_row(d: dict[str, Any]) -> Row:
    return (
        "  half-written: numbers of refused requests in the store / sends missing messages",
        f"{d['refused_numbers_in_store']:,} / {d['sends_missing_messages']:,}",
        "0 / 0",
        page.verdict(d["refused_numbers_in_store"] == 0 and d["sends_missing_messages"] == 0),
    )


def _sent_row(d: dict[str, Any]) -> Row:
    """Accepted, lost and sent twice: what a carrier accepted while the store failed (the disk full, the server
    gone) is held by the engine and written once the store takes it, as long as the claim's lease (60 s) keeps its
    messages, longer than the drills' faults; so nothing goes out twice. Held: the batches of answers the engine
    could not write at once."""
    held = d.get("outcomes_held")
    return (
        "  accepted / lost / received twice by the carrier"
        + (" (batches of carriers' answers held until written)" if held is not None else ""),
        f"{d['accepted']:,} / {d['lost']:,} / {d['sent_twice']:,}" + (f" ({held:,})" if held is not None else ""),
        "0 lost, 0 twice",
        page.verdict(d["lost"] == 0 and d["sent_twice"] == 0),
    )


def _outage_rows(d: dict[str, Any]) -> list[Row]:
    tracebacks = d["log_tracebacks"]
    title = (
        f"fault drill: PostgreSQL unreachable for {d['outage_seconds']:.0f} s under {d['rate']:,.0f}/s (every "
        "connection reset, new ones refused): `sendSMS.do` answers meanwhile"
    )
    return [
        _answers_row(title, d["answers_during"]),
        _half_written_row(d),
        (
            "  server back → first accepted send / `/readyz` 200; end of the load → every message final",
            f"{_s(d['first_accepted_after_mend_s'])} / {_s(d['ready_after_mend_s'])}; "
            f"{_s(d['all_final_after_load_s'])}",
            "",
            "",
        ),
        _sent_row(d),
        (
            "  tracebacks logged, all processes (a traceback per loop and per kind of failure, not per try)",
            f"{sum(tracebacks.values()):,}",
            "",
            "",
        ),
    ]


def setup(figures: dict[str, Any]) -> str:
    drills = figures["drills"]
    carrier = next((d for d in drills if d["drill"] == "carrier"), None)
    crash = next((d for d in drills if d["drill"] == "crash"), None)
    disk = next((d for d in drills if d["drill"] == "disk"), None)
    outage = next((d for d in drills if d["drill"] == "outage"), None)
    repeats = sum(1 for d in drills if d["drill"] == "crash" and d["kill"] == "gateway")
    parts = [
        """The fault rows (`bench/faults.py`; `python -m bench --only faults` reruns the drills and rewrites these
rows, `python -m bench.faults` prints their figures): every process on this machine, on loopback, started for the
drill and killed at its end. Each carrier is an SMSC simulator in a process of its own
(`bench/carrier.py`: every message DELIVRD, an ENROUTE receipt 0.1 s after the submission, the final one after
`receipt_delay`, a window of 64 receipts per bind) that reports which destinations it received and when. Each
gateway node is `martinet serve` (one HTTP worker, its engine, its callbacks notifier) with one `smpp` connector
per carrier (`window = 64`, `binds = 1`, transceiver). A paced load generator (12 threads, keep-alive) POSTs
`sendSMS.do` with 100 distinct French mobiles per request, each number once in a drill, so a number received
twice is a message sent twice; lost = numbers answered `0 | Accepté` without a final status at the end (read in
the database); on two nodes the requests alternate between them and go to the other when one refuses
connections, never sent again after any other failure (such a request counts as unanswered, and its numbers are
checked in the database)."""
    ]
    if carrier is not None:
        parts.append(
            f"""Carrier drill: a route sends France to `primary` then `backup` (receipts
{carrier["receipt_delay"]:g} s after submission; both connectors with `receipt_deadline =
{carrier["receipt_deadline"]:g}`); {carrier["rate"]:,.0f} messages/s for {carrier["seconds"]:.0f} s; half-way
through, the primary simulator writes down the destinations it received and kills itself with SIGKILL in the same
step of its event loop. Failover = kill → the backup's first `submit_sm`; recovered = the first 0.5 s sample after
the kill at which the messages waiting for a carrier (`queued`, `submitting`) were back to their most in the 2 s
before it (or 100, one request); the receipt backlog is the carriers' receipts sent and not acknowledged plus those
parked for want of a bind, sampled every 0.5 s from the load's 2nd second to its end and divided by the receipts
the load brings per second (two per message)."""
        )
    if crash is not None:
        parts.append(
            f"""Crash drill: one carrier (final receipt 0.5 s after submission), {crash["rate"]:,.0f} messages/s
for {crash["seconds"]:.0f} s; half-way through, as soon as the nodes to kill hold claims not yet recorded as
submitted (messages `submitting`, polled every 5 ms, at most 5 s), SIGKILL to the whole process group of `martinet
serve`
(supervisor, engine, HTTP worker, notifier), started again at once on the same database; {_times(repeats)} on
SQLite, each time on a fresh file. On PostgreSQL (a database created for each kill and dropped after it, two
nodes `node-a` and `node-b` with `engine.lease_seconds = {LEASE_SECONDS}`): once `node-a` alone, not restarted (the
survivor takes back its claims when their lease expires), then both at once, restarted, {_times(repeats)}. Received twice = submissions
beyond the first of each destination at the carrier; the bound is window × binds of the nodes killed. Restart
times run from the new `Popen` of `martinet serve`."""
        )
    if disk is not None and "skipped" not in disk:
        parts.append(
            f"""Disk drill: the SQLite file on a {disk["size_mib"]} MiB tmpfs mounted for the drill (`mount -t
tmpfs`), one carrier{_answering(disk)}, {disk["rate"]:,.0f} messages/s in requests of 10 recipients; after 5 s a file fills the
tmpfs (until `ENOSPC`), {disk["full_seconds"]:.0f} s later it is deleted, and the load goes on 10 s more.
`/readyz` (admin listener) is read every 0.5 s; the answers to requests sent while full are sorted by code, and
the database is searched for the numbers of every refused request and for sends with fewer messages than
recipients; received twice = submissions beyond the first of each destination at the carrier; held = the batches of
the carrier's answers the engine could not write at once (its warnings `{HELD_OUTCOME}`)."""
        )
    if outage is not None:
        parts.append(
            f"""Outage drill: one node on a fresh PostgreSQL database that it reaches through a loopback TCP relay
(`bench/relay.py`), one carrier{_answering(outage)}, {outage["rate"]:,.0f} messages/s in requests of 10 recipients;
after 5 s the relay is cut (every connection it carries reset, new ones refused: the server stopped or restarting,
or the network between failed), {outage["outage_seconds"]:.0f} s later it listens again, and the load goes on 10 s
more. Read as in the disk drill; the checks go to the database directly."""
        )
    # One paragraph on the page (its parts are told apart by blank lines), each drill starting a line of its own.
    return "\n".join(textwrap.fill(" ".join(part.split()), 115, break_on_hyphens=False) for part in parts)


def _undone(d: dict[str, Any]) -> str:
    n = d.get("final_then_undone", 0)
    if not n:
        return ""
    messages = "message had" if n == 1 else "messages had"
    return (
        f" (**{n:,} {messages} reached a final status and were set back** to a non-final one by a report "
        "applied after it: see their `status_history`)"
    )


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def note(figures: dict[str, Any]) -> str:
    bits = []
    for d in figures["drills"]:
        if d["drill"] == "carrier":
            bits.append(
                f"carrier drill ({d['database']}): the primary received {d['primary_received']:,} and the backup "
                f"{d['backup_received']:,} ({d['backup_received_before_kill']:,} before the kill); receipt backlog "
                f"max before the kill {d['backlog_before_kill']['max']:,}, after it {d['backlog_after_kill']['max']:,}"
                f"; final states {d['states']}" + _undone(d)
            )
        elif d["drill"] == "crash":
            bits.append(
                f"crash drill ({d['database']}, kill {d['kill']}): killed {d['kill_waited_s']:.2f} s after "
                f"half-way, {d['claims_seen_before_kill']:,} claims then in `submitting`; "
                f"{d['received_at_kill']:,} received by the carrier at the kill; requests refused at connect or unanswered while down {d['errors'] or 0}, "
                f"their numbers found in the store {d['unanswered_in_store']:,}; final states {d['states']}"
                + _undone(d)
            )
        elif d["drill"] == "disk" and "skipped" not in d:
            changes = ", ".join(f"{t:+.1f} s {status} {text}" for t, status, text in d["readyz"])
            bits.append(
                f"disk drill: answers before / while full / after {d['answers_before']} / "
                f"{d['answers_during']} / {d['answers_after']}; `/readyz` (seconds from the disk full): "
                f"{changes}; errors logged {d['log_errors'] or 'none'}, of which with a traceback "
                f"{d['log_tracebacks'] or 'none'}"
            )
        elif d["drill"] == "outage":
            changes = ", ".join(f"{t:+.1f} s {status} {text}" for t, status, text in d["readyz"])
            bits.append(
                f"outage drill: answers while gone / after {d['answers_during']} / {d['answers_after']}; "
                f"`/readyz` (seconds from the cut): {changes}; errors logged {d['log_errors'] or 'none'}, of which "
                f"with a traceback {d['log_tracebacks'] or 'none'}; the supervisor restarted "
                f"{d['gateway_restarts']} processes"
            )
    return "Fault drills: " + "; ".join(bits) + "."
