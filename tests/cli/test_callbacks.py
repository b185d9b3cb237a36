"""`martinet callbacks list|replay|secret` as an operator runs it, on a database holding failed callbacks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
from sqlalchemy import select, update

from martinet.store.schema import accounts, callbacks
from tests.cli.support import martinet
from tests.gateway import running_gateway, wait_for


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return martinet("callbacks", *args, "--config", config, cwd=config.parent)


def _lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


async def test_list_replay_and_secret(database_url: str, tmp_path: Path) -> None:
    # A loopback default URL (set by the operator, so only checked at delivery) with private networks refused:
    # every status change gives a failed callback.
    async with running_gateway(database_url) as gw:
        async with gw.db.write() as conn:
            await conn.execute(update(accounts).values(callback_url="http://127.0.0.1:9/dlr"))
        async with httpx.AsyncClient(base_url=gw.legacy) as http:
            reply = await http.post(
                "/sendSMS.do", data={"accessToken": gw.token, "numero": "0612345678", "message": "x"}
            )
        assert reply.text.startswith("0 | ")

        async def three_failed() -> bool:
            async with gw.db.reader.connect() as conn:
                states = (await conn.execute(select(callbacks.c.state))).scalars().all()
            return states == ["failed"] * 3

        await wait_for(three_failed, timeout=10)

    config = tmp_path / "martinet.toml"
    config.write_text(f'[database]\nurl = "{database_url}"\n', encoding="utf-8")

    listed = _cli(config, "list", "--failed", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = _lines(listed.stdout)
    assert len(rows) == 3
    assert all(r["state"] == "failed" and r["account"] == "acme" and "loopback" in str(r["last_error"]) for r in rows)
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)  # newest first
    assert all(str(r["event_id"]).startswith("h") for r in rows)  # the X-Martinet-Event-Id the receiver saw
    assert len(_lines(_cli(config, "list", "--json", "--limit", "2").stdout)) == 2
    text = _cli(config, "list")
    assert text.returncode == 0 and "failed" in text.stdout and "127.0.0.1:9/dlr" in text.stdout

    one = _cli(config, "replay", str(rows[0]["id"]))
    assert one.returncode == 0 and one.stdout.strip() == "1", one.stderr
    assert [r["id"] for r in _lines(_cli(config, "list", "--pending", "--json").stdout)] == [rows[0]["id"]]

    assert _cli(config, "replay", "--all-failed", "--account", "nobody").returncode == 1
    every = _cli(config, "replay", "--all-failed", "--account", "acme")
    assert every.returncode == 0 and every.stdout.strip() == "2", every.stderr
    pending = _lines(_cli(config, "list", "--pending", "--json").stdout)
    assert len(pending) == 3 and all(r["attempts"] == 0 and r["last_error"] is None for r in pending)
    assert _cli(config, "replay").returncode == 2  # neither IDs nor --all-failed

    secret = _cli(config, "secret", "acme")
    assert secret.returncode == 0 and len(secret.stdout.strip()) == 64
    rotated = _cli(config, "secret", "acme", "--rotate").stdout.strip()
    assert len(rotated) == 64 and rotated != secret.stdout.strip()
    assert _cli(config, "secret", "nobody").returncode == 1
