"""Martinet and Kannel side by side, end to end: HTTP → SMPP simulator → receipts → final status → callback.

    .venv/bin/python -m bench.kannel [--count 20000] [--connections 64] [--only martinet|kannel]
                                     [--callback-statuses all,final] [--kannel-stores none,spool]
                                     [--profile DIR] [--syscalls DIR] [--repeats N]

One SMSC simulator (`martinet smsc`: every message DELIVRD, an ENROUTE receipt 0.1 s after the submission and the
final one 0.5 s after it, no throughput limit) serves both gateways in turn, each bound to it with one
transceiver, window 64. A callback receiver (`bench/dlr.py`, a process of its own) counts the delivery callbacks;
the load generator (`bench/dlr.py`, 64 keep-alive connections, closed loop) sends `count` requests of one
recipient each, distinct numbers, with the send time in the callback URL:

* Martinet: `martinet serve` on a fresh SQLite file (`synchronous=full`, engine `batch_size = 500`, one HTTP
  worker, `callbacks.allow_private_networks = true`), `POST /http/1.6/sendSMS.do` with `notification_url`;
  callbacks for statuses 0, 13 and 11, final = 11; then again on a fresh gateway with the account called back
  for final statuses only (`--callback-statuses final`: one callback per message, at 11).
* Kannel (Debian package `kannel`): bearerbox (SMPP smsc group, `max-pending-submits = 64`, internal DLR storage,
  no message store) and smsbox (a `sendsms-user`), `GET /cgi-bin/sendsms` with `dlr-mask=31` and `dlr-url`
  carrying `type=%d`; DLRs of type 8 (SMSC accepted), 4 (ENROUTE) and 1 (delivered), final = 1; then again,
  fresh, with bearerbox keeping what it queues in its spool store (`store-type = spool`, one file per message in
  `store-location`, as a Kannel that must not lose messages when bearerbox dies is run).

Figures per gateway: accepted/s on the HTTP side; end-to-end = final callbacks per second from the first request
to the last final callback; p50/p99 of send → final callback; lost = accepted without a final callback within
the drain timeout. The ratio is Martinet / Kannel end to end. With `--repeats N`, Martinet (every status) and
Kannel without a store run N times, alternated, and `pair_summary` gives each target per pair and its median
(`python -m bench` runs three). With `--profile DIR`, py-spy samples each Martinet process during its runs and
their CPU is shared out by stage of a message's life (`bench/profile.py`). With `--syscalls DIR`, strace counts the
system calls of each process of the gateway under test, Martinet's and Kannel's, and each run's figures give them
per message (`bench/syscalls.py`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bench import dlr, profile, schedstat, syscalls
from bench.harness import (
    MARTINET,
    admin_base,
    config_head,
    cpu_by_process,
    ensure_tool,
    free_port,
    machine,
    named_processes,
    stop_group,
    wait_http,
)

TEXT = "Votre code de connexion est 482913"
FIRST_NUMBER = 33610000000  # one distinct French mobile per request: 33610000000 + index
RECEIPT_DELAY = 0.5
WINDOW = 64  # each gateway's window of outstanding submit_sm
SMSC_WINDOW = 64  # the simulator's window of outstanding deliver_sm (receipts) per bind


def _stats(url: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return dict(json.loads(reply.read()))
    except OSError:
        return {}


@contextlib.contextmanager
def _process(command: list[str], log: Path, **kwargs: Any) -> Iterator[subprocess.Popen[bytes]]:
    """A process in a session of its own, stopped (SIGTERM, then SIGKILL) with everything it started."""
    process = subprocess.Popen(
        command,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "w"),  # noqa: SIM115
        **kwargs,
    )
    try:
        yield process
    finally:
        stop_group(process)


@contextlib.contextmanager
def simulator(data: Path) -> Iterator[tuple[int, str, int]]:
    """The SMSC simulator both gateways bind to: (SMPP port, control URL, process id)."""
    smpp, control = free_port(), free_port()
    config = data / "smsc.toml"
    config.write_text(
        f"""
listen = "127.0.0.1:{smpp}"
control = "127.0.0.1:{control}"
intermediate_receipt = "ENROUTE"
intermediate_delay = 0.1
receipt_delay = {RECEIPT_DELAY}
max_tracked_messages = 200000

[[credentials]]
system_id = "martinet"
password = "bench"

[[credentials]]
system_id = "kannel"
password = "bench"

[outcomes]
DELIVRD = 100

[session]
window = {SMSC_WINDOW}
"""
    )
    command = [sys.executable, "-m", "martinet.smsc", "--config", str(config), "--log-level", "warning"]
    with _process(command, data / "smsc.log") as process:
        url = f"http://127.0.0.1:{control}"
        wait_http(f"{url}/stats")
        yield smpp, url, process.pid


@contextlib.contextmanager
def receiver() -> Iterator[tuple[str, int]]:
    """The callback receiver, in a process of its own: (base URL, process id)."""
    port = free_port()
    process = multiprocessing.get_context("spawn").Process(target=dlr.receiver_main, args=(port,), daemon=True)
    process.start()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/stats")
        assert process.pid is not None
        yield base, process.pid
    finally:
        process.terminate()
        process.join(5)


def _wait_binds(control: str, binds: int, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while _stats(f"{control}/stats").get("active_binds", 0) < binds:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the gateway did not bind to the simulator: {log.read_text()[-2000:]}")
        time.sleep(0.1)


@contextlib.contextmanager
def martinet(
    data: Path, smpp: int, control: str, synchronous: str = "full", callback_statuses: str = "all"
) -> Iterator[tuple[str, str, int, str]]:
    """`martinet serve` bound to the simulator: (base URL, account token, process group, /metrics URL); the
    account is called back for every status change (`all`, smsmode's way) or for final statuses only (`final`)."""
    data = Path(tempfile.mkdtemp(prefix=f"martinet-{callback_statuses}-", dir=data))  # fresh for each run
    port = free_port()
    config = data / "martinet.toml"
    config.write_text(
        config_head(data, port, synchronous=synchronous)
        + f"""[engine]
batch_size = 500
[callbacks]
allow_private_networks = true
[[connectors]]
name = "simulator"
type = "smpp"
host = "127.0.0.1"
port = {smpp}
system_id = "martinet"
password = "bench"
binds = 1
bind_mode = "transceiver"
window = {WINDOW}
reconnect_min = 0.5
reconnect_max = 5
"""
    )
    create = [*MARTINET, "account", "create", "bench", "--credits", "100000000", "--config", str(config)]
    token = subprocess.run(
        [*create, "--callback-statuses", callback_statuses],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    binds = _stats(f"{control}/stats").get("active_binds", 0)
    with _process([*MARTINET, "serve", "--config", str(config)], data / "martinet.log") as process:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{admin_base(config)}/healthz")
        _wait_binds(control, binds + 1, data / "martinet.log")
        yield base, token, process.pid, f"{admin_base(config)}/metrics"


KANNEL_CONF = """
group = core
admin-port = {admin}
admin-password = bench
status-password = bench
admin-allow-ip = "127.0.0.1"
smsbox-port = {box}
box-allow-ip = "127.0.0.1"
dlr-storage = internal
log-level = 2
{store}
group = smsc
smsc = smpp
smsc-id = simulator
host = 127.0.0.1
port = {smpp}
transceiver-mode = true
smsc-username = kannel
smsc-password = bench
system-type = ""
max-pending-submits = {window}
enquire-link-interval = 30
reconnect-delay = 1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {box}
sendsms-port = {http}
sendsms-interface = 127.0.0.1
global-sender = 36180
log-level = 2

group = sendsms-user
username = bench
password = bench
max-messages = 1
concatenation = false

group = sms-service
keyword = default
text = "unused"
"""


@contextlib.contextmanager
def kannel(data: Path, smpp: int, control: str, store: str = "none") -> Iterator[tuple[str, list[int]]]:
    """Kannel's bearerbox and smsbox bound to the simulator: (sendsms base URL, their process groups); bearerbox
    keeps no message store (`none`, Kannel's default) or its spool store (`spool`: a file per queued message)."""
    bearerbox, smsbox = ensure_tool("bearerbox", "kannel"), ensure_tool("smsbox", "kannel")
    data = Path(tempfile.mkdtemp(prefix=f"kannel-{store}-", dir=data))  # fresh for each run
    lines = ""
    if store != "none":
        (data / "store").mkdir()
        lines = f"store-type = {store}\nstore-location = {data / 'store'}\n"
    admin, box, http = free_port(), free_port(), free_port()
    config = data / "kannel.conf"
    config.write_text(KANNEL_CONF.format(admin=admin, box=box, smpp=smpp, http=http, window=WINDOW, store=lines))
    binds = _stats(f"{control}/stats").get("active_binds", 0)
    with _process([bearerbox, "-v", "2", str(config)], data / "bearerbox.log", cwd=data) as bearer:
        status = f"http://127.0.0.1:{admin}/status.txt?password=bench"
        wait_http(status)
        with _process([smsbox, "-v", "2", str(config)], data / "smsbox.log", cwd=data) as sms:
            _wait_binds(control, binds + 1, data / "bearerbox.log")
            base = f"http://127.0.0.1:{http}"
            deadline = time.monotonic() + 30
            while True:  # smsbox answers once it is connected to bearerbox
                try:
                    with urllib.request.urlopen(f"{base}/cgi-bin/sendsms", timeout=2):
                        break
                except urllib.error.HTTPError:
                    break  # it answers (refusing a request without credentials): it is up
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"smsbox did not start: {(data / 'smsbox.log').read_text()[-2000:]}"
                        ) from None
                    time.sleep(0.2)
            yield base, [bearer.pid, sms.pid]


def martinet_form(token: str, callback: str, index: int, sent_ms: int) -> bytes:
    """The form of the comparison's `sendSMS.do`: one recipient, a `notification_url` carrying the send time."""
    return urllib.parse.urlencode(
        {
            "accessToken": token,
            "numero": str(FIRST_NUMBER + index),
            "message": TEXT,
            "notification_url": f"{callback}/m?t={sent_ms}",
        }
    ).encode()


def martinet_request(token: str, callback: str) -> Callable[[int, int], bytes]:
    def build(index: int, sent_ms: int) -> bytes:
        body = martinet_form(token, callback, index, sent_ms)
        return (
            b"POST /http/1.6/sendSMS.do HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )

    return build


def kannel_request(callback: str) -> Callable[[int, int], bytes]:
    def build(index: int, sent_ms: int) -> bytes:
        number = FIRST_NUMBER + index
        query = urllib.parse.urlencode(
            {
                "username": "bench",
                "password": "bench",
                "to": str(number),
                "text": TEXT,
                "dlr-mask": "31",
                "dlr-url": f"{callback}/k?t={sent_ms}&n={number}&type=%d",
            }
        )
        return f"GET /cgi-bin/sendsms?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()

    return build


def _martinet_accepted(status: int, body: bytes) -> bool:
    return status == 200 and body.startswith(b"0 | ")


def _kannel_accepted(status: int, body: bytes) -> bool:
    return status == 202 and body.startswith(b"0:")


def measure(
    name: str,
    build: Callable[[int, int], bytes],
    accepted: Callable[[int, bytes], bool],
    base: str,
    callbacks: str,
    control: str,
    *,
    count: int,
    connections: int,
    drain_timeout: float,
    groups: list[int],
    pids: list[int],
    sampled: tuple[Path, int] | None = None,
    metrics: str | None = None,
    counted_in: Path | None = None,
) -> dict[str, Any]:
    """One gateway: `count` requests, then wait for their final callbacks; the figures. With `sampled`
    (a folder, Martinet's process group), py-spy samples each Martinet process meanwhile (`bench.profile`); with
    `metrics` (Martinet's /metrics), the time its processes held SQLite's write lock is read before and after; with
    `counted_in` (a folder), strace counts the system calls of each of the gateway's processes (`bench.syscalls`)."""
    _stats(f"{callbacks}/reset")  # forget the warm-up
    before = _stats(f"{control}/stats")
    lock_before = write_lock_seconds(metrics) if metrics else {}
    pids = [*pids, os.getpid()]
    traced = syscalls.counted(_gateway_processes(groups), counted_in) if counted_in else contextlib.nullcontext()
    with profile.sampled(sampled[1], sampled[0]) if sampled else contextlib.nullcontext(), traced:
        cpu_before = cpu_by_process(groups, pids)
        load, at_load_end, stats = _load_and_drain(
            build,
            accepted,
            base,
            callbacks,
            control,
            before,
            count,
            connections,
            drain_timeout,
            cores=lambda: schedstat.read(_gateway_processes(groups, pids)),
        )
        cpu_s = {k: round(v - cpu_before.get(k, 0.0), 1) for k, v in cpu_by_process(groups, pids).items()}
    after = _stats(f"{control}/stats")
    last = stats.get("last_final") or load.ended
    span = last - load.began
    result = {
        "gateway": name,
        "load": load.summary(),
        "callbacks": {k: v for k, v in stats.items() if k not in ("first", "last", "last_final")},
        "final": stats.get("final", 0),
        "delivered": stats.get("delivered", 0),
        "lost": load.accepted - stats.get("final", 0),
        "span_s": round(span, 2),
        "at_load_end": at_load_end,
        "end_to_end_per_second": round(stats.get("delivered", 0) / span, 1) if span > 0 else 0.0,
        "latency_p50_ms": round(stats.get("latency_p50_ms", float("nan")), 1),
        "latency_p99_ms": round(stats.get("latency_p99_ms", float("nan")), 1),
        "cpu_s": cpu_s,
        "simulator": {
            k: after.get(k, 0) - before.get(k, 0)
            for k in ("submitted", "throttled", "refused", "receipts_sent", "receipts_acked", "receipts_retried")
        },
    }
    if sampled:
        result["stages_cpu_ms_per_message"] = profile.stages_per_message(sampled[0], cpu_s, load.accepted)
    if counted_in:
        result["syscalls_per_message"] = syscalls.per_message(counted_in, load.accepted)
    if metrics:
        lock = {k: round(v - lock_before.get(k, 0.0), 1) for k, v in write_lock_seconds(metrics).items()}
        result["sqlite_write_lock_s"] = lock
        result["sqlite_write_lock_busy"] = round(lock.get("held", 0.0) / span, 2) if span > 0 else 0.0
    print(json.dumps(result, indent=2), flush=True)
    return result


def _gateway_processes(groups: list[int], pids: list[int] | None = None) -> list[tuple[str, int]]:
    """(name, pid) of the gateway's own processes in these groups: Martinet's but its supervisor, Kannel's boxes;
    with `pids`, the benchmark's own processes beside them (`OWN_PROCESSES`), all from one look at `/proc`."""
    found = []
    for name, pid, _cpu in named_processes(groups, pids or []):
        if name in ("bearerbox", "smsbox") or (name.startswith("martinet ") and name != "martinet supervisor"):
            found.append((name.removeprefix("martinet "), pid))
        elif pids is not None and name in OWN_PROCESSES:
            found.append((name, pid))
    return found


#: The benchmark's own processes, beside the gateway under test (as `harness.named_processes` names them).
OWN_PROCESSES = ("simulator", "load generator", "callback receiver")


def write_lock_seconds(metrics: str) -> dict[str, float]:
    """Seconds Martinet's processes have waited for and held SQLite's write lock (`martinet_sqlite_write_lock`)."""
    with urllib.request.urlopen(metrics, timeout=10) as answer:
        text = answer.read().decode()
    return {
        sample.labels["phase"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "martinet_sqlite_write_lock_seconds"
        for sample in family.samples
        if sample.name.endswith("_total")
    }


def _load_and_drain(
    build: Callable[[int, int], bytes],
    accepted: Callable[[int, bytes], bool],
    base: str,
    callbacks: str,
    control: str,
    before: dict[str, Any],
    count: int,
    connections: int,
    drain_timeout: float,
    cores: Callable[[], schedstat.Reading] = dict,
) -> tuple[dlr.LoadResult, dict[str, Any], dict[str, Any]]:
    """The load, where the messages were when it ended, and the receiver's figures once every final callback
    came (or the drain timed out). `cores` reads the processes' time running and waiting for a core
    (`bench.schedstat`), before the load and as its last request is answered."""
    cores_before = cores()
    load = dlr.load(base, build, accepted, count=count, connections=connections)
    cores_after = cores()
    simulator_then, callbacks_then = _stats(f"{control}/stats"), _stats(f"{callbacks}/stats")
    at_load_end = {  # where the messages were when the last request was answered
        "seconds": round(load.ended - load.began, 1),
        "submitted": simulator_then.get("submitted", 0) - before.get("submitted", 0),
        "receipts_acked": simulator_then.get("receipts_acked", 0) - before.get("receipts_acked", 0),
        "callbacks": callbacks_then.get("received", 0),
        "final": callbacks_then.get("final", 0),
        "cores": schedstat.shares(cores_before, cores_after, load.ended - load.began),
    }
    deadline = time.monotonic() + drain_timeout
    stats = _stats(f"{callbacks}/stats")
    while stats.get("final", 0) < load.accepted and time.monotonic() < deadline:
        time.sleep(0.5)
        stats = _stats(f"{callbacks}/stats")
    time.sleep(1.0)  # late duplicates, if any
    return load, at_load_end, _stats(f"{callbacks}/stats")


def run(
    count: int = 20_000,
    connections: int = 64,
    drain_timeout: float = 180.0,
    only: tuple[str, ...] = (),
    synchronous: str = "full",
    callback_statuses: tuple[str, ...] = ("all", "final"),
    kannel_stores: tuple[str, ...] = ("none", "spool"),
    profile_dir: Path | None = None,
    repeats: int = 1,
    syscalls_dir: Path | None = None,
) -> dict[str, Any]:
    """Both gateways against the same simulator, one after the other (Martinet for each choice of callback
    statuses, Kannel without and with its store); figures of each and the ratio to Kannel without a store.

    The compared pair (Martinet calling back every status, Kannel without a store) runs `repeats` times,
    alternated: this machine's speed drifts from one minute to the next, by a third at times, and a drift
    between the two runs of a single pair decides a close comparison on its own. Each pair is kept (`pairs`),
    `martinet` and `kannel` are those of the pair with the median ratio, and `pair_summary` gives each target's
    figure per pair and its median. The other runs (final statuses only, Kannel's spool store) run once, after."""
    data = Path(tempfile.mkdtemp(prefix="martinet-kannel-"))
    results: dict[str, Any] = {
        "count": count,
        "connections": connections,
        "receipt_delay": RECEIPT_DELAY,
        "window": WINDOW,
        "smsc_window": SMSC_WINDOW,
        "synchronous": synchronous,
        "repeats": repeats,
        "machine": machine(),
    }
    statuses = callback_statuses if not only or "martinet" in only else ()
    stores = kannel_stores if not only or "kannel" in only else ()
    try:
        with simulator(data) as (smpp, control, smsc):

            def martinet_run(choice: str) -> dict[str, Any]:
                key = "martinet" if choice == "all" else f"martinet_{choice}"
                with (
                    receiver() as (callbacks, receiver_pid),
                    martinet(data, smpp, control, synchronous, choice) as gw,
                ):
                    base, token, group, metrics = gw
                    build = martinet_request(token, callbacks)
                    # warm-up, not counted: a few sends to other numbers, until their callbacks are in
                    _settle(callbacks, dlr.load(base, build, _martinet_accepted, count=64, connections=8).accepted)
                    return measure(
                        key,
                        _offset(build),
                        _martinet_accepted,
                        base,
                        callbacks,
                        control,
                        count=count,
                        connections=connections,
                        drain_timeout=drain_timeout,
                        groups=[group, smsc],
                        pids=[receiver_pid],
                        sampled=(profile_dir / key, group) if profile_dir else None,
                        metrics=metrics,
                        counted_in=syscalls_dir / key if syscalls_dir else None,
                    )

            def kannel_run(store: str) -> dict[str, Any]:
                key = "kannel" if store == "none" else f"kannel_{store}"
                with receiver() as (callbacks, receiver_pid), kannel(data, smpp, control, store) as (base, groups):
                    build = kannel_request(callbacks)
                    _settle(callbacks, dlr.load(base, build, _kannel_accepted, count=64, connections=8).accepted)
                    return measure(
                        key,
                        _offset(build),
                        _kannel_accepted,
                        base,
                        callbacks,
                        control,
                        count=count,
                        connections=connections,
                        drain_timeout=drain_timeout,
                        groups=[*groups, smsc],
                        pids=[receiver_pid],
                        counted_in=syscalls_dir / key if syscalls_dir else None,
                    )

            pairs: list[dict[str, Any]] = []
            for _ in range(repeats if "all" in statuses or "none" in stores else 0):
                pair: dict[str, Any] = {}
                if "all" in statuses:
                    pair["martinet"] = martinet_run("all")
                if "none" in stores:
                    pair["kannel"] = kannel_run("none")
                pairs.append(pair)
            results.update(median_pair(pairs))
            results["pairs"] = pairs
            for choice in statuses:
                if choice != "all":
                    results[f"martinet_{choice}"] = martinet_run(choice)
            for store in stores:
                if store != "none":
                    results[f"kannel_{store}"] = kannel_run(store)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    results["kannel_version"] = _kannel_version()  # after the run: it may have installed the package
    if "martinet" in results and "kannel" in results:
        results["ratio"] = _ratio(results["martinet"], results["kannel"])
        results["pair_summary"] = pair_summary(pairs)
    return results


def _ratio(martinet: dict[str, Any], kannel: dict[str, Any]) -> float:
    k = kannel["end_to_end_per_second"]
    return round(martinet["end_to_end_per_second"] / k, 2) if k else float("inf")


def median_pair(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """The pair whose ratio is the median one (by Martinet's end to end alone when Kannel did not run); the
    lower middle one of an even number."""
    if not pairs:
        return {}

    def key(pair: dict[str, Any]) -> float:
        if "martinet" in pair and "kannel" in pair:
            return _ratio(pair["martinet"], pair["kannel"])
        return float(next(iter(pair.values()))["end_to_end_per_second"])

    ordered = sorted(pairs, key=key)
    return ordered[(len(ordered) - 1) // 2]


def pair_summary(pairs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each target's figure in every pair, in the order they ran, and their median: the end-to-end ratio, the
    ratio of accepts per second, the ratio of send → final callback medians (Martinet / Kannel: at most 1 is
    the target) and Martinet's CPU per message (ms)."""
    figures: dict[str, list[float]] = {"ratio": [], "accepts_ratio": [], "p50_ratio": [], "cpu_ms": []}
    for pair in pairs:  # unrounded: a verdict must not turn on a rounding (0.996 is below Kannel)
        m, k = pair["martinet"], pair["kannel"]
        figures["ratio"].append(m["end_to_end_per_second"] / max(k["end_to_end_per_second"], 0.1))
        figures["accepts_ratio"].append(m["load"]["accepted_per_second"] / max(k["load"]["accepted_per_second"], 0.1))
        figures["p50_ratio"].append(m["latency_p50_ms"] / max(k["latency_p50_ms"], 0.1))
        figures["cpu_ms"].append(cpu_ms(m, "martinet"))
    return {name: {"each": values, "median": statistics.median(values)} for name, values in figures.items()}


def cpu_ms(figures: dict[str, Any], *prefixes: str) -> float:
    """CPU milliseconds per accepted message of the processes whose names start with one of `prefixes`."""
    seconds = sum(v for name, v in figures["cpu_s"].items() if name.startswith(prefixes))
    return 1000 * float(seconds) / max(1, int(figures["load"]["accepted"]))


def _kannel_version() -> str:
    """The installed Debian package's version, or "(not installed)"."""
    found = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "kannel"], capture_output=True, text=True)
    return found.stdout.strip() or "(not installed)"


def _settle(callbacks: str, accepted: int, timeout: float = 30.0) -> None:
    """Wait for the warm-up's final callbacks (it must have been accepted), so that none comes during the run."""
    if accepted == 0:
        raise RuntimeError("the gateway refused every warm-up request")
    deadline = time.monotonic() + timeout
    while _stats(f"{callbacks}/stats").get("final", 0) < accepted and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)


def _offset(build: Callable[[int, int], bytes]) -> Callable[[int, int], bytes]:
    """The measured requests use numbers after those of the warm-up."""
    return lambda index, sent_ms: build(1000 + index, sent_ms)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.kannel", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--drain-timeout", type=float, default=180.0)
    parser.add_argument("--only", choices=["martinet", "kannel"])
    parser.add_argument("--synchronous", default="full", help="Martinet's sqlite_synchronous (full, normal, off)")
    parser.add_argument(
        "--callback-statuses",
        default="all,final",
        help="Martinet runs: callbacks for every status change (all), for final ones only (final), or both",
    )
    parser.add_argument(
        "--kannel-stores",
        default="none,spool",
        help="Kannel runs: without a message store (none), with its spool store (spool), or both",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="sample Martinet's processes with py-spy into this folder and share their CPU out by stage",
    )
    parser.add_argument(
        "--syscalls",
        type=Path,
        help="count the system calls of each of the gateways' processes with strace into this folder (slows them)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="run the compared pair (every status, Kannel without a store) this many times, alternated",
    )
    args = parser.parse_args()
    only = (args.only,) if args.only else ()
    statuses = tuple(s for s in args.callback_statuses.split(",") if s)
    stores = tuple(s for s in args.kannel_stores.split(",") if s)
    figures = run(
        args.count,
        args.connections,
        args.drain_timeout,
        only,
        args.synchronous,
        statuses,
        stores,
        args.profile,
        args.repeats,
        args.syscalls,
    )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
