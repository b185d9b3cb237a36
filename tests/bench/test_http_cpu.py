"""`python -m bench.http_cpu --in-process` drives the HTTP worker's real app through ASGI, without a server: every
send of both doors is accepted, with the answers a client would get, and its CPU is counted."""

from __future__ import annotations

import pytest

from bench import http_cpu

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("door", ["legacy", "rest"])
def test_every_send_is_accepted_through_the_app_and_its_cpu_counted(door: str) -> None:
    result = http_cpu.measure_in_process(door, count=40, connections=8)

    assert result["accepted"] == 40
    assert result["refused"] == 0
    assert result["cpu_us_per_accept"] > 0
