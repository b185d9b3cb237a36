"""kill -9 right after "Accepté": nothing is lost, and the message goes out once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import tomllib
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.cli.support import martinet
from tests.conftest import free_ports

pytestmark = pytest.mark.slow

MARTINET = [sys.executable, "-m", "martinet.cli"]


def _gateway(tmp_path: Path, tail: str, credits: int = 10_000) -> tuple[Path, str, str]:
    """A gateway's configuration on a SQLite file in `tmp_path` (`tail`: its callbacks and connectors sections),
    with an account `acme` holding `credits`; returns the file, the API's base URL and the account's token."""
    port, admin = free_ports(2)
    config = tmp_path / "martinet.toml"
    config.write_text(
        f'log_level = "warning"\n[database]\nurl = "sqlite:///{tmp_path / "m.db"}"\n'
        f'[http]\nhost = "127.0.0.1"\nport = {port}\nworkers = 1\n[admin]\nport = {admin}\n'
        '[accounts]\nlane = "notification"\n' + tail
    )
    created = martinet("account", "create", "acme", "--credits", str(credits), "--config", config, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    return config, f"http://127.0.0.1:{port}", token


def _start(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*MARTINET, "serve", "--config", str(config)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_ready(config: Path) -> None:
    """Until the gateway of `config` answers on its admin listener."""
    admin = tomllib.loads(config.read_text(encoding="utf-8"))["admin"]["port"]
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{admin}/healthz", timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _get(base: str, endpoint: str, **params: str) -> str:
    query = urllib.parse.urlencode(params)
    with urllib.request.urlopen(f"{base}/http/1.6/{endpoint}?{query}", timeout=5) as reply:
        return reply.read().decode("iso-8859-15")


def test_kill_9_after_accepted_loses_nothing_and_sends_once(tmp_path: Path) -> None:
    config, base, token = _gateway(
        tmp_path,
        '[[connectors]]\nname = "sandbox"\ntype = "sandbox"\noperator_delay = 0.3\nhandset_delay = 0.3\n',
        credits=100,
    )
    server = _start(config)
    try:
        _wait_ready(config)
        body = urllib.parse.urlencode({"accessToken": token, "numero": "0612345678", "message": "crash"}).encode()
        with urllib.request.urlopen(f"{base}/http/1.6/sendSMS.do", data=body, timeout=5) as reply:
            answer = reply.read().decode("iso-8859-15")
        os.killpg(server.pid, signal.SIGKILL)  # the whole gateway, engine included, at once
        server.wait()
        match = re.fullmatch(r"0 \| Accepté \| (\w{12})", answer)
        assert match, answer
        sms_id = match.group(1)

        server = _start(config)
        _wait_ready(config)
        deadline = time.monotonic() + 20
        while _get(base, "compteRendu.do", accessToken=token, smsID=sms_id) != "33612345678 11":
            assert time.monotonic() < deadline, _get(base, "compteRendu.do", accessToken=token, smsID=sms_id)
            time.sleep(0.1)
        assert _get(base, "credit.do", accessToken=token) == "99"
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    import sqlite3

    with sqlite3.connect(tmp_path / "m.db") as conn:
        submissions = conn.execute(
            "select count(*) from parts join messages on parts.message_id = messages.id where send_id = ?", (sms_id,)
        ).fetchone()[0]
        sent = conn.execute(
            "select count(*) from status_history join messages on status_history.message_id = messages.id "
            "where send_id = ? and status_history.code = 0",
            (sms_id,),
        ).fetchone()[0]
    assert submissions == 1
    assert sent == 1


def test_kill_9_with_callbacks_pending_loses_none(tmp_path: Path) -> None:
    import http.server
    import sqlite3
    import threading

    (hook_port,) = free_ports(1)
    config, base, token = _gateway(
        tmp_path,
        "[callbacks]\nallow_private_networks = true\nretry_first = 0.2\nretry_max = 0.5\n"
        '[[connectors]]\nname = "sandbox"\ntype = "sandbox"\noperator_delay = 0\nhandset_delay = 0\n',
        credits=100,
    )
    numbers = ",".join(f"06123456{i:02d}" for i in range(20))
    hook = f"http://127.0.0.1:{hook_port}/dlr"  # nobody listens yet: every callback stays pending
    server = _start(config)
    try:
        _wait_ready(config)
        body = urllib.parse.urlencode(
            {"accessToken": token, "numero": numbers, "message": "colis", "notification_url": hook}
        ).encode()
        with urllib.request.urlopen(f"{base}/http/1.6/sendSMS.do", data=body, timeout=5) as reply:
            assert reply.read().decode("iso-8859-15").startswith("0 | ")
        deadline = time.monotonic() + 20
        while _pending(tmp_path / "m.db") < 40:  # at least two reports of each recipient queued
            assert time.monotonic() < deadline
            time.sleep(0.1)
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()

        received: list[str] = []

        class Hook(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                received.append(self.headers["X-Martinet-Event-Id"])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        receiver = http.server.ThreadingHTTPServer(("127.0.0.1", hook_port), Hook)
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        server = _start(config)
        _wait_ready(config)
        with sqlite3.connect(tmp_path / "m.db") as conn:
            deadline = time.monotonic() + 30
            while conn.execute("select count(*) from callbacks where state != 'delivered'").fetchone()[0]:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            expected = {f"h{row[0]}" for row in conn.execute("select history_id from callbacks")}
        receiver.shutdown()
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    assert len(expected) == 60  # three reports for each of the 20 recipients
    assert set(received) == expected  # none lost across the crash


def _pending(database: Path) -> int:
    import sqlite3

    with sqlite3.connect(database) as conn:
        return int(conn.execute("select count(*) from callbacks where state = 'pending'").fetchone()[0])


class _CarrierThread:
    """Our SMSC simulator on an event loop of its own thread, so that the test can count what it received while a
    gateway in another process is killed and restarted."""

    def __init__(self) -> None:
        import asyncio
        import threading

        from tests.engine.carriers import carrier_config

        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.smsc: Any = None
        self._config = carrier_config(receipt_delay=0.2, max_tracked_messages=1_000_000, seed=11)
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()
        assert self._ready.wait(10)

    async def _run(self) -> None:
        import asyncio

        from martinet.smsc import Simulator

        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with Simulator(self._config) as smsc:
            self.smsc = smsc
            self._ready.set()
            await self._stop.wait()

    def received(self) -> list[str]:
        """The destination of every submit_sm received so far (a copy, taken on the simulator's loop)."""
        import asyncio

        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(self._destinations(), self._loop)
        return future.result(10)

    async def _destinations(self) -> list[str]:
        return [m.destination.addr for m in self.smsc.messages.values()]

    def close(self) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


WINDOW = 64


def test_kill_9_under_load_sends_again_at_most_one_window(tmp_path: Path) -> None:
    """The whole gateway dies mid-campaign while its connector has a window of parts on the wire: after the restart
    every message is sent, and the carrier received at most `window × binds` of them twice (docs/engine.md)."""
    import collections
    import sqlite3

    carrier = _CarrierThread()
    config, base, token = _gateway(
        tmp_path,
        f'[[connectors]]\nname = "carrier"\ntype = "smpp"\nhost = "127.0.0.1"\nport = {carrier.smsc.port}\n'
        f'system_id = "acme"\npassword = "secret"\nwindow = {WINDOW}\nreconnect_min = 0.1\nreconnect_max = 0.5\n',
    )
    numbers = [f"336{n:08d}" for n in range(50_000_000, 50_004_000)]
    server = _start(config)
    try:
        _wait_ready(config)
        body = urllib.parse.urlencode(
            {"accessToken": token, "numero": ",".join(numbers), "message": "campagne"}
        ).encode()
        with urllib.request.urlopen(f"{base}/http/1.6/sendSMS.do", data=body, timeout=30) as reply:
            assert reply.read().decode("iso-8859-15").startswith("0 | ")
        deadline = time.monotonic() + 30
        while len(carrier.received()) < 1200:  # in full flow: the window on the wire, answers being recorded
            assert time.monotonic() < deadline, len(carrier.received())
            time.sleep(0.005)
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        at_kill = len(carrier.received())

        server = _start(config)
        _wait_ready(config)
        deadline = time.monotonic() + 90
        while True:
            with sqlite3.connect(tmp_path / "m.db") as conn:
                waiting = conn.execute(
                    "select count(*) from messages where state not in ('sent', 'delivered')"
                ).fetchone()[0]
            if not waiting:
                break
            assert time.monotonic() < deadline, waiting
            time.sleep(0.2)
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        received = carrier.received()
        carrier.close()
    counts = collections.Counter(received)
    twice = sum(n - 1 for n in counts.values())
    assert set(counts) == set(numbers)  # every message reached the carrier
    assert at_kill < len(numbers)  # the kill happened mid-campaign
    assert twice <= WINDOW, f"{twice} messages sent twice after the crash (window {WINDOW})"
