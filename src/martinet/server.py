"""Processes: N HTTP workers sharing two listening sockets (the API port and the admin listener), one engine,
the callbacks notifier (in a process of its own unless `callbacks.own_process` is false) and, when configured,
the SMSC simulator, under a small supervisor.

The notifier has a process of its own because, inside the engine, its HTTP requests and outbox queries took
more than half of the one core the engine's event loop can use, so dispatch and receipts waited for it
(docs/benchmarks-history.md, the Kannel run).

The parent binds the sockets, so every worker accepts on the same ports and the kernel spreads connections; the
accept path lives entirely in the workers and only writes to the store, never waiting on the engine. The admin
listener (`/healthz`, `/readyz`, `/metrics`) is served by the same workers rather than by a process of its own,
so that a probe reaches a process that also serves the API, and a scrape reads the same metric files. A child
that dies is started again, later after each quick death in a row (`martinet.restarts`); SIGINT/SIGTERM stop
everything in order.

Metrics: a scrape of /metrics reaches one worker, yet must count what every process did. The supervisor gives
its children a fresh `PROMETHEUS_MULTIPROC_DIR` before starting them; each writes its samples to its own files
there and whichever worker answers a scrape aggregates them all (`martinet.metrics`, docs/metrics.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from martinet import collector, logs
from martinet.config import Settings, worker_count
from martinet.restarts import Restarts
from martinet.store.sqlite_library import quiet_memory_statistics

if TYPE_CHECKING:
    import uvicorn
    from starlette.types import ASGIApp

log = logging.getLogger(__name__)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.set_inheritable(True)
    return sock


#: Where the children write their metrics (prometheus_client reads it when first imported, in each child).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextlib.contextmanager
def metrics_directory() -> Iterator[Path]:
    """A fresh folder for the children's metric files, exported to them through the environment.

    An operator's own `PROMETHEUS_MULTIPROC_DIR` is used (emptied first: samples of another run, whose
    process ids may come again, would be added to ours) and kept; otherwise a temporary one is made and
    removed at exit.
    """
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    else:
        path = Path(tempfile.mkdtemp(prefix="martinet-metrics-"))
        os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield path
    finally:
        if not given:
            os.environ.pop(MULTIPROC_ENV, None)
            shutil.rmtree(path, ignore_errors=True)


def _dead(process: BaseProcess, directory: Path) -> None:
    """Drop the gauges only a live process may report (a dead engine's breakers); its counters stay counted."""
    from prometheus_client import multiprocess

    if process.pid is not None:
        multiprocess.mark_process_dead(process.pid, str(directory))  # type: ignore[no-untyped-call]


def with_admin_port(settings: Settings, admin: socket.socket) -> Settings:
    """The settings with the admin listener's real port (the one the kernel chose when `admin.port` is 0): the
    workers recognise admin connections by it."""
    port = int(admin.getsockname()[1])
    return settings.model_copy(update={"admin": settings.admin.model_copy(update={"port": port})})


def run(settings: Settings, sock: socket.socket, admin: socket.socket, *, with_engine: bool = True) -> int:
    """Run workers (and the engine, unless told not to) until a signal arrives; returns the exit status."""
    from martinet.app_console import with_console_secret  # one key for every worker's console cookies

    settings = with_console_secret(settings)
    with metrics_directory() as directory:
        return _supervise(with_admin_port(settings, admin), (sock, admin), with_engine=with_engine, metrics=directory)


def _supervise(
    settings: Settings, sockets: tuple[socket.socket, socket.socket], *, with_engine: bool, metrics: Path
) -> int:
    context = multiprocessing.get_context("spawn")
    data = settings.model_dump(mode="json")
    stopping = False

    def start_http(index: int) -> BaseProcess:
        process = context.Process(target=_http_main, args=(data, sockets), name=f"http-{index}", daemon=False)
        process.start()
        return process

    def start_engine() -> BaseProcess:
        process = context.Process(target=_engine_main, args=(data,), name="engine", daemon=False)
        process.start()
        return process

    def start_smsc() -> BaseProcess:
        process = context.Process(target=_smsc_main, args=(settings.simulator.config,), name="smsc", daemon=False)
        process.start()
        return process

    def start_notifier() -> BaseProcess:
        process = context.Process(target=_notifier_main, args=(data,), name="notifier", daemon=False)
        process.start()
        return process

    def start_sip_trunk() -> BaseProcess:
        process = context.Process(
            target=_sip_trunk_main, args=(settings.simulator.sip_trunk,), name="sip-trunk", daemon=False
        )
        process.start()
        return process

    starters = {"engine": start_engine, "notifier": start_notifier, "smsc": start_smsc, "sip-trunk": start_sip_trunk}
    restarts = Restarts(time.monotonic)
    waiting: dict[str, float] = {}  # children that died, by the monotonic time they may start again

    def start(name: str) -> BaseProcess:
        restarts.started(name)
        starter = starters.get(name)
        return starter() if starter else start_http(int(name.split("-")[1]))

    def on_signal(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    names = [
        *(["smsc"] if settings.simulator.config else []),
        *(["sip-trunk"] if settings.simulator.sip_trunk else []),
        *(["engine"] if with_engine else []),
        *(["notifier"] if with_engine and settings.callbacks.own_process else []),
        *(f"http-{index}" for index in range(worker_count(settings))),
    ]
    children: dict[str, BaseProcess] = {name: start(name) for name in names}
    while not stopping:
        time.sleep(0.2)
        for name, process in list(children.items()):
            if name not in waiting and not process.is_alive() and not stopping:
                pause = restarts.died(name)
                log.warning("%s exited with %s; starting it again in %.1f s", name, process.exitcode, pause)
                _dead(process, metrics)
                waiting[name] = time.monotonic() + pause
        for name, due in list(waiting.items()):
            if due <= time.monotonic() and not stopping:
                del waiting[name]
                children[name] = start(name)
    for process in children.values():
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for process in children.values():
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
    for sock in sockets:
        sock.close()
    return 0


def _http_main(data: dict[str, Any], sockets: tuple[socket.socket, socket.socket]) -> None:
    import uvicorn

    from martinet.app import http_app

    settings = Settings.model_validate(data)
    logs.configure(settings.log_level, text=settings.log_text)
    quiet_memory_statistics()  # before any connection opens (martinet.store.sqlite_library)
    # The store's writer thread and the event loop share the GIL; with the default 5 ms switch interval a
    # finished commit can wait that long to hand its answers back. A short interval keeps accept latency low.
    sys.setswitchinterval(0.0005)
    server = uvicorn.Server(http_config(settings, http_app(settings)))
    collector.settle_after_start()
    _logging_failure("HTTP worker", lambda: server.run(sockets=list(sockets)))


def http_config(settings: Settings, app: ASGIApp) -> uvicorn.Config:
    """The uvicorn configuration of an HTTP worker.

    `X-Forwarded-For` and `X-Forwarded-Proto` are believed only from `http.trusted_proxies`: uvicorn's own
    default trusts them from loopback, so anything on the machine (or a proxy that passes the header through)
    could pick the client address that key network limits check. The protocol is uvicorn's httptools one,
    sending each answer in one write instead of two and closing a connection whose headers are slower than
    `http.head_timeout` (`martinet.api.http_protocol`).
    """
    import uvicorn

    from martinet.api.http_protocol import with_head_timeout

    proxies = settings.http.trusted_proxies
    return uvicorn.Config(
        app,
        loop="uvloop",
        http=with_head_timeout(settings.http.head_timeout),
        lifespan="on",
        access_log=False,
        log_config=None,
        log_level=settings.log_level,
        timeout_graceful_shutdown=5,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=list(proxies),
    )


def _smsc_main(config: str) -> None:
    from martinet.smsc.cli import main

    sys.exit(main(["--config", config]))


def _sip_trunk_main(config: str) -> None:
    from martinet.siptrunk.cli import main

    sys.exit(main(["--config", config]))


def _logging_failure(process: str, run: Callable[[], None]) -> None:
    """`run()`; what ends it by an exception is logged as a line of the log (standard error is JSON lines only,
    for the log shipper; multiprocessing would print the bare traceback) and the process exits with 1, for the
    supervisor to start it again."""
    try:
        run()
    except Exception:
        log.critical("%s failed", process, exc_info=True)
        sys.exit(1)


def _engine_main(data: dict[str, Any]) -> None:
    import uvloop

    settings = Settings.model_validate(data)
    logs.configure(settings.log_level, text=settings.log_text)
    quiet_memory_statistics()
    _logging_failure("engine", lambda: uvloop.run(run_engine(settings)))


async def run_engine(settings: Settings) -> None:
    from martinet.app import engine, open_store

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    db = open_store(settings)
    try:
        built = engine(settings, db, with_notifier=not settings.callbacks.own_process)
        collector.settle_after_start()
        await built.run(stop)
    finally:
        with contextlib.suppress(Exception):
            await db.dispose()


def _notifier_main(data: dict[str, Any]) -> None:
    import uvloop

    settings = Settings.model_validate(data)
    logs.configure(settings.log_level, text=settings.log_text)
    quiet_memory_statistics()
    _logging_failure("callbacks notifier", lambda: uvloop.run(run_notifier(settings)))


async def run_notifier(settings: Settings) -> None:
    """Only the callbacks notifier, until SIGINT/SIGTERM.

    Its owner names this process (`node:pid`), distinct from the engine's; at its start it takes back the
    callbacks its node's earlier notifiers had claimed (`Notifier.run`), which is safe because no other process
    of this node claims callbacks.
    """
    import structlog

    from martinet.app import notifier, open_store
    from martinet.identity import node_name, process_owner

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    node = node_name(settings)
    owner = process_owner(node)
    structlog.contextvars.bind_contextvars(node=node, owner=owner)
    db = open_store(settings)
    try:
        # Its pid in the line: the process has no name of its own in `ps`, and an operator may want to signal it.
        logs.get_logger(__name__).info("callbacks notifier started", pid=os.getpid())
        built = notifier(settings, db, owner=owner, node=node)
        collector.settle_after_start()
        await built.run(stop)
    finally:
        with contextlib.suppress(Exception):
            await db.dispose()
