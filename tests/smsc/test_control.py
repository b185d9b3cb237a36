"""The control endpoint refuses what a web page could send it: forms and other bodies than JSON, requests
for another host name (DNS rebinding), requests from pages of other origins; its own clients get through."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from martinet.smsc import Simulator
from martinet.smsc.control import allowed_hosts

from .support import config

MO = {"from": "33612345678", "to": "36180", "text": "STOP"}


@pytest.fixture
async def smsc() -> AsyncIterator[Simulator]:
    async with Simulator(config(control_port=0)) as simulator:
        yield simulator


def control_port(smsc: Simulator) -> int:
    port = smsc.control_port
    assert port is not None
    return port


async def raw_request(port: int, head: str, body: bytes = b"", host: str = "127.0.0.1") -> tuple[int, dict[str, Any]]:
    """One HTTP/1.1 exchange written by hand, so that headers (or their absence) are exactly as given."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(head.encode("latin-1") + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


async def test_a_json_post_to_its_own_address_or_localhost_works(smsc: Simulator) -> None:
    port = control_port(smsc)
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"Host": host}) as http:
            answer = await http.post("/inject", json=MO)
            assert answer.status_code == 200, answer.text
    charset = await raw_request(
        port,
        f"POST /inject HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: Application/JSON; charset=utf-8\r\n",
        json.dumps(MO).encode(),
    )
    assert charset == (200, {"parts": 1, "system_id": "acme"})
    same_origin = await raw_request(
        port,
        f"POST /inject HTTP/1.1\r\nHost: localhost:{port}\r\nOrigin: http://localhost:{port}\r\n"
        "Content-Type: application/json\r\n",
        json.dumps(MO).encode(),
    )
    assert same_origin[0] == 200
    assert smsc.stats()["mo_injected"] == 5


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", None],
)
async def test_a_post_that_is_not_json_is_refused_415(smsc: Simulator, content_type: str | None) -> None:
    port = control_port(smsc)
    head = f"POST /inject HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    if content_type is not None:
        head += f"Content-Type: {content_type}\r\n"
    status, body = await raw_request(port, head, json.dumps(MO).encode())  # a JSON body, under another name
    assert status == 415 and "application/json" in body["error"]
    assert smsc.stats()["mo_injected"] == 0


async def test_a_request_for_another_host_is_refused_421(smsc: Simulator) -> None:
    port = control_port(smsc)
    for host in (f"evil.example:{port}", f"127.0.0.1:{port + 1}", "127.0.0.1", f"127.0.0.2:{port}", "localhost"):
        head = f"POST /inject HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        status, body = await raw_request(port, head, json.dumps(MO).encode())
        assert status == 421, host
        assert body == {"error": f"the Host header must name this endpoint, e.g. 127.0.0.1:{port}"}
    no_host = await raw_request(port, "POST /inject HTTP/1.1\r\nContent-Type: application/json\r\n", b"{}")
    assert no_host[0] == 421
    rebound = await raw_request(port, f"GET /stats HTTP/1.1\r\nHost: attacker.example:{port}\r\n")
    assert rebound[0] == 421 and "submitted" not in rebound[1]  # nothing to read through a rebound name either
    assert smsc.stats()["mo_injected"] == 0


async def test_a_request_from_a_page_of_another_origin_is_refused_403(smsc: Simulator) -> None:
    port = control_port(smsc)
    for origin in ("https://evil.example", "null", f"http://evil.example:{port}", f"https://127.0.0.1:{port}"):
        head = (
            f"POST /inject HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: {origin}\r\nContent-Type: application/json\r\n"
        )
        status, body = await raw_request(port, head, json.dumps(MO).encode())
        assert status == 403 and "origin" in body["error"], origin
    assert smsc.stats()["mo_injected"] == 0


async def test_gets_need_the_right_host_but_no_content_type(smsc: Simulator) -> None:
    port = control_port(smsc)
    status, body = await raw_request(port, f"GET /stats HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n")
    assert status == 200 and body["submitted"] == 0
    assert await raw_request(port, f"GET /health HTTP/1.1\r\nHost: localhost:{port}\r\n") == (200, {"status": "ok"})


def test_allowed_hosts_follow_the_address_a_request_came_in_on() -> None:
    assert allowed_hosts("127.0.0.1", ("127.0.0.1", 2776)) == {"127.0.0.1:2776", "localhost:2776"}
    assert allowed_hosts("::1", ("::1", 2776)) == {"[::1]:2776", "localhost:2776"}
    # Listening everywhere: the address the request reached, never the wildcard.
    assert allowed_hosts("0.0.0.0", ("192.0.2.7", 2776)) == {"192.0.2.7:2776"}
    assert allowed_hosts("::", ("::ffff:127.0.0.1", 80)) == {
        "[::ffff:127.0.0.1]:80",
        "[::ffff:127.0.0.1]",
        "127.0.0.1:80",
        "127.0.0.1",
        "localhost:80",
        "localhost",
    }
    assert allowed_hosts("SMSC.test", ("10.0.0.5", 2776)) == {"10.0.0.5:2776", "smsc.test:2776"}


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback")
async def test_on_ipv6_loopback_the_bracketed_address_and_localhost_work() -> None:
    async with Simulator(config(control_host="::1", control_port=0)) as smsc:
        port = control_port(smsc)
        assert port is not None
        async with httpx.AsyncClient(base_url=f"http://[::1]:{port}") as http:
            assert (await http.post("/inject", json=MO)).status_code == 200
            localhost = await http.post("/inject", json=MO, headers={"Host": f"localhost:{port}"})
            assert localhost.status_code == 200
            v4 = await http.post("/inject", json=MO, headers={"Host": f"127.0.0.1:{port}"})
            assert v4.status_code == 421
