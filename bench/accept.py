"""HTTP accept rate of `sendSMS.do` (one recipient, answered once durable) against a bare Starlette endpoint.

All run on the same machine in the same run, wrk (2 threads, 64 connections) sharing the cores with them.
Measured: the default gateway (one HTTP worker on SQLite and the engine dispatching everything accepted to the
sandbox), the accept path alone (`serve --no-engine`), the accept path with two HTTP workers, and the bare
endpoint with two workers (one per core, its best).
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

from bench.harness import WrkResult, free_port, gateway, wrk


@dataclass
class AcceptResult:
    with_engine: WrkResult
    accept_only: WrkResult
    two_workers: WrkResult
    bare: WrkResult
    accepted_in_store: int

    @property
    def ratio(self) -> float:
        """Accept-only rate against the bare endpoint at its best (one worker per core)."""
        return self.accept_only.requests_per_second / self.bare.requests_per_second

    @property
    def ratio_with_engine(self) -> float:
        return self.with_engine.requests_per_second / self.bare.requests_per_second


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


def run(seconds: int = 10) -> AcceptResult:
    def measure(url: str, payload: str) -> WrkResult:
        wrk(url, payload, seconds=2)  # warm-up
        return wrk(url, payload, seconds=seconds)

    with gateway() as gw:  # the default: one HTTP worker on SQLite, and the engine dispatching to the sandbox
        payload = body(gw.token)
        with_engine = measure(f"{gw.base}/http/1.6/sendSMS.do", payload)
        accepted = _count_sends(gw.config)
    with gateway(engine=False) as gw:
        accept_only = measure(f"{gw.base}/http/1.6/sendSMS.do", body(gw.token))
    with gateway(workers=2, engine=False) as gw:
        two_workers = measure(f"{gw.base}/http/1.6/sendSMS.do", body(gw.token))
    with bare_server(2) as base:
        bare = measure(f"{base}/http/1.6/sendSMS.do", payload)
    return AcceptResult(with_engine, accept_only, two_workers, bare, accepted)


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
