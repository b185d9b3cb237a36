"""One-time passwords under a saturating marketing backlog: accept → submit_sm latency.

    .venv/bin/python -m bench.otp [--otps 200] [--backlog 100000] [--throughput 500] [--database URL]

The requirement: with a marketing backlog of 100,000 messages saturating a connector, OTP messages submitted one
by one reach the carrier with a median under 20 ms and a p99 under 100 ms from acceptance.

Everything runs on loopback and is started and stopped here:

1. the SMSC simulator, in this process, in a thread with its own event loop: no throughput limit, every message
   DELIVRD, one receipt 0.5 s after each submission, no control port;
2. `martinet serve` (own process group) on a fresh SQLite file in a temporary folder (or, with `--database
   postgresql://…`, a fresh PostgreSQL database created and dropped here), with one `smpp` connector to the
   simulator at `throughput` parts/s, the default `lanes.otp_reserved_share` (0.2), marketing quiet hours off,
   engine defaults; two accounts made with `martinet account create`: `campaign` (lane marketing) and `bank`
   (lane otp);
3. the backlog: `backlog / 10,000` POSTs of `sendSMS.do` with 10,000 distinct French mobiles each from `campaign`;
   then we wait until the simulator has received 1,000 of them (the connector is saturated);
4. `otps` POSTs from `bank`, one by one, each to its own number, 100 ms apart (we do not wait for an OTP to reach
   the simulator before sending the next); one more before them, not counted, warms the path up;
5. we wait (30 s at most) until every OTP number is in the simulator's `messages`.

Latency of an OTP = the simulator's `received_at` (wall clock when it read the `submit_sm`) − the wall clock just
before our POST; both clocks are this machine's, and the figure includes the HTTP acceptance, so it is an upper
bound of accept → submit_sm. The same difference on the monotonic clock (`received_monotonic_ms`) is reported as
a check, and two tighter views of the same interval: `from_created_ms`, from the gateway's own acceptance
timestamp (`sends.created_at`, stamped before the acceptance commit) to `received_at`, and `after_answer_ms`, from
the moment we had the HTTP answer to the arrival (a lower bound: the acceptance was committed before the answer).
Also: the HTTP answer times, the marketing parts the simulator received per second during the OTP phase (about
`(1 - otp_reserved_share) × throughput` if the campaign saturates its share) and the marketing backlog left in
the database when the OTP phase ended (`backlog_left_db`; `backlog_left_simulator` is the backlog minus what the
simulator had received by then).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import http.client
import itertools
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Reversible
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from bench.harness import MARTINET, admin_base, free_port, free_port_besides, machine, stop_group, wait_http
from martinet.smpp.session import SessionConfig
from martinet.smsc import Credential, FinalStatus, Simulator, SimulatorConfig
from martinet.store.database import is_postgresql

PER_REQUEST = 10_000
SATURATED_AFTER = 1_000  # marketing messages the simulator must have received before the first OTP
PAUSE_S = 0.1
ARRIVAL_TIMEOUT_S = 30.0
RECEIPT_DELAY_S = 0.5
MARKETING_FIRST = 33_610_000_000  # +33 6 10 00 00 00 onwards: valid French mobiles
OTP_FIRST = 33_770_000_000  # +33 7 70 00 00 00 onwards (outside the simulator's test range 3375999xxxx)
CAMPAIGN_TEXT = "Soldes d'hiver : -50 % sur tout le magasin ce week-end !"
SYSTEM_ID, PASSWORD = "martinet", "bench"

T = TypeVar("T")


# ---------------------------------------------------------------------------------------------- the simulator


@dataclass(frozen=True, slots=True)
class Arrival:
    addr: str
    received_at: int  # wall clock, Unix ms
    received_monotonic_ms: float


class SimulatorThread:
    """The simulator on its own event loop in a background thread; read only through that loop."""

    def __init__(self, config: SimulatorConfig) -> None:
        self._config = config
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="smsc", daemon=True)
        self._ready: concurrent.futures.Future[Simulator] = concurrent.futures.Future()
        self._seen = 0  # entries of `messages` already collected (none is evicted: see max_tracked_messages)
        self.arrivals: list[Arrival] = []  # oldest first; only the benchmark thread touches it

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        simulator = Simulator(self._config)
        try:
            self._loop.run_until_complete(simulator.start())
        except BaseException as exc:
            self._ready.set_exception(exc)
            return
        self._ready.set_result(simulator)
        self._loop.run_forever()
        self._loop.run_until_complete(simulator.stop())
        self._loop.close()

    def start(self) -> Simulator:
        self._thread.start()
        return self._ready.result(timeout=10)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)

    def call(self, fn: Callable[[Simulator], T]) -> T:
        """Run `fn(simulator)` on the simulator's loop and return its result (a snapshot)."""
        simulator = self._ready.result()

        async def on_loop() -> T:
            return fn(simulator)

        return asyncio.run_coroutine_threadsafe(on_loop(), self._loop).result(timeout=30)

    def count(self) -> int:
        return self.call(lambda s: len(s.messages))

    def stats(self) -> dict[str, Any]:
        return self.call(lambda s: s.stats())

    def collect(self) -> list[Arrival]:
        """Append to `arrivals` the submissions received since the last call (walked newest first, so the cost
        on the simulator's loop is proportional to what is new, not to everything it holds); returns them."""
        seen = self._seen

        def snapshot(simulator: Simulator) -> list[Arrival]:
            messages = simulator.messages  # a read-only view of an OrderedDict: reversible
            newest = itertools.islice(reversed(cast("Reversible[str]", messages)), len(messages) - seen)
            taken = [
                Arrival(m.destination.addr, m.received_at, m.received_monotonic_ms)
                for m in (messages[k] for k in newest)
            ]
            taken.reverse()
            return taken

        new = self.call(snapshot)
        self._seen += len(new)
        self.arrivals.extend(new)
        return new


def simulator_config(max_tracked: int) -> SimulatorConfig:
    return SimulatorConfig(
        port=0,
        control_port=None,
        credentials=(Credential(SYSTEM_ID, PASSWORD),),
        intermediate_receipt=None,
        receipt_delay=RECEIPT_DELAY_S,
        outcomes={FinalStatus.DELIVRD: 1.0},
        seed=7,
        max_tracked_messages=max_tracked,
        session=SessionConfig(enquire_link_interval=30, dead_peer_timeout=90, response_timeout=10),
    )


# ---------------------------------------------------------------------------------------------- the database


@contextlib.contextmanager
def database(url: str | None, data: Path) -> Iterator[str]:
    """A fresh database: a SQLite file in `data`, or a PostgreSQL database created now and dropped afterwards.

    A PostgreSQL URL naming a database (…/NAME) creates NAME and refuses one that exists; without a name a fresh
    `martinet_bench_otp_…` is made. Only what was created here is dropped.
    """
    if url is None:
        yield f"sqlite:///{data / 'martinet.db'}"
        return
    if not is_postgresql(url):
        raise SystemExit("--database: expected postgresql://USER@HOST:PORT[/NAME]")
    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/") or f"martinet_bench_otp_{uuid.uuid4().hex[:8]}"
    server = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"--database: {name!r} is not a plain database name")
    if asyncio.run(_pg(server, f'CREATE DATABASE "{name}"', refuse_existing=name)) is not None:
        raise SystemExit(f"--database: database {name!r} exists already; name a new one, or none")
    try:
        yield urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        asyncio.run(_pg(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _pg(url: str, statement: str, refuse_existing: str | None = None) -> str | None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        exists = "select 1 from pg_database where datname = $1"
        if refuse_existing is not None and await conn.fetchval(exists, refuse_existing):
            return "exists"
        await conn.execute(statement)
        return None
    finally:
        await conn.close()


def read(url: str, query: str) -> list[tuple[Any, ...]]:
    """Rows of one query, read without writing: a read-only SQLite connection, or asyncpg."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            return [tuple(row) for row in conn.execute(query).fetchall()]

    async def fetch() -> list[tuple[Any, ...]]:
        import asyncpg

        conn = await asyncpg.connect(url, timeout=10)
        try:
            return [tuple(row) for row in await conn.fetch(query)]
        finally:
            await conn.close()

    return asyncio.run(fetch())


def backlog_left(url: str) -> int:
    """Marketing messages still waiting in the database (queued or scheduled)."""
    rows = read(url, "select count(*) from messages where lane = 'marketing' and state in ('queued', 'scheduled')")
    return int(rows[0][0])


def created_at(url: str, send_ids: list[str]) -> dict[str, int]:
    """The gateway's acceptance timestamp of each send (`sends.created_at`, Unix ms, stamped before its commit)."""
    listed = ", ".join(f"'{i}'" for i in send_ids if i.isalnum())  # smsmode IDs: letters and digits only
    if not listed:
        return {}
    return {str(i): int(at) for i, at in read(url, f"select id, created_at from sends where id in ({listed})")}


# ---------------------------------------------------------------------------------------------- the gateway


@dataclass
class Gateway:
    base: str
    campaign: str  # tokens
    bank: str
    url: str  # database
    log: Path


@contextlib.contextmanager
def gateway(smsc_port: int, url: str, data: Path, throughput: float, poll_interval: float | None) -> Iterator[Gateway]:
    """`martinet serve` bound to the simulator, with the two accounts; killed (whole process group) on exit."""
    port = free_port()
    engine = f"poll_interval = {poll_interval}\n" if poll_interval is not None else ""
    config = data / "martinet.toml"
    config.write_text(
        f"""
log_level = "warning"
[database]
url = "{url}"
[http]
host = "127.0.0.1"
port = {port}
[admin]
host = "127.0.0.1"
port = {free_port_besides(port)}
[engine]
{engine}
[marketing]
quiet_hours = {{}}
[[connectors]]
name = "carrier"
type = "smpp"
host = "127.0.0.1"
port = {smsc_port}
system_id = "{SYSTEM_ID}"
password = "{PASSWORD}"
throughput = {throughput}
reconnect_min = 0.5
reconnect_max = 5
"""
    )
    tokens = {}
    for login, lane, credits in (("campaign", "marketing", "1000000"), ("bank", "otp", "10000")):
        created = subprocess.run(
            [*MARTINET, "account", "create", login, "--lane", lane, "--credits", credits, "--config", str(config)],
            capture_output=True,
            text=True,
        )
        if created.returncode != 0:
            raise RuntimeError(f"account create {login} failed: {created.stderr}")
        tokens[login] = created.stdout.strip()
    log = data / "server.log"
    process = subprocess.Popen(
        [*MARTINET, "serve", "--config", str(config)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "w"),  # noqa: SIM115
    )
    try:
        base = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{admin_base(config)}/healthz")
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}: {log.read_text()[-2000:]}") from None
        yield Gateway(base, tokens["campaign"], tokens["bank"], url, log)
    finally:
        stop_group(process)


class Client:
    """`sendSMS.do` POSTs on one keep-alive connection."""

    def __init__(self, base: str) -> None:
        parsed = urllib.parse.urlsplit(base)
        self._host, self._port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self._conn: http.client.HTTPConnection | None = None

    def send(self, token: str, numbers: list[str], text: str) -> str:
        body = urllib.parse.urlencode({"accessToken": token, "numero": ",".join(numbers), "message": text})
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=120)
            reused = self._conn.sock is not None
            try:
                self._conn.request(
                    "POST", "/http/1.6/sendSMS.do", body, {"Content-Type": "application/x-www-form-urlencoded"}
                )
                return self._conn.getresponse().read().decode("iso-8859-15")
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                # uvicorn closes keep-alive connections idle for 5 s: such a request never reached it; once more.
                self.close()
                if not (reused and attempt == 1):
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# ---------------------------------------------------------------------------------------------- the run


@dataclass
class Otp:
    number: str
    t0_wall_ms: float
    t0_monotonic_ms: float
    answer_ms: float  # HTTP answer time
    answer: str
    arrival: Arrival | None = None
    created_at: int | None = None  # the gateway's acceptance timestamp (sends.created_at)

    @property
    def send_id(self) -> str:
        return self.answer.rsplit("|", 1)[-1].strip()

    @property
    def latency_ms(self) -> float | None:
        return None if self.arrival is None else self.arrival.received_at - self.t0_wall_ms

    @property
    def from_created_ms(self) -> float | None:
        if self.arrival is None or self.created_at is None:
            return None
        return float(self.arrival.received_at - self.created_at)

    @property
    def latency_monotonic_ms(self) -> float | None:
        return None if self.arrival is None else self.arrival.received_monotonic_ms - self.t0_monotonic_ms


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in [0, 100]) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[min(len(ordered), int(rank)) - 1]


def send_otp(client: Client, token: str, number: str, code: int) -> Otp:
    text = f"Votre code : {code:06d}"
    t0_wall, t0_mono = time.time() * 1000, time.monotonic() * 1000
    answer = client.send(token, [number], text)
    answered = time.monotonic() * 1000
    return Otp(number, t0_wall, t0_mono, answered - t0_mono, answer)


def run(
    otps: int = 200,
    backlog: int = 100_000,
    throughput: float = 500,
    database_url: str | None = None,
    poll_interval: float | None = None,
) -> dict[str, Any]:
    """Run the scenario (module docstring) and return its figures."""
    if backlog < SATURATED_AFTER:
        raise ValueError(f"backlog: at least {SATURATED_AFTER:,} messages")
    started = time.monotonic()
    data = Path(tempfile.mkdtemp(prefix="martinet-otp-"))
    smsc = SimulatorThread(simulator_config(max_tracked=max(200_000, 2 * (backlog + otps + 10))))
    result: dict[str, Any] = {
        "machine": machine(),
        "setup": {
            "otps": otps,
            "backlog": backlog,
            "throughput": throughput,
            "otp_reserved_share": 0.2,
            "database": "sqlite" if database_url is None else "postgresql",
            "poll_interval": poll_interval if poll_interval is not None else "default (0.05)",
            "pause_between_otps_s": PAUSE_S,
            "receipt_delay_s": RECEIPT_DELAY_S,
        },
        "load_average_before": os.getloadavg()[0],
    }
    try:
        simulator = smsc.start()
        with database(database_url, data) as url, gateway(simulator.port, url, data, throughput, poll_interval) as gw:
            deadline = time.monotonic() + 30
            while smsc.stats().get("active_binds", 0) < 1:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the connector did not bind: {gw.log.read_text()[-2000:]}")
                time.sleep(0.1)
            client = Client(gw.base)
            try:
                result.update(_scenario(smsc, gw, client, otps, backlog))
            finally:
                client.close()
            errors = [line for line in gw.log.read_text().splitlines() if '"error"' in line.lower()]
            result["gateway_log_errors"] = errors[-5:]
    finally:
        smsc.stop()
        shutil.rmtree(data, ignore_errors=True)
    result["load_average_after"] = os.getloadavg()[0]
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    return result


def _scenario(smsc: SimulatorThread, gw: Gateway, client: Client, otps: int, backlog: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # 3. The backlog.
    campaign_began = time.monotonic()
    posts = []
    for first in range(0, backlog, PER_REQUEST):
        numbers = [str(MARKETING_FIRST + i) for i in range(first, min(backlog, first + PER_REQUEST))]
        began = time.monotonic()
        answer = client.send(gw.campaign, numbers, CAMPAIGN_TEXT)
        posts.append(round(time.monotonic() - began, 3))
        if not answer.startswith("0 | "):
            raise RuntimeError(f"the campaign send was refused: {answer}")
    out["backlog_posts_s"] = posts
    deadline = time.monotonic() + 120
    while smsc.count() < SATURATED_AFTER:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the campaign does not reach the simulator: {gw.log.read_text()[-2000:]}")
        time.sleep(0.05)
    out["saturated_after_s"] = round(time.monotonic() - campaign_began, 2)

    # 4. The OTPs, one by one; the first is a warm-up. What the simulator received is collected as we go, a
    # second's worth at a time, so that no single read holds its loop for long.
    smsc.collect()
    warm_up = send_otp(client, gw.bank, str(OTP_FIRST + 99_999), 999_999)
    if not warm_up.answer.startswith("0 | "):
        raise RuntimeError(f"the warm-up OTP was refused: {warm_up.answer}")
    time.sleep(PAUSE_S)
    sent: list[Otp] = []
    for index in range(otps):
        otp = send_otp(client, gw.bank, str(OTP_FIRST + index), 100_000 + index)
        if not otp.answer.startswith("0 | "):
            raise RuntimeError(f"OTP {index} was refused: {otp.answer}")
        sent.append(otp)
        if index % 10 == 9:
            smsc.collect()
        time.sleep(PAUSE_S)
    phase = (sent[0].t0_monotonic_ms, sent[-1].t0_monotonic_ms + sent[-1].answer_ms)
    out["backlog_left_db"] = backlog_left(gw.url)

    # 5. Every OTP at the simulator.
    waiting = {o.number: o for o in (warm_up, *sent)}
    deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
    new = smsc.arrivals
    while True:
        for arrival in new:
            if arrival.addr in waiting:
                waiting.pop(arrival.addr).arrival = arrival
        if not waiting or time.monotonic() > deadline:
            break
        time.sleep(0.1)
        new = smsc.collect()

    stamps = created_at(gw.url, [o.send_id for o in sent])
    for o in sent:
        o.created_at = stamps.get(o.send_id)

    # 6. Figures.
    arrived = [o for o in sent if o.arrival is not None]
    latencies = [o.latency_ms for o in arrived if o.latency_ms is not None]
    monotonic = [o.latency_monotonic_ms for o in arrived if o.latency_monotonic_ms is not None]
    answers = [o.answer_ms for o in sent]
    marketing = [a for a in smsc.arrivals if a.addr.startswith("336")]
    during = [a for a in marketing if phase[0] <= a.received_monotonic_ms <= phase[1]]
    received_by_end = sum(1 for a in marketing if a.received_monotonic_ms <= phase[1])
    phase_s = (phase[1] - phase[0]) / 1000
    out.update(
        {
            "otps_sent": len(sent),
            "otps_arrived": len(arrived),
            "latency_ms": _stats(latencies),
            "latency_monotonic_ms": _stats(monotonic),
            "answer_ms": _stats(answers),
            "after_answer_ms": _stats([m - o.answer_ms for m, o in zip(monotonic, arrived, strict=True)]),
            "from_created_ms": _stats([v for o in arrived if (v := o.from_created_ms) is not None]),
            "warm_up_latency_ms": warm_up.latency_ms,
            "otp_phase_s": round(phase_s, 2),
            "marketing_per_s_during_otps": round(len(during) / phase_s, 1) if phase_s > 0 else 0.0,
            "backlog_left_simulator": backlog - received_by_end,
            "marketing_received": len(marketing),
            "slowest": [
                {"number": o.number, "latency_ms": o.latency_ms, "answer_ms": round(o.answer_ms, 1)}
                for o in sorted(arrived, key=lambda o: -(o.latency_ms or 0))[:5]
            ],
        }
    )
    out["per_otp"] = [
        {
            "number": o.number,
            "t0": o.t0_wall_ms,
            "answer_ms": round(o.answer_ms, 2),
            "answer": o.answer,
            "received_at": o.arrival.received_at if o.arrival else None,
            "latency_ms": o.latency_ms,
            "latency_monotonic_ms": o.latency_monotonic_ms,
            "created_at": o.created_at,
        }
        for o in (warm_up, *sent)
    ]
    out["met"] = {
        "p50 < 20 ms": bool(latencies) and len(arrived) == len(sent) and out["latency_ms"]["p50"] < 20,
        "p99 < 100 ms": bool(latencies) and len(arrived) == len(sent) and out["latency_ms"]["p99"] < 100,
    }
    return out


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "p50": round(percentile(values, 50), 1),
        "p90": round(percentile(values, 90), 1),
        "p99": round(percentile(values, 99), 1),
        "max": round(max(values), 1),
        "min": round(min(values), 1),
        "mean": round(sum(values) / len(values), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.otp", description=__doc__.split("\n\n")[0])
    parser.add_argument("--otps", type=int, default=200, help="OTPs sent one by one (default 200)")
    parser.add_argument("--backlog", type=int, default=100_000, help="marketing messages queued first")
    parser.add_argument("--throughput", type=float, default=500, help="the connector's parts per second")
    parser.add_argument("--database", help="postgresql://USER@HOST:PORT[/NEW_NAME] instead of a SQLite file")
    parser.add_argument("--poll-interval", type=float, help="engine.poll_interval (default: the engine's)")
    parser.add_argument("--details", type=Path, help="write every OTP's timings (JSON) to this file")
    args = parser.parse_args()
    figures = run(args.otps, args.backlog, args.throughput, args.database, args.poll_interval)
    per_otp = figures.pop("per_otp", [])
    if args.details is not None:
        args.details.write_text(json.dumps(per_otp, indent=1, ensure_ascii=False))
    print(json.dumps(figures, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
