"""The admin listener: `/healthz`, `/readyz` and `/metrics` are served there and nowhere on the API port; the
counts `/metrics` reads from the database are reused for `admin.counts_max_age` seconds; `X-Forwarded-For` is
believed only from `http.trusted_proxies`.

Every test runs a real worker (uvicorn with the configuration `martinet serve` gives it, both sockets bound) on
loopback, on both databases.
"""

from __future__ import annotations

import functools
import socket
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from martinet import metrics
from martinet.app import store_counts
from martinet.cli import main
from martinet.clock import now_ms
from martinet.services.keys import KeyService
from martinet.store.accounts import AccountStore
from tests.cli.support import martinet
from tests.conftest import free_ports
from tests.gateway import Gateway, running_gateway
from tests.server.test_metrics import parse, value

ADMIN_PATHS = ("/healthz", "/readyz", "/metrics")


@pytest.mark.parametrize("path", ADMIN_PATHS)
async def test_the_api_port_does_not_serve_the_admin_endpoints(database_url: str, path: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw, httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(f"{gw.base}{path}")).status_code == 404
        assert (await http.get(f"{gw.admin}{path}")).status_code in (200, 503)  # 503: /readyz without an engine


async def test_the_admin_listener_serves_health_readiness_and_metrics(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw, httpx.AsyncClient(base_url=gw.admin) as http:
        health = await http.get("/healthz")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        ready = await http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["failed"] == ["engine", "connectors"]
        scrape = await http.get("/metrics")
        assert scrape.status_code == 200
        assert ("martinet_queue_depth", (("lane", "otp"), ("state", "queued"))) in parse(scrape.text)


async def test_the_admin_listener_does_not_serve_the_api(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw, httpx.AsyncClient(base_url=gw.admin) as http:
        legacy = await http.post("/http/1.6/sendSMS.do", data={"accessToken": gw.token, "numero": "0612345678"})
        assert legacy.status_code == 404
        rest = await http.get("/commons/v1/balance", headers={"X-Api-Key": gw.token})
        assert rest.status_code == 404
        # The same requests on the API port are served.
        assert (await http.get(f"{gw.base}/commons/v1/balance", headers={"X-Api-Key": gw.token})).status_code == 200


async def _schedule_one(gw: Gateway) -> None:
    later = (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=2)).strftime("%d%m%Y-%H:%M")
    async with gw.client() as http:
        reply = await http.post(
            "/sendSMS.do",
            data={"accessToken": gw.token, "numero": "0612345678", "message": "plus tard", "date_envoi": later},
        )
    assert reply.text.startswith("0 | "), reply.text


async def _scheduled(gw: Gateway) -> float:
    async with httpx.AsyncClient(timeout=10) as http:
        reply = await http.get(f"{gw.admin}/metrics")
    return value(parse(reply.text), "martinet_queue_depth", lane="notification", state="scheduled")


async def test_scrapes_reuse_the_database_counts_for_counts_max_age(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False, admin={"counts_max_age": 3600}) as gw:
        assert await _scheduled(gw) == 0
        await _schedule_one(gw)
        assert await _scheduled(gw) == 0  # the counts of the first scrape, not a new count


async def test_the_counts_are_read_again_once_they_are_older_than_max_age(database_url: str) -> None:
    clock = [1_000.0]
    async with running_gateway(database_url, with_engine=False) as gw:
        counts = metrics.StoreCounts(functools.partial(store_counts, gw.db), 10.0, clock=lambda: clock[0])
        depth, _backlog = await counts.read()
        assert depth[("notification", "scheduled")] == 0
        await _schedule_one(gw)
        clock[0] += 9.9
        assert (await counts.read())[0][("notification", "scheduled")] == 0
        clock[0] += 0.1
        assert (await counts.read())[0][("notification", "scheduled")] == 1


# --- Trusted proxies --------------------------------------------------------------------------------------------


async def _key_from_10_network(gw: Gateway) -> str:
    return (await KeyService(AccountStore(gw.db, now_ms)).create("acme", networks="10.0.0.0/8")).token


async def test_x_forwarded_for_from_loopback_is_ignored_by_default(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw:
        key = await _key_from_10_network(gw)
        async with httpx.AsyncClient(base_url=gw.base, timeout=10) as http:
            reply = await http.get("/commons/v1/balance", headers={"X-Api-Key": key, "X-Forwarded-For": "10.1.2.3"})
        assert reply.status_code == 403, reply.text
        assert reply.json()["errorCode"] == "NETWORK_NOT_ALLOWED"


async def test_x_forwarded_for_is_believed_from_a_trusted_proxy(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False, http={"trusted_proxies": ["127.0.0.0/8"]}) as gw:
        key = await _key_from_10_network(gw)
        async with httpx.AsyncClient(base_url=gw.base, timeout=10) as http:
            allowed = await http.get("/commons/v1/balance", headers={"X-Api-Key": key, "X-Forwarded-For": "10.1.2.3"})
            refused = await http.get("/commons/v1/balance", headers={"X-Api-Key": key, "X-Forwarded-For": "192.0.2.9"})
        assert allowed.status_code == 200, allowed.text
        assert refused.status_code == 403, refused.text


# --- Configuration ----------------------------------------------------------------------------------------------


def test_the_admin_listener_needs_a_port_of_its_own(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "martinet.toml"
    config.write_text("[http]\nport = 9000\n[admin]\nport = 9000\n", encoding="utf-8")
    assert main(["config", "check", "--config", str(config)]) == 2
    assert "admin.port must differ from http.port (9000)" in capsys.readouterr().err


def test_serve_says_when_the_admin_port_is_taken(tmp_path: Path) -> None:
    http_port, taken = free_ports(2)
    config = tmp_path / "martinet.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "m.db"}"\n[http]\nport = {http_port}\n[admin]\nport = {taken}\n',
        encoding="utf-8",
    )
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", taken))
        holder.listen()
        served = martinet("serve", "--config", config, cwd=tmp_path)
    assert served.returncode == 2, served.stderr
    assert f"admin: cannot listen on 127.0.0.1:{taken}" in served.stderr
