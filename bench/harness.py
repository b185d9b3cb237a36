"""Starting gateways and load generators for the benchmarks, all on loopback, all stopped afterwards."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MARTINET = [sys.executable, "-m", "martinet.cli"]


def ensure_tool(binary: str, package: str) -> str:
    """The path of `binary`; when it is missing and we are root with apt-get, `apt-get install` its Debian
    `package` first. Raises RuntimeError naming the package when it cannot be had."""
    found = _which(binary)
    if found is not None:
        return found
    apt = shutil.which("apt-get")
    if os.geteuid() != 0 or apt is None:
        raise RuntimeError(f"{binary} is missing: install the Debian package {package} (apt-get install {package})")
    print(f"installing {package} (for {binary}) with apt-get", flush=True)
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    installed = subprocess.run([apt, "install", "-y", "-qq", package], env=environment, check=False)
    if installed.returncode != 0:  # maybe stale package lists
        subprocess.run([apt, "update", "-qq"], env=environment, check=False)
        subprocess.run([apt, "install", "-y", "-qq", package], env=environment, check=False)
    found = _which(binary)
    if found is None:
        raise RuntimeError(f"{binary} is still missing after apt-get install {package}")
    return found


def _which(binary: str) -> str | None:
    """`shutil.which`, also looking in /usr/sbin (Kannel's boxes live there, often off a user's PATH)."""
    return shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_port_besides(port: int) -> int:
    """A free port other than `port` (which `free_port` may give again once it is released)."""
    while True:
        other = free_port()
        if other != port:
            return other


def machine() -> str:
    cores = os.cpu_count()
    memory = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{cores} cores ({cpu}), {memory} RAM, Python {platform.python_version()} ({interpreter_build()}), "
        f"{platform.system()}"
    )


def interpreter_build() -> str:
    """Whether this Python loads its interpreter from a shared libpython: the same code took about a sixth more CPU
    per message on a pyenv build that does (docs/operations.md), so a figure says which kind it was measured on."""
    try:
        shared = b"libpython" in Path("/proc/self/maps").read_bytes()
    except OSError:
        return "build unknown"
    return "libpython shared" if shared else "interpreter in the executable"


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout}s")
        time.sleep(0.1)


@dataclass
class Gateway:
    base: str
    token: str
    data: Path
    config: Path
    group: int = 0  # the process group of `martinet serve` and its children (`cpu_by_process`)


@dataclass
class Configured:
    """A fresh data directory holding a gateway's configuration and database, with one funded account."""

    port: int
    token: str
    data: Path
    config: Path


@contextlib.contextmanager
def configured(
    *,
    workers: int = 0,
    synchronous: str = "full",
    engine_extra: str = "",
    sandbox_delays: tuple[float, float] = (0.1, 0.2),
    extra_toml: str = "",
) -> Iterator[Configured]:
    """The configuration `gateway` serves (a fresh SQLite file, the sandbox connector) and an account `bench`
    holding plenty of credits, made by `martinet account create`; the directory is removed afterwards. Also for
    benchmarks that run the HTTP app in their own process (`bench/http_cpu.py --in-process`)."""
    data = Path(tempfile.mkdtemp(prefix="martinet-bench-"))
    try:
        port = free_port()
        config = data / "martinet.toml"
        config.write_text(
            config_head(data, port, synchronous=synchronous, workers=workers)
            + f"""[engine]
{engine_extra}
[[connectors]]
name = "sandbox"
type = "sandbox"
operator_delay = {sandbox_delays[0]}
handset_delay = {sandbox_delays[1]}
{extra_toml}
"""
        )
        token = create_account(config)
        yield Configured(port, token, data, config)
    finally:
        shutil.rmtree(data, ignore_errors=True)


@contextlib.contextmanager
def gateway(
    *,
    workers: int = 0,
    synchronous: str = "full",
    engine_extra: str = "",
    engine: bool = True,
    sandbox_delays: tuple[float, float] = (0.1, 0.2),
    extra_toml: str = "",
    prepare: Callable[[Path], None] | None = None,
    start_timeout: float = 30.0,
) -> Iterator[Gateway]:
    """A `martinet serve` on a fresh SQLite file, with an account holding plenty of credits.

    `extra_toml` is appended to the configuration; `prepare(database)` runs after the account is created and
    before the gateway starts (to fill tables); `start_timeout`: seconds the gateway has to answer `/healthz`
    (minutes under valgrind)."""
    with configured(
        workers=workers,
        synchronous=synchronous,
        engine_extra=engine_extra,
        sandbox_delays=sandbox_delays,
        extra_toml=extra_toml,
    ) as made:
        if prepare is not None:
            prepare(made.data / "martinet.db")
        process = subprocess.Popen(
            [*MARTINET, "serve", "--config", str(made.config), *([] if engine else ["--no-engine"])],
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=open(made.data / "server.log", "w"),  # noqa: SIM115
        )
        try:
            base = f"http://127.0.0.1:{made.port}"
            wait_http(f"{admin_base(made.config)}/healthz", timeout=start_timeout)
            yield Gateway(base, made.token, made.data, made.config, process.pid)
        finally:
            stop_group(process)


def create_account(config: Path, login: str = "bench") -> str:
    """An account holding plenty of credits on the gateway `config` names (`martinet account create`): its token."""
    return subprocess.run(
        [*MARTINET, "account", "create", login, "--credits", "100000000", "--config", str(config)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def stop_group(process: subprocess.Popen[Any], grace: float = 20) -> None:
    """Stop the process group `process` leads (a gateway and its children): SIGTERM, then SIGKILL after `grace`
    seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def interrupt_all(processes: list[subprocess.Popen[bytes]], grace: float = 60) -> None:
    """Interrupt each of `processes` (SIGINT: a sampler or a tracer writes its file then, and ends), wait for them
    all, and kill one still running after `grace` seconds."""
    for process in processes:
        process.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()


def config_head(
    data: Path, port: int, *, synchronous: str = "full", workers: int = 0, database_url: str | None = None
) -> str:
    """The start every benchmark gateway's TOML shares: quiet logs, a SQLite file in `data` (or `database_url`),
    loopback HTTP on `port` (`workers` 0: the configured default, one on SQLite) and its admin listener on a free
    port (`admin_base`), accounts on the notification lane. Callers add their engine, connector and other
    sections."""
    return f"""
log_level = "warning"
[database]
url = "{database_url or f"sqlite:///{data / 'martinet.db'}"}"
sqlite_synchronous = "{synchronous}"
[http]
host = "127.0.0.1"
port = {port}
workers = {workers}
[admin]
host = "127.0.0.1"
port = {free_port_besides(port)}
[accounts]
lane = "notification"
"""


def admin_base(config: Path) -> str:
    """The admin listener (/healthz, /readyz, /metrics) of the gateway configured by `config`."""
    admin = tomllib.loads(config.read_text(encoding="utf-8"))["admin"]
    return f"http://{admin['host']}:{admin['port']}"


@dataclass
class WrkResult:
    requests_per_second: float
    requests: int
    non_2xx: int
    latency_p50_ms: float
    latency_p99_ms: float


def wrk(url: str, body: str, *, seconds: int = 10, connections: int = 64, threads: int = 2) -> WrkResult:
    """POST the same form body to `url` for `seconds`."""
    script = (
        'wrk.method = "POST"\n'
        f"wrk.body = {_lua_string(body)}\n"
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
    )
    return run_wrk(url, script, seconds=seconds, connections=connections, threads=threads)[0]


def run_wrk(
    url: str, script: str, *, seconds: int = 10, connections: int = 64, threads: int = 2
) -> tuple[WrkResult, str]:
    """Run wrk with a Lua `script`; the parsed figures and wrk's whole output (for what the script printed)."""
    ensure_tool("wrk", "wrk")
    path = Path(tempfile.mkstemp(suffix=".lua")[1])
    path.write_text(script)
    try:
        output = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(path), url],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        path.unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result = WrkResult(
        rps, total, int(non2xx.group(1)) if non2xx else 0, _latency(output, "50%"), _latency(output, "99%")
    )
    return result, output


def _latency(output: str, percentile: str) -> float:
    match = re.search(rf"{percentile}\s+([\d.]+)(us|ms|s)", output)
    if match is None:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


#: `martinet serve` starts the engine, then the callbacks notifier when it has a process of its own (the default,
#: `callbacks.own_process`), then the HTTP worker(s).
_SERVE_CHILDREN = (
    ("engine", "http-0")
    if os.environ.get("MARTINET_CALLBACKS__OWN_PROCESS", "true").lower() in ("false", "0")
    else ("engine", "notifier", "http-0")
)


def cpu_by_process(groups: list[int], pids: list[int]) -> dict[str, float]:
    """CPU seconds (user + system) of the processes in these process groups and of these processes, by name."""
    cpu: dict[str, float] = {}
    for name, _pid, seconds in named_processes(groups, pids):
        cpu[name] = cpu.get(name, 0.0) + seconds
    return cpu


def named_processes(groups: list[int], pids: list[int]) -> list[tuple[str, int, float]]:
    """(name, pid, CPU seconds so far) of the processes in these process groups and of these processes: the
    gateway's processes by role (`martinet engine`, `bearerbox`…), the others by what they are."""
    tick = os.sysconf("SC_CLK_TCK")
    found: list[tuple[int, int, int, float, bytes]] = []  # pid, parent, group, seconds, command line
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(entry.path, "stat").read_text().rpartition(")")[2].split()
            pid, parent, group = int(entry.name), int(fields[1]), int(fields[2])
            if group in groups or pid in pids:
                command = Path(entry.path, "cmdline").read_bytes()
                found.append((pid, parent, group, (int(fields[11]) + int(fields[12])) / tick, command))
    named: list[tuple[str, int, float]] = []
    spawned: dict[int, int] = {}  # children started by multiprocessing, per parent, in order
    for pid, parent, group, seconds, command in sorted(found):
        if pid in pids:
            name = "callback receiver" if b"spawn_main" in command else "load generator"
        elif b"bearerbox" in command or b"smsbox" in command:
            name = Path(command.split(b"\0")[0].decode()).name
        elif b"martinet.smsc" in command:
            name = "simulator"
        elif b"spawn_main" in command:  # martinet serve's children, in the order it starts them
            index = spawned[parent] = spawned.get(parent, -1) + 1
            order = _SERVE_CHILDREN
            name = f"martinet {order[index]}" if index < len(order) else f"martinet http-{index - len(order) + 1}"
        elif pid == group:
            name = "martinet supervisor"
        else:
            name = "other"
        named.append((name, pid, seconds))
    return named
