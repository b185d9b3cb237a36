from __future__ import annotations

import json

import pytest

from martinet.client import SIGNATURE_HEADER, verify_signature
from martinet.domain.webhooks import body_signature, signature
from tests.client.scripted import MESSAGE

pytestmark = pytest.mark.unit

SECRET = "a" * 64
NOW = 1_800_000_000


def test_json_body_signature() -> None:
    body = json.dumps(MESSAGE, ensure_ascii=False).encode()
    header = body_signature(SECRET, body, NOW)
    assert SIGNATURE_HEADER == "X-Martinet-Signature"
    assert verify_signature(SECRET, header, body, now=NOW)
    assert verify_signature(SECRET, header, body.decode(), now=NOW + 10)
    assert not verify_signature(SECRET, header, body + b" ", now=NOW)
    assert not verify_signature("b" * 64, header, body, now=NOW)


def test_non_ascii_body() -> None:
    body = '{"body": {"text": "Réponse € ✓"}}'.encode()
    header = body_signature(SECRET, body, NOW)
    assert verify_signature(SECRET, header, body, now=NOW)
    assert verify_signature(SECRET, header, body.decode(), now=NOW)
    assert verify_signature(SECRET, signature(SECRET, body.decode(), NOW), body, now=NOW)


def test_bytes_are_verified_as_they_are() -> None:
    body = b"\xff\xfe not utf-8"
    assert verify_signature(SECRET, body_signature(SECRET, body, NOW), body, now=NOW)
    assert not verify_signature(SECRET, body_signature(SECRET, body, NOW), body[1:], now=NOW)


def test_get_callback_target() -> None:
    target = "/dlr?site=3&numero=33612345678&date_reception=2026-11-26+19%3A30%3A00&statut=11&smsID=abc&cost=1"
    header = signature(SECRET, target, NOW)
    assert verify_signature(SECRET, header, target, now=NOW)
    assert not verify_signature(SECRET, header, target.replace("statut=11", "statut=13"), now=NOW)


def test_tolerance() -> None:
    header = signature(SECRET, "x", NOW)
    assert verify_signature(SECRET, header, "x", now=NOW + 300)
    assert not verify_signature(SECRET, header, "x", now=NOW + 301)
    assert not verify_signature(SECRET, header, "x", now=NOW - 301)
    assert verify_signature(SECRET, header, "x", now=NOW + 3000, tolerance=3600)


def test_default_now_is_the_clock() -> None:
    import time

    t = int(time.time())
    assert verify_signature(SECRET, signature(SECRET, "x", t), "x")
    assert not verify_signature(SECRET, signature(SECRET, "x", t - 3600), "x")


def test_malformed_headers() -> None:
    good = signature(SECRET, "x", NOW)
    digest = good.rpartition("v1=")[2]
    for header in ["", "garbage", f"v1={digest}", f"t=abc,v1={digest}", f"t={NOW}", f"t={NOW},v1=00"]:
        assert not verify_signature(SECRET, header, "x", now=NOW), header
    assert not verify_signature(SECRET, None, "x", now=NOW)
    assert not verify_signature("", good, "x", now=NOW)
    assert not verify_signature(SECRET, good, b"\xff\xfe", now=NOW)


def test_several_v1_values_during_rotation() -> None:
    good = signature(SECRET, "x", NOW).rpartition("v1=")[2]
    assert verify_signature(SECRET, f"t={NOW},v1={'0' * 64},v1={good}", "x", now=NOW)
    assert verify_signature(SECRET, f" t={NOW}, v1={good} ", "x", now=NOW)
