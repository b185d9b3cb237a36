"""HTTP accept rate of `sendSMS.do` (one recipient, answered once durable) against a bare Starlette endpoint.

Both run with the same number of worker processes on the same machine in the same run; wrk (2 threads, 64
connections) shares the cores with them, as the target says. The gateway's engine runs too, dispatching what
is accepted to the sandbox, so the figure is what a busy gateway sustains, not an idle HTTP layer.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass

from bench.harness import WrkResult, free_port, gateway, wait_http, wrk


@dataclass
class AcceptResult:
    martinet: WrkResult
    bare: WrkResult
    accepted_in_store: int

    @property
    def ratio(self) -> float:
        return self.martinet.requests_per_second / self.bare.requests_per_second


def body(token: str) -> str:
    return urllib.parse.urlencode(
        {"accessToken": token, "numero": "0612345678", "message": "Votre code de connexion est 482913"}
    )


@contextlib.contextmanager
def bare_server(workers: int):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.bare_app:app",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{base}/http/1.6/sendSMS.do", data=b"a=1", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)


def run(seconds: int = 10, workers: int = 2) -> AcceptResult:
    with gateway(workers=workers) as gw:
        wait_http(f"{gw.base}/healthz")
        payload = body(gw.token)
        wrk(f"{gw.base}/http/1.6/sendSMS.do", payload, seconds=2)  # warm-up
        martinet = wrk(f"{gw.base}/http/1.6/sendSMS.do", payload, seconds=seconds)
        accepted = _count_sends(gw.config)
    with bare_server(workers) as base:
        wrk(f"{base}/http/1.6/sendSMS.do", payload, seconds=2)
        bare = wrk(f"{base}/http/1.6/sendSMS.do", payload, seconds=seconds)
    return AcceptResult(martinet, bare, accepted)


def _count_sends(config: object) -> int:
    import sqlite3
    import tomllib
    from pathlib import Path

    url = tomllib.loads(Path(str(config)).read_text())["database"]["url"]
    with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as conn:
        return int(conn.execute("select count(*) from sends").fetchone()[0])


if __name__ == "__main__":
    result = run()
    print(result, f"ratio={result.ratio:.2f}")
