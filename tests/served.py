"""`martinet serve` as an operator runs it, for tests of what only a real process shows: its logs on standard
error (every child's), its readiness, and `martinet status` beside it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.cli.support import MARTINET, environment
from tests.conftest import free_ports


@dataclass
class Served:
    base: str
    token: str
    config: Path
    output: Path  # standard error (and output) of the whole process group
    process: subprocess.Popen[bytes] | None = None
    admin: str = ""  # the admin listener: /healthz, /readyz, /metrics

    def lines(self) -> list[str]:
        return [line for line in self.output.read_text(encoding="utf-8", errors="replace").splitlines() if line]


def write_config(tmp_path: Path, name: str, top: str = "") -> tuple[Path, int]:
    """A configuration of its own for a gateway (with `[admin] port = ` the admin port, free too) and its port."""
    port, admin = free_ports(2)
    config = tmp_path / f"{name}.toml"
    config.write_text(
        f"""{top}
[database]
url = "sqlite:///{tmp_path / name}.db"
sqlite_synchronous = "normal"

[http]
host = "127.0.0.1"
port = {port}
workers = 1

[admin]
port = {admin}

[engine]
heartbeat = 0.5
poll_interval = 0.02

[[connectors]]
name = "sandbox"
type = "sandbox"
operator_delay = 0.05
handset_delay = 0.1
""",
        encoding="utf-8",
    )
    return config, port


def admin_port(config: Path) -> int:
    return int(tomllib.loads(config.read_text(encoding="utf-8"))["admin"]["port"])


def create_account(config: Path, cwd: Path) -> str:
    created = subprocess.run(
        [*MARTINET, "account", "create", "acme", "--credits", "100", "--lane", "notification", "--config", config],
        cwd=cwd,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    return created.stdout.strip()


@contextlib.contextmanager
def served(tmp_path: Path, name: str, top: str = "", *, engine: bool = True) -> Iterator[Served]:
    """A gateway with an account `acme`, answering (and ready when it has an engine); stopped however the test
    ends, its whole process group with it."""
    config, port = write_config(tmp_path, name, top)
    token = create_account(config, tmp_path)
    output = tmp_path / f"{name}.log"
    running = Served(f"http://127.0.0.1:{port}", token, config, output, admin=f"http://127.0.0.1:{admin_port(config)}")
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [*MARTINET, "serve", "--config", str(config), *([] if engine else ["--no-engine"])],
            cwd=tmp_path,
            env=environment(),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running.process = process
    try:
        probe = "/readyz" if engine else "/healthz"
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"martinet serve exited with {process.returncode}:\n{output.read_text()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(running.admin + probe, timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise AssertionError(f"martinet serve not ready within 30s:\n{output.read_text()}")
            time.sleep(0.1)
        yield running
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
