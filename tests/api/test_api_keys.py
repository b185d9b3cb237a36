"""API keys serve both doors, and their limits (lanes, networks) hold on both, over real HTTP.

Requests come from 127.0.0.1 (loopback), so a key limited to 10.0.0.0/8 is a key used from the wrong place.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from martinet.clock import now_ms
from martinet.domain.keys import InvalidKeyLimit
from martinet.services.keys import KeyService
from martinet.store.accounts import AccountStore, UnknownAccount
from martinet.store.schema import messages
from tests.cli.support import TOKEN, martinet
from tests.gateway import Gateway, running_gateway

SEND = "/sms/v1/messages"
BODY = {"recipient": {"to": "0612345678"}, "body": {"text": "Code 1234"}}


def _keys(gw: Gateway) -> KeyService:
    return KeyService(AccountStore(gw.db, now_ms))


async def _legacy_send(gw: Gateway, key: str) -> str:
    async with gw.client() as http:
        reply = await http.post("/sendSMS.do", data={"accessToken": key, "numero": "0612345678", "message": "x"})
    return reply.content.decode("iso-8859-15")


async def _lanes(gw: Gateway) -> list[str]:
    async with gw.db.reader.connect() as conn:
        return list((await conn.scalars(select(messages.c.lane).order_by(messages.c.id))).all())


async def test_one_key_serves_both_doors(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw:
        assert (await _legacy_send(gw, gw.token)).startswith("0 | ")
        async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}) as http:
            assert (await http.post(SEND, json=BODY)).status_code == 201
        assert await _lanes(gw) == ["notification", "notification"]


async def test_a_key_limited_to_lanes_sends_only_on_them(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw:
        otp = await _keys(gw).create("acme", label="codes", lanes="otp")
        async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": otp.token}) as http:
            # The account's lane (notification) is not allowed: a send naming no flow takes the key's lane.
            default = await http.post(SEND, json=BODY)
            assert default.status_code == 201 and default.json()["channel"]["flow"] == "OTP"
            assert (await http.post(SEND, json={**BODY, "flow": "OTP"})).status_code == 201
            refused = await http.post(SEND, json={**BODY, "flow": "MARKETING"})
            assert refused.status_code == 403
            assert refused.json()["errorCode"] == "LANE_NOT_ALLOWED" and refused.json()["field"] == "flow"
            preview = await http.post(f"{SEND}:preview", json={**BODY, "flow": "TRANSACTIONAL"})
            assert preview.status_code == 403
        assert (await _legacy_send(gw, otp.token)).startswith("0 | ")
        assert await _lanes(gw) == ["otp", "otp", "otp"]
        # Replaying another key's send of another lane (its Idempotency-Key) is refused as sending it would be:
        # the replay would hand this key the message resource of a lane it may not read.
        marketing, key = {**BODY, "flow": "MARKETING"}, {"Idempotency-Key": "campaign-7"}
        async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}) as full:
            first = await full.post(SEND, json=marketing, headers=key)
            assert first.status_code == 201 and first.headers["location"]
            again = await full.post(SEND, json=marketing, headers=key)
            assert again.headers["idempotent-replayed"] == "true"
            assert again.headers["location"] == first.headers["location"]
        async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": otp.token}) as http:
            replayed = await http.post(SEND, json=marketing, headers=key)
            assert replayed.status_code == 403 and replayed.json()["errorCode"] == "LANE_NOT_ALLOWED"


async def test_a_key_limited_to_networks_is_refused_from_elsewhere(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw:
        keys = _keys(gw)
        far = await keys.create("acme", networks="10.0.0.0/8,2001:db8::/32")
        near = await keys.create("acme", networks="127.0.0.0/8")
        async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": far.token}) as http:
            refused = await http.get("/commons/v1/balance")
            assert refused.status_code == 403 and refused.json()["errorCode"] == "NETWORK_NOT_ALLOWED"
        assert await _legacy_send(gw, far.token) == "32 | Erreur d'authentification"
        async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": near.token}) as http:
            assert (await http.get("/commons/v1/balance")).status_code == 200
        assert (await _legacy_send(gw, near.token)).startswith("0 | ")


async def test_a_revoked_key_no_longer_authenticates(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw:  # the test gateway caches keys 0 s
        keys = _keys(gw)
        created = await keys.create("acme", label="temporary")
        async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": created.token}) as http:
            assert (await http.get("/commons/v1/balance")).status_code == 200
            assert await keys.revoke(created.id) is True
            assert await keys.revoke(created.id) is False
            assert (await http.get("/commons/v1/balance")).status_code == 401
        assert (await _legacy_send(gw, created.token)).startswith("32 | ")
        listed = {k.id: k for k in await keys.list("acme")}
        assert listed[created.id].revoked_at is not None and listed[created.id].label == "temporary"


async def test_bad_limits_and_unknown_accounts_are_refused(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw:
        keys = _keys(gw)
        with pytest.raises(InvalidKeyLimit, match="unknown lane"):
            await keys.create("acme", lanes="otp,fast")
        with pytest.raises(InvalidKeyLimit, match="CIDR"):
            await keys.create("acme", networks="10.0.0.0/33")
        with pytest.raises(UnknownAccount):
            await keys.create("nobody")
        assert len(await keys.list("acme")) == 1  # the account's first key only


def test_key_commands(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert martinet("account", "create", "acme", "--data", data, cwd=tmp_path).returncode == 0
    created = martinet(
        "key", "create", "acme", "--label", "ci", "--lanes", "otp,notification", "--networks", "10.1.2.3",
        "--data", data, cwd=tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert TOKEN.fullmatch(created.stdout.strip())
    listed = martinet("key", "list", "acme", "--json", "--data", data, cwd=tmp_path)
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(r["label"], r["lanes"], r["networks"], r["revoked"]) for r in rows] == [
        ("default", "all", "any", None),
        ("ci", "otp,notification", "10.1.2.3/32", None),
    ]
    assert created.stdout.strip() not in listed.stdout  # the key itself is never shown again
    assert martinet("key", "revoke", str(rows[1]["id"]), "--data", data, cwd=tmp_path).returncode == 0
    again = martinet("key", "revoke", str(rows[1]["id"]), "--data", data, cwd=tmp_path)
    assert again.returncode == 1 and "no live key" in again.stderr
    bad = martinet("key", "create", "acme", "--lanes", "fast", "--data", data, cwd=tmp_path)
    assert bad.returncode == 2 and "unknown lane 'fast'" in bad.stderr and bad.stdout == ""
