"""End to end: `sendSMS.do` → engine → SMPP → simulator → receipts → status 11, sustained, nothing lost.

    .venv/bin/python -m bench.e2e [--rate 2000] [--seconds 60] [--binds 1] [--batch-size 500] [--no-fallback]
    .venv/bin/python -m bench.e2e --explore --rate 2000 --seconds 20    # binds 1, 2 and 4 side by side

A `martinet serve` on a fresh SQLite file (`synchronous=full`) starts the SMSC simulator (every message DELIVRD,
an ENROUTE receipt first, the final receipt 0.5 s after the submission, no throughput limit, control endpoint on)
and binds to it with an `smpp` connector. A paced load generator POSTs `sendSMS.do` with 100 distinct French
mobiles each, `rate` messages per second for `seconds`; meanwhile a read-only SQLite connection counts, every
second, the messages that reached status 11 (received) and those in any final state. After the load, the backlog
is given `drain_timeout` seconds to drain. Figures:

* `accepted`: recipients the gateway accepted (answers `0 | …`, cross-checked with the rows in `messages`);
* `delivered_at_end`: messages at status 11 when the load stopped; `drain_s`: time after that until every
  accepted message was final;
* `sustained_median` / `sustained_min`: messages reaching 11 per second over 5-second windows of the load,
  the first 5 s (ramp) left out;
* `lost`: accepted messages not final within the drain timeout, and the simulator's own counters
  (`submitted`, `receipts_acked`, which is two per message: ENROUTE then DELIVRD).

`run()` measures at `rate`; when that is not sustainable it also steps the rate down (shorter runs) to find the
highest one that is: zero lost, the HTTP side kept up with the offered load, 5-second windows at ≥ 90 % of the
rate and the backlog drained within 5 s of the end of the load.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import contextlib
import http.client
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import MARTINET, admin_base, config_head, create_account, free_port, stop_group, wait_http

PER_REQUEST = 100
TEXT = "Votre code de connexion est 482913"
RAMP_S = 5
WINDOW_S = 5
FINAL_STATES = ("delivered", "undelivered", "failed", "expired", "cancelled")


@dataclass(frozen=True)
class Setup:
    """What can be varied to find the best figure: the connector's binds, bind mode and window, the engine's batch."""

    binds: int = 1  # 1 did at least as well as 2 and better than 4 in 20 s runs at 2,000/s (bench/e2e.py --explore)
    window: int = 64
    bind_mode: str = "transceiver"
    receipt_delay: float = 0.5
    batch_size: int = 500  # engine.batch_size
    # The simulator's message IDs: "counter" is a decimal counter from 1 (the case where a receipt's ID is also
    # a valid ID of other parts under other readings), "hex" a random-start hex counter.
    message_ids: str = "counter"


@dataclass
class Gateway:
    base: str
    token: str
    database: Path
    control: str
    log: Path
    pgid: int  # the `martinet serve` process group: supervisor, simulator, engine, HTTP worker(s)


@dataclass
class Measure:
    rate: int
    seconds: int
    setup: Setup
    offered: int = 0
    accepted: int = 0
    refused_requests: int = 0
    refusals: dict[str, int] = field(default_factory=dict)  # answers other than `0 | …`, and errors
    late_requests: int = 0  # answered more than 1 s after their slot (the HTTP side fell behind)
    accepted_in_window: int = 0  # recipients accepted while the load ran (answers received before its end)
    rows: int = 0
    delivered_at_end: int = 0
    final_at_end: int = 0
    drain_s: float | None = None
    delivered: int = 0
    final: int = 0
    lost: int = 0
    sustained_median: float = 0.0
    sustained_min: float = 0.0
    windows: list[float] = field(default_factory=list)  # messages reaching 11 per second, each 5 s window
    accept_p50_ms: float = 0.0
    accept_p99_ms: float = 0.0
    simulator: dict[str, Any] = field(default_factory=dict)
    kept_receipts: int = 0  # receipts still waiting for their part at the end (each is a receipt not applied)
    cpu_load_s: dict[str, float] = field(default_factory=dict)  # CPU seconds per process during the load
    others_cpu_s: float = 0.0  # CPU seconds used during the load by processes other than the gateway and us
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds per process, load start to drained
    elapsed_s: float = 0.0  # wall seconds of that interval
    load_average: tuple[float, float] = (0.0, 0.0)  # 1-minute load average before and after (a shared machine)
    cpu_probe_ms: tuple[float, float] = (0.0, 0.0)  # a fixed Python loop before and after: how fast the VM ran
    series: list[tuple[float, int, int]] = field(default_factory=list)  # (s since load start, delivered, final)

    @property
    def sustainable(self) -> bool:
        return (
            self.lost == 0
            and self.accepted == self.offered
            and self.accepted_in_window >= 0.98 * self.offered
            and self.sustained_min >= 0.9 * self.rate
            and self.drain_s is not None
            and self.drain_s <= 5.0
            and self.kept_receipts == 0
        )

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "series"}
        out["sustainable"] = self.sustainable
        return out


_ID_STYLES = {
    "counter": 'message_id_format = "decimal"\nmessage_id_start = 1',
    "hex": 'message_id_format = "hex"',
}


@contextlib.contextmanager
def gateway(setup: Setup) -> Iterator[Gateway]:
    """`martinet serve` with the simulator as its carrier, on a fresh SQLite file; an account with credits."""
    data = Path(tempfile.mkdtemp(prefix="martinet-e2e-"))
    port, smpp, control = free_port(), free_port(), free_port()
    (data / "smsc.toml").write_text(
        f"""
listen = "127.0.0.1:{smpp}"
control = "127.0.0.1:{control}"
{_ID_STYLES[setup.message_ids]}
intermediate_receipt = "ENROUTE"
intermediate_delay = {min(0.1, setup.receipt_delay)}
receipt_delay = {setup.receipt_delay}
max_tracked_messages = 1000000

[[credentials]]
system_id = "martinet"
password = "bench"

[outcomes]
DELIVRD = 100
"""
    )
    config = data / "martinet.toml"
    config.write_text(
        config_head(data, port)
        + f"""[engine]
batch_size = {setup.batch_size}
[simulator]
config = "{data / "smsc.toml"}"
[[connectors]]
name = "simulator"
type = "smpp"
host = "127.0.0.1"
port = {smpp}
system_id = "martinet"
password = "bench"
binds = {setup.binds}
bind_mode = "{setup.bind_mode}"
window = {setup.window}
reconnect_min = 0.5
reconnect_max = 5
"""
    )
    token = create_account(config)
    log = data / "server.log"
    process = subprocess.Popen(
        [*MARTINET, "serve", "--config", str(config)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "w"),  # noqa: SIM115
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{admin_base(config)}/healthz")
        control_url = f"http://127.0.0.1:{control}"
        binds = setup.binds * (2 if setup.bind_mode == "tx+rx" else 1)
        deadline = time.monotonic() + 30
        while simulator_stats(control_url).get("active_binds", 0) < binds:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the connector did not bind: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield Gateway(base, token, data / "martinet.db", control_url, log, process.pid)
    finally:
        stop_group(process)
        shutil.rmtree(data, ignore_errors=True)


def process_cpu(pgid: int) -> dict[str, float]:
    """CPU seconds (user + system) of each process of a `martinet serve` process group, read from /proc.

    `serve` starts its children in a fixed order (simulator, engine, then the HTTP workers: martinet/server.py),
    so they are named by the order of their process ids.
    """
    tick = os.sysconf("SC_CLK_TCK")
    found: list[tuple[int, float, bytes]] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            command = Path(entry.path, "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if int(fields[2]) == pgid:
            found.append((int(entry.name), (int(fields[11]) + int(fields[12])) / tick, command))
    cpu: dict[str, float] = {}
    children = ["simulator", "engine", *(f"http-{i}" for i in range(64))]
    for pid, seconds, command in sorted(found):
        if pid == pgid:
            name = "supervisor"
        elif b"resource_tracker" in command:
            name = "resource tracker"
        else:
            name = children.pop(0)
        cpu[name] = seconds
    return cpu


def cpu_probe() -> float:
    """Milliseconds a fixed pure-Python loop takes: on a shared VM the same work takes more or less time."""
    began = time.perf_counter()
    total = 0
    for i in range(2_000_000):
        total += i
    return (time.perf_counter() - began) * 1000


def machine_busy() -> float:
    """CPU seconds all cores have spent busy since boot (/proc/stat), to see what else ran meanwhile."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def simulator_stats(control: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"{control}/stats", timeout=5) as reply:
            return dict(json.loads(reply.read()))
    except OSError:
        return {}


class Counter:
    """Counts delivered (status 11) and final messages once a second on a read-only connection."""

    def __init__(self, database: Path) -> None:
        self._conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, check_same_thread=False)
        self.series: list[tuple[float, int, int]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._zero = 0.0
        self._lock = threading.Lock()  # the connection is shared by the sampling thread and the caller

    def counts(self) -> tuple[int, int, int]:
        """(delivered, final, all) — one pass over the table; fine once a second."""
        with self._lock:
            rows = dict(self._conn.execute("select state, count(*) from messages group by state").fetchall())
        delivered = int(rows.get("delivered", 0))
        return delivered, sum(int(rows.get(s, 0)) for s in FINAL_STATES), sum(int(v) for v in rows.values())

    def start(self, zero: float) -> None:
        self._zero = zero
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        tick = self._zero
        while not self._stop.is_set():
            delivered, final, _ = self.counts()
            self.series.append((time.monotonic() - self._zero, delivered, final))
            tick += 1.0
            self._stop.wait(max(0.0, tick - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def code_11(self) -> int:
        with self._lock:
            return int(self._conn.execute("select count(*) from messages where code = 11").fetchone()[0])

    def close(self) -> None:
        self._conn.close()


class Load:
    """Paced POSTs of `sendSMS.do`, `PER_REQUEST` recipients each, from a few threads with keep-alive connections."""

    def __init__(self, gw: Gateway, threads: int = 16) -> None:
        parsed = urllib.parse.urlsplit(gw.base)
        self._host, self._port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self._token = gw.token
        self._local = threading.local()
        self._pool = concurrent.futures.ThreadPoolExecutor(threads)
        self._lock = threading.Lock()
        self.accepted = 0
        self.refused = 0
        self.refusals: collections.Counter[str] = collections.Counter()  # answer (or error) → requests
        self.latencies: list[float] = []
        self.accepted_by: list[tuple[float, int]] = []  # (answer time, recipients)

    def post(self, first: int, slot: float) -> None:
        """One request of `PER_REQUEST` recipients from `first` on, due at `slot` (monotonic time)."""
        numbers = ",".join(f"06{10000000 + i:08d}" for i in range(first, first + PER_REQUEST))
        body = urllib.parse.urlencode({"accessToken": self._token, "numero": numbers, "message": TEXT})
        answer = self._send(body)
        done = time.monotonic()
        with self._lock:
            self.latencies.append(done - slot)  # from its slot: time queued behind a slow gateway counts
            if answer.startswith("0 | "):
                self.accepted += PER_REQUEST
                self.accepted_by.append((done, PER_REQUEST))
            else:
                self.refused += 1
                self.refusals[answer[:200]] += 1

    def _send(self, body: str) -> str:
        """POST on this thread's keep-alive connection; the answer, or the error as text."""
        for attempt in (1, 2):
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = http.client.HTTPConnection(self._host, self._port, timeout=60)
            reused = conn.sock is not None
            try:
                conn.request(
                    "POST", "/http/1.6/sendSMS.do", body, {"Content-Type": "application/x-www-form-urlencoded"}
                )
                return conn.getresponse().read().decode("iso-8859-15")
            except (OSError, http.client.HTTPException) as exc:
                self._local.conn = None
                conn.close()
                # uvicorn closes connections idle for 5 s: a request that found its kept-alive connection closed
                # never reached the gateway, so it goes again once, on a new connection.
                stale = isinstance(exc, BrokenPipeError | ConnectionResetError | http.client.RemoteDisconnected)
                if not (reused and stale and attempt == 1):
                    return f"{type(exc).__name__}: {exc}"
        raise AssertionError("unreachable")

    def offer(self, rate: int, seconds: int, first: int = 0) -> tuple[int, float]:
        """Offer `rate` messages per second for `seconds`, wait for the answers; returns (offered, load start)."""
        interval = PER_REQUEST / rate
        requests = round(rate * seconds / PER_REQUEST)
        began = time.monotonic()
        futures = []
        for index in range(requests):
            slot = began + index * interval
            delay = slot - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(self._pool.submit(self.post, first + index * PER_REQUEST, slot))
        concurrent.futures.wait(futures)
        return requests * PER_REQUEST, began

    def close(self) -> None:
        self._pool.shutdown()


def measure(rate: int, seconds: int, setup: Setup, drain_timeout: float = 120.0) -> Measure:
    result = Measure(rate, seconds, setup)
    with gateway(setup) as gw:
        counter = Counter(gw.database)
        load = Load(gw)
        try:
            # Warm-up (caches, connections), not counted: one request, then wait for it to be delivered.
            load.post(80_000_000, time.monotonic())
            deadline = time.monotonic() + 30
            while counter.counts()[0] < PER_REQUEST and time.monotonic() < deadline:
                time.sleep(0.1)
            warm_delivered, warm_final, warm_rows = counter.counts()
            stats_before = simulator_stats(gw.control)
            if load.accepted != PER_REQUEST:
                raise RuntimeError("the warm-up send was refused")
            load.accepted, load.refused, load.accepted_by, load.latencies = 0, 0, [], []
            load.refusals.clear()

            probe_before = cpu_probe()
            result.load_average = (os.getloadavg()[0], 0.0)
            cpu_before, own_before, busy_before = process_cpu(gw.pgid), time.process_time(), machine_busy()
            zero = time.monotonic()
            counter.start(zero)
            result.offered, began = load.offer(rate, seconds)
            cpu_load = process_cpu(gw.pgid)
            result.cpu_load_s = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_load.items()}
            result.cpu_load_s["load generator"] = time.process_time() - own_before
            result.others_cpu_s = machine_busy() - busy_before - sum(result.cpu_load_s.values())
            end = began + seconds
            result.accepted = load.accepted
            result.refused_requests = load.refused
            result.refusals = dict(load.refusals)
            result.accepted_in_window = sum(n for t, n in load.accepted_by if t <= end + 1.0)
            result.late_requests = sum(1 for lat in load.latencies if lat > 1.0)
            lat = sorted(load.latencies)
            result.accept_p50_ms = 1000 * lat[len(lat) // 2] if lat else 0.0
            result.accept_p99_ms = 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else 0.0

            # Drain: until every accepted message is final, or the timeout.
            wait_until = time.monotonic() + drain_timeout
            while time.monotonic() < wait_until:
                _, final, _ = counter.counts()
                if final - warm_final >= result.accepted:
                    break
                time.sleep(0.2)
            drained_at = time.monotonic()
            cpu_after, own_after = process_cpu(gw.pgid), time.process_time()
            result.cpu_s = {k: v - cpu_before.get(k, 0.0) for k, v in cpu_after.items()}
            result.cpu_s["load generator"] = own_after - own_before
            result.elapsed_s = drained_at - zero
            result.load_average = (result.load_average[0], os.getloadavg()[0])
            result.cpu_probe_ms = (probe_before, cpu_probe())
            time.sleep(1.1)
            counter.stop()
            delivered, final, rows = counter.counts()
            result.rows = rows - warm_rows
            result.delivered = delivered - warm_delivered
            result.final = final - warm_final
            result.lost = result.accepted - result.final
            if counter.code_11() != delivered:
                raise RuntimeError("messages in state delivered and messages at code 11 differ")
            result.series = [(t, d - warm_delivered, f - warm_final) for t, d, f in counter.series]
            at_end = [(t, d, f) for t, d, f in result.series if t <= end - zero]
            if at_end:
                result.delivered_at_end, result.final_at_end = at_end[-1][1], at_end[-1][2]
            if result.final >= result.accepted:
                result.drain_s = max(0.0, drained_at - end)
            rates = result.windows = _window_rates(result.series, seconds)
            if rates:
                result.sustained_median = statistics.median(rates)
                result.sustained_min = min(rates)
            result.kept_receipts = _kept_receipts(gw.database)
            stats = simulator_stats(gw.control)
            result.simulator = {
                k: stats.get(k, 0) - stats_before.get(k, 0)
                for k in ("submitted", "throttled", "refused", "receipts_sent", "receipts_acked", "receipts_retried")
            }
        finally:
            counter.stop()
            counter.close()
            load.close()
    _print(result)
    return result


def _kept_receipts(database: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        return int(conn.execute("select count(*) from unmatched_receipts").fetchone()[0])


def _window_rates(series: list[tuple[float, int, int]], seconds: int) -> list[float]:
    """Messages reaching 11 per second over consecutive 5 s windows of the load, after the ramp."""

    def delivered_at(t: float) -> float:
        # linear interpolation between samples
        previous = (0.0, 0)
        for when, delivered, _ in series:
            if when >= t:
                (t0, d0), (t1, d1) = previous, (when, delivered)
                return d0 + (d1 - d0) * ((t - t0) / (t1 - t0) if t1 > t0 else 1.0)
            previous = (when, delivered)
        return float(previous[1])

    if not series or series[-1][0] < seconds:
        return []
    return [
        (delivered_at(start + WINDOW_S) - delivered_at(start)) / WINDOW_S
        for start in range(RAMP_S, seconds - WINDOW_S + 1, WINDOW_S)
    ]


def _print(m: Measure) -> None:
    s = m.setup
    drain = f"{m.drain_s:.1f} s" if m.drain_s is not None else "not drained"
    cpu = ", ".join(f"{k} {v:.1f}" for k, v in m.cpu_s.items() if v >= 0.05)
    cpu_load = ", ".join(f"{k} {v:.1f}" for k, v in m.cpu_load_s.items() if v >= 0.05)
    print(
        f"e2e {m.rate:,}/s offered for {m.seconds} s (binds {s.binds} {s.bind_mode}, window {s.window}, "
        f"batch {s.batch_size}, receipt_delay {s.receipt_delay}s, message IDs {s.message_ids})\n"
        f"  offered {m.offered:,}, accepted {m.accepted:,} ({m.accepted_in_window:,} during the load, "
        f"{m.rows:,} rows in messages, "
        f"{m.refused_requests} requests refused; answers from their slot p50 {m.accept_p50_ms:.0f} ms, "
        f"p99 {m.accept_p99_ms:.0f} ms, {m.late_requests} after more than 1 s)\n"
        f"  at status 11 when the load stopped: {m.delivered_at_end:,}; drain {drain}; "
        f"at 11 in the end {m.delivered:,}, final {m.final:,}, lost {m.lost:,}, receipts kept {m.kept_receipts:,}\n"
        f"  reaching 11 per second (5 s windows after {RAMP_S} s): median {m.sustained_median:,.0f}, "
        f"min {m.sustained_min:,.0f} ({', '.join(f'{w:,.0f}' for w in m.windows)})\n"
        f"  simulator: {m.simulator}\n"
        f"  CPU s during the {m.seconds} s of load: {cpu_load}; other processes on the machine "
        f"{m.others_cpu_s:.1f}\n"
        f"  CPU s over {m.elapsed_s:.0f} s (load + drain): {cpu}; load average {m.load_average[0]:.1f} -> "
        f"{m.load_average[1]:.1f}; CPU probe {m.cpu_probe_ms[0]:.0f} -> {m.cpu_probe_ms[1]:.0f} ms\n"
        + (f"  refused: {m.refusals}\n" if m.refusals else "")
        + f"  sustainable: {m.sustainable}",
        flush=True,
    )


def run(
    rate: int = 2000,
    seconds: int = 60,
    setup: Setup | None = None,
    fallback: tuple[int, ...] = (1750, 1500, 1250, 1000, 750, 500),
    fallback_seconds: int = 30,
) -> dict[str, Any]:
    """Measure at `rate`; if not sustainable, the highest of `fallback` that is (shorter runs)."""
    setup = setup or Setup()
    offered = measure(rate, seconds, setup)
    best = offered if offered.sustainable else None
    if best is None:
        for lower in fallback:
            if lower >= rate:
                continue
            attempt = measure(lower, fallback_seconds, setup)
            if attempt.sustainable:
                best = attempt
                break
    return {
        "offered": offered.summary(),
        "best": best.summary() if best else None,
        "setup": asdict(setup),
    }


def explore(rate: int, seconds: int, setups: list[Setup]) -> list[Measure]:
    """Short runs of several set-ups at one rate, to choose the one `run` uses."""
    return [measure(rate, seconds, setup) for setup in setups]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--binds", type=int, default=Setup.binds)
    parser.add_argument("--window", type=int, default=Setup.window)
    parser.add_argument("--bind-mode", choices=["transceiver", "tx+rx"], default=Setup.bind_mode)
    parser.add_argument("--batch-size", type=int, default=Setup.batch_size)
    parser.add_argument("--message-ids", choices=sorted(_ID_STYLES), default=Setup.message_ids)
    parser.add_argument("--explore", action="store_true", help="compare binds 1/2/4 at --rate for --seconds")
    parser.add_argument("--no-fallback", action="store_true", help="measure at --rate only")
    args = parser.parse_args()
    setup = Setup(
        binds=args.binds,
        window=args.window,
        bind_mode=args.bind_mode,
        batch_size=args.batch_size,
        message_ids=args.message_ids,
    )
    if args.explore:
        explore(args.rate, args.seconds, [Setup(binds=b, window=args.window) for b in (1, 2, 4)])
    elif args.no_fallback:
        measure(args.rate, args.seconds, setup)
    else:
        print(json.dumps(run(args.rate, args.seconds, setup), indent=2, default=str))


if __name__ == "__main__":
    main()
