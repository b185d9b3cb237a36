"""A real gateway (HTTP doors, engine, SMSC simulator as carrier) in a thread of its own, and Debian's headless
Chromium driven through chromium-driver, for the console's browser tests.

The gateway runs its own event loop in a thread because Selenium's calls block: the test drives the browser
from the main thread while the server answers it. Nothing is downloaded: the browser and its driver are the
system's (`chromium`, `chromium-driver`); a machine without them skips the tests, naming the packages, except in
CI where that is a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from martinet.app import account_service
from martinet.domain.credits import to_milli
from martinet.smpp.session import SessionConfig
from martinet.smsc import Credential, FinalStatus, Simulator, SimulatorConfig
from tests.gateway import Gateway, running_gateway

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REPLY_NUMBER = "36180"
T = TypeVar("T")
#: Where screenshots go when asked (`MARTINET_CONSOLE_SCREENSHOTS=docs/console`); none are taken otherwise.
SCREENSHOTS = os.environ.get("MARTINET_CONSOLE_SCREENSHOTS")


def require_browser() -> None:
    missing = [p for p, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")) if not Path(p).exists()]
    if missing:
        names = " ".join("chromium" if p == CHROMIUM else "chromium-driver" for p in missing)
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{', '.join(missing)} missing: apt-get install {names}")
        pytest.skip(f"needs Debian's {names} (apt-get install {names})")


class LiveGateway:
    """The gateway and its simulator, served from a background thread's event loop."""

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.gateway: Gateway | None = None
        self.simulator: Simulator | None = None
        self._thread = threading.Thread(target=self._run, name="gateway", daemon=True)

    def __enter__(self) -> LiveGateway:
        self._thread.start()
        if not self._ready.wait(60) or self._error is not None:
            raise RuntimeError(f"the gateway did not start: {self._error!r}")
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    @property
    def base(self) -> str:
        assert self.gateway is not None
        return self.gateway.base

    def call(self, work: Callable[[], Awaitable[T]], timeout: float = 60) -> T:
        """Run a coroutine in the gateway's loop and return its result."""

        async def wrapped() -> T:
            return await work()

        return asyncio.run_coroutine_threadsafe(wrapped(), self._loop).result(timeout)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to the test by __enter__
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        config = SimulatorConfig(
            port=0,
            control_port=None,
            credentials=(Credential("acme", "secret"),),
            intermediate_delay=0.05,
            receipt_delay=0.2,
            seed=7,
            outcomes={FinalStatus.DELIVRD: 1.0},
            session=SessionConfig(enquire_link_interval=1, dead_peer_timeout=3, response_timeout=3),
        )
        simulator = Simulator(config)
        await simulator.start()
        self.simulator = simulator
        try:
            async with running_gateway(
                self._database_url,
                connectors=[
                    {
                        "name": "carrier",
                        "type": "smpp",
                        "host": "127.0.0.1",
                        "port": simulator.port,
                        "system_id": "acme",
                        "password": "secret",
                        "reconnect_min": 0.1,
                        "reconnect_max": 0.5,
                        "throughput": 50,
                    }
                ],
                engine={"heartbeat": 0.3},
                replies={"owners": {REPLY_NUMBER: "acme"}},
                console={"operators": ["acme"]},
            ) as gw:
                await account_service(gw.settings, gw.db).create(
                    "other", credits=to_milli(10), password="other-secret", language="en"
                )
                self.gateway = gw
                self._ready.set()
                await self._stop.wait()
        finally:
            with contextlib.suppress(Exception):
                await simulator.stop()


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Headless Chromium with a fresh profile, driven through Debian's chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="martinet-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--lang=fr-FR",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver: Any, name: str, *, width: int = 1280, height: int = 900) -> None:
    if not SCREENSHOTS:
        return
    folder = Path(SCREENSHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    driver.set_window_size(width, height)
    driver.save_screenshot(str(folder / f"{name}.png"))
    driver.set_window_size(1280, 900)
