"""Callback requests as a client sees them: URL, signature, retry delays, Retry-After, refused addresses."""

from __future__ import annotations

import random

import pytest

from martinet.domain.webhooks import (
    backoff,
    date_reception,
    event_id,
    forbidden_address,
    request_target,
    retry_after,
    signature,
    url_problem,
    verify,
    with_query,
)


def test_parameters_are_appended_after_the_urls_own_query() -> None:
    assert with_query("https://x.example/dlr", {"a": "1 2"}) == "https://x.example/dlr?a=1+2"
    assert with_query("https://x.example/dlr?k=v", {"a": "é"}) == "https://x.example/dlr?k=v&a=%C3%A9"
    assert with_query("https://x.example/dlr?", {"a": "1"}) == "https://x.example/dlr?a=1"
    assert with_query("https://x.example/dlr#frag", {"a": "1"}) == "https://x.example/dlr?a=1"


def test_request_target_is_path_and_query() -> None:
    assert request_target("https://x.example/dlr?x=1&numero=33600") == "/dlr?x=1&numero=33600"
    assert request_target("https://x.example") == "/"


def test_signature_verifies_with_the_secret_only_within_tolerance() -> None:
    header = signature("s3cret", "/dlr?x=1", 1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    assert verify("s3cret", "/dlr?x=1", header, now=1_700_000_100)
    assert not verify("other", "/dlr?x=1", header, now=1_700_000_100)
    assert not verify("s3cret", "/dlr?x=2", header, now=1_700_000_100)
    assert not verify("s3cret", "/dlr?x=1", header, now=1_700_001_000)
    assert not verify("s3cret", "/dlr?x=1", "garbage", now=1_700_000_000)


def test_event_ids_and_dates() -> None:
    assert event_id(42) == "h42"
    # 2024-07-01 10:00:00 UTC is noon in Paris (summer time).
    assert date_reception(1_719_828_000_000, "Europe/Paris") == "2024-07-01 12:00:00"
    assert date_reception(1_719_828_000_000, "Not/AZone") == "2024-07-01 10:00:00"


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    rng = random.Random(1)
    first = [backoff(1, 5, 3600, rng) for _ in range(200)]
    assert all(4 <= d <= 6 for d in first)
    assert all(8 <= backoff(2, 5, 3600, rng) <= 12 for _ in range(50))
    assert backoff(30, 5, 3600, rng) <= 3600


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after("3", 100.0) == 103.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 0.0) == 1445412480.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 2e9) == 2e9  # in the past: no pause
    assert retry_after("soon", 0.0) is None
    assert retry_after(None, 0.0) is None


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fd00::1",
        "::",
        "ff02::1",
        "::ffff:127.0.0.1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert forbidden_address(address) is not None


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert forbidden_address(address) is None


def test_only_http_and_https_urls() -> None:
    assert url_problem("https://x.example/dlr") is None
    assert url_problem("http://x.example:8080/dlr") is None
    assert "scheme" in (url_problem("ftp://x.example/") or "")
    assert "scheme" in (url_problem("file:///etc/passwd") or "")
    assert url_problem("http:///nohost") is not None
    assert url_problem("http://x.example:99999/") is not None
