"""/metrics of `martinet demo` (`server.run`: two HTTP worker processes, an engine, the SMSC simulator).

Every scrape, whichever worker answers it, must count what all processes did: the sends both workers accepted
and the parts the engine submitted. The metric files live in a fresh folder that disappears with the gateway.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.support import ACCEPTED, MARTINET, READY_WITHIN, environment, group_alive
from tests.conftest import free_port_pair, free_ports
from tests.server.test_metrics import parse, value

SENDS = 12
SCRAPES = 30


@contextlib.contextmanager
def gateway(data: Path, cwd: Path, tmp: Path) -> Iterator[tuple[str, str, subprocess.Popen[bytes], Path]]:
    """`martinet demo --workers 2` in its own process group, with `tmp` as its temporary folder; yields the API
    and admin base URLs."""
    port, admin_port, sip = free_ports(3)
    smpp = free_port_pair()
    log = cwd / "gateway.log"
    env = environment(TMPDIR=str(tmp))
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                *MARTINET,
                "demo",
                "--http",
                f"127.0.0.1:{port}",
                "--data",
                str(data),
                "--workers",
                "2",
                "--smpp",
                f"127.0.0.1:{smpp}",
                "--admin",
                f"127.0.0.1:{admin_port}",
                "--sip",
                f"127.0.0.1:{sip}",
            ],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base, admin = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{admin_port}"
    try:
        deadline = time.monotonic() + READY_WITHIN
        while True:
            if process.poll() is not None:
                raise AssertionError(f"martinet demo exited with {process.returncode}:\n{log.read_text()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{admin}/readyz", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield base, admin, process, log
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        deadline = time.monotonic() + 10
        while group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)


def fresh_scrape(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """One scrape on a connection of its own, so that the kernel may hand it to either worker."""
    with httpx.Client(timeout=10) as http:
        reply = http.get(f"{base}/metrics", headers={"connection": "close"})
    assert reply.status_code == 200, reply.text
    return parse(reply.text)


@pytest.mark.slow
def test_every_worker_reports_what_all_processes_counted(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    with gateway(tmp_path / "var", tmp_path, tmp) as (base, admin, _process, log):
        folders = list(tmp.glob("martinet-metrics-*"))
        assert len(folders) == 1, folders
        token = (tmp_path / "var" / "demo-token").read_text(encoding="utf-8").strip()
        pids = set()
        for i in range(SENDS):
            with httpx.Client(timeout=10) as http:
                reply = http.post(
                    f"{base}/http/1.6/sendSMS.do",
                    data={"accessToken": token, "numero": f"06123456{i:02d}", "message": f"hello {i}"},
                    headers={"connection": "close"},
                )
                pids.add(http.get(f"{admin}/healthz", headers={"connection": "close"}).json()["pid"])
            assert ACCEPTED.fullmatch(reply.content.decode("iso-8859-15")), reply.content

        deadline = time.monotonic() + 30
        while True:
            samples = fresh_scrape(admin)
            submitted = value(samples, "martinet_parts_submitted_total", connector="simulator", result="accepted")
            # Door counts reach the shared files within metrics.PUBLISH_DELAY of the last send.
            accepted = value(samples, "martinet_accepts_total", door="smsmode", result="accepted")
            if submitted == accepted == SENDS:
                break
            assert time.monotonic() < deadline, (submitted, log.read_text())
            time.sleep(0.2)

        for _ in range(SCRAPES):
            with httpx.Client(timeout=10) as http:
                pids.add(http.get(f"{admin}/healthz", headers={"connection": "close"}).json()["pid"])
            samples = fresh_scrape(admin)
            assert value(samples, "martinet_accepts_total", door="smsmode", result="accepted") == SENDS
            assert value(samples, "martinet_recipients_accepted_total", door="smsmode") == SENDS
            assert value(samples, "martinet_credits_total", movement="debit") == SENDS
            assert value(samples, "martinet_parts_submitted_total", connector="simulator", result="accepted") == SENDS
            assert value(samples, "martinet_throttle_wait_seconds_count", connector="simulator") >= SENDS
            assert value(samples, "martinet_breaker_state", connector="simulator") == 0
            assert ("martinet_queue_depth", (("lane", "notification"), ("state", "queued"))) in samples
        assert len(pids) == 2, pids  # both workers answered
        assert list(folders[0].glob("*.db")), "no process wrote metric files"
    assert not list(tmp.glob("martinet-metrics-*")), "the metrics folder outlived the gateway"
