"""Smaller protections, each against what it guards: API keys limited to lanes read and cancel only their lanes'
sends (both doors); the authentication cache forgets its least recently used entries; the data folder and its
files are private; the REST docs page loads nothing from elsewhere; forked processes draw their own IDs; a
password need not be on the command line; `config check` does not print database passwords."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from martinet.app import account_service, open_store
from martinet.cli import demo, main
from martinet.clock import now_ms
from martinet.config import Settings, load_settings
from martinet.domain.ids import new_send_id
from martinet.services.auth import Authenticator
from martinet.services.keys import KeyService
from martinet.store.accounts import AccountStore
from martinet.store.database import open_database
from martinet.store.migrate import upgrade
from tests.cli.support import martinet
from tests.gateway import Gateway, running_gateway

# --- API keys limited to lanes ------------------------------------------------------------------------------------


def _later() -> datetime:
    return datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=2)


async def _otp_key(gw: Gateway) -> str:
    return (await KeyService(AccountStore(gw.db, now_ms)).create("acme", lanes="otp")).token


async def _rest_send(gw: Gateway, key: str, flow: str) -> str:
    async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": key}, timeout=10) as http:
        reply = await http.post(
            "/sms/v1/messages",
            json={
                "recipient": {"to": "+33612345678"},
                "body": {"text": f"plus tard ({flow})"},
                "flow": flow,
                "sentDate": _later().isoformat(),
            },
        )
    assert reply.status_code == 201, reply.text
    message_id: str = reply.json()["messageId"]
    return message_id


async def test_a_rest_key_limited_to_lanes_reads_and_cancels_only_its_lanes(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw:
        otp_key = await _otp_key(gw)
        theirs = await _rest_send(gw, gw.token, "TRANSACTIONAL")  # the account's full key, another lane
        ours = await _rest_send(gw, otp_key, "OTP")
        async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": otp_key}, timeout=10) as http:
            assert (await http.get(f"/sms/v1/messages/{theirs}")).status_code == 404
            refused = await http.delete(f"/sms/v1/messages/{theirs}")
            assert refused.status_code == 404, refused.text
            listed = [item["messageId"] for item in (await http.get("/sms/v1/messages")).json()["items"]]
            assert listed == [ours]
            assert (await http.get(f"/sms/v1/messages/{ours}")).status_code == 200
            assert (await http.delete(f"/sms/v1/messages/{ours}")).status_code == 200
        async with httpx.AsyncClient(base_url=gw.base, headers={"X-Api-Key": gw.token}, timeout=10) as http:
            still = (await http.get(f"/sms/v1/messages/{theirs}")).json()
            assert still["status"]["value"] == "SCHEDULED", still  # the refused cancel left it alone
            listed = [item["messageId"] for item in (await http.get("/sms/v1/messages")).json()["items"]]
            assert sorted(listed) == sorted([theirs, ours])


async def test_an_smsmode_key_limited_to_lanes_reads_and_cancels_only_its_lanes(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
        otp_key = await _otp_key(gw)
        later = _later().strftime("%d%m%Y-%H:%M")

        async def send(token: str) -> str:
            reply = await http.post(
                "/sendSMS.do",
                data={"accessToken": token, "numero": "0612345678", "message": "plus tard", "date_envoi": later},
            )
            assert reply.text.startswith("0 | "), reply.text
            return reply.text.rsplit(" | ", 1)[1].strip()

        async def call(endpoint: str, token: str, **params: str) -> str:
            reply = await http.get(f"/{endpoint}", params={"accessToken": token, **params})
            return reply.content.decode("iso-8859-15")

        ours = await send(otp_key)  # the key's lane
        theirs = await send(gw.token)  # later, the account's lane (notification), which the OTP key may not use
        assert (await call("compteRendu.do", otp_key, smsID=theirs)).startswith("61")
        assert (await call("smsStatus.do", otp_key, smsID=theirs)).startswith("61")
        assert (await call("deleteSMS.do", otp_key, smsID=theirs)).startswith("61")
        assert [line.split(" | ")[0] for line in (await call("smsList.do", otp_key)).splitlines()] == [ours]
        assert (await call("compteRendu.do", otp_key, smsID=ours)).startswith("33612345678 ")
        # By number: the latest scheduled send to it that the key may see (theirs is later, and not seen).
        assert (await call("deleteSMS.do", otp_key, numero="0612345678")).startswith("0 | ")
        # The refused cancellations left the other lane's send scheduled; the full key still sees both.
        assert (await call("smsStatus.do", gw.token, smsID=theirs)).startswith("10 | ")
        listed = [line.split(" | ")[0] for line in (await call("smsList.do", gw.token)).splitlines()]
        assert listed == [theirs]  # ours was cancelled


# --- The authentication cache -------------------------------------------------------------------------------------


async def test_a_full_authentication_cache_forgets_its_least_recently_used_key(database_url: str) -> None:
    db = open_database(database_url)
    try:
        await upgrade(db)
        accounts = AccountStore(db, now_ms)
        await account_service(Settings(), db).create("acme")
        keys = KeyService(accounts)
        created = [await keys.create("acme", label=f"k{i}") for i in range(4)]
        auth = Authenticator(accounts, cache_seconds=3600, max_entries=3)
        for key in created[:3]:
            assert await auth.by_token(key.token) is not None
        assert await auth.by_token(created[0].token) is not None  # k0 used again: k1 is now the oldest
        assert await auth.by_token(created[3].token) is not None  # a fourth key: one entry must go
        for key in created:
            assert await keys.revoke(key.id)
        # Cached entries still answer (the cache lives `cache_seconds`); only k1 was forgotten and is looked up.
        assert await auth.by_token(created[0].token) is not None
        assert await auth.by_token(created[2].token) is not None
        assert await auth.by_token(created[3].token) is not None
        assert await auth.by_token(created[1].token) is None
    finally:
        await db.dispose()


# --- Private files ------------------------------------------------------------------------------------------------


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask (022: files world-readable), whatever the test runner's."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
async def test_the_demo_data_folder_and_its_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "var"
    settings = demo.settings_for(data, create=True, smpp=("127.0.0.1", 2775))
    await demo.prepare(settings, data)
    assert _mode(data) == 0o700
    for name in ("martinet.toml", "smsc.toml", "demo-token", "martinet.db"):
        assert _mode(data / name) == 0o600, name


@pytest.mark.usefixtures("open_umask")
async def test_a_new_sqlite_database_and_its_wal_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "martinet.db"
    db = open_database(f"sqlite:///{path}")
    try:
        await upgrade(db)
        async with db.writer.begin() as conn:  # a write, so that the -wal and -shm files exist
            from sqlalchemy import text

            await conn.execute(text("CREATE TABLE probe (x INTEGER)"))
        assert _mode(path.parent) == 0o700
        files = [path, path.with_name("martinet.db-wal"), path.with_name("martinet.db-shm")]
        assert all(file.exists() for file in files), list(path.parent.iterdir())
        assert {file.name: _mode(file) for file in files} == {file.name: 0o600 for file in files}
    finally:
        await db.dispose()


# --- The REST docs page -------------------------------------------------------------------------------------------


async def test_the_docs_page_loads_only_files_the_gateway_serves(database_url: str) -> None:
    async with running_gateway(database_url, with_engine=False) as gw, httpx.AsyncClient(base_url=gw.base) as http:
        page = await http.get("/sms/v1/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        urls = re.findall(r'(?:src|href)="([^"]*)"', page.text)
        assert urls and all(url.startswith("/") and not url.startswith("//") for url in urls), urls
        assert "persistAuthorization" not in page.text
        types = {}
        for url in urls:
            reply = await http.get(url)
            assert reply.status_code == 200, url
            assert "persistAuthorization" not in reply.text or url.endswith("bundle.js")
            types[url.rsplit("/", 1)[1]] = reply.headers["content-type"].split(";")[0]
        assert types["swagger-ui-bundle.js"] == "text/javascript"
        assert types["swagger-ui.css"] == "text/css"
        assert "SwaggerUIBundle" in (await http.get("/sms/v1/docs/swagger-ui-bundle.js")).text
        start = [url for url in urls if url.endswith("start.js")]
        assert start, urls
        script = (await http.get(start[0])).text
        assert "/sms/v1/openapi.json" in script and "persistAuthorization" not in script
        assert (await http.get("/sms/v1/docs/../../../etc/passwd")).status_code == 404
        assert (await http.get("/sms/v1/docs/index.html")).status_code == 404


# --- IDs after fork -----------------------------------------------------------------------------------------------


def test_a_forked_child_draws_other_ids_than_its_parent() -> None:
    at = 1_780_000_000_000  # one instant for both: only their random part can tell them apart
    new_send_id(at)  # the pool now holds random bytes a child inherits
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one ID to the parent, then leave without running pytest's exit handlers
        try:
            os.write(write, new_send_id(at).encode())
        finally:
            os._exit(0)
    os.close(write)
    try:
        child = os.read(read, 64).decode()
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert len(child) == 12
    parent = new_send_id(at)
    assert parent[:5] == child[:5] and parent != child


# --- Passwords and database URLs on the command line --------------------------------------------------------------


def _config(tmp_path: Path, url: str | None = None) -> Path:
    config = tmp_path / "martinet.toml"
    database = url or f"sqlite:///{tmp_path / 'm.db'}"
    config.write_text(f'[database]\nurl = "{database}"\n', encoding="utf-8")
    return config


async def test_account_create_reads_the_password_from_standard_input(tmp_path: Path) -> None:
    config = _config(tmp_path)
    created = martinet(
        "account", "create", "acme", "--password", "-", "--config", config, cwd=tmp_path, stdin=b"s3cret pw\n"
    )
    assert created.returncode == 0, created.stderr
    empty = martinet("account", "create", "other", "--password", "-", "--config", config, cwd=tmp_path, stdin=b"")
    assert empty.returncode == 2 and "no password" in empty.stderr
    db = open_store(load_settings(config))
    try:
        auth = Authenticator(AccountStore(db, now_ms), cache_seconds=0)
        assert await auth.by_password("acme", "s3cret pw") is not None
        assert await auth.by_password("acme", "-") is None
        assert await AccountStore(db, now_ms).by_login("other") is None
    finally:
        await db.dispose()


def test_config_check_hides_the_database_password(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, "postgresql://martinet:s3cr3t-pw@db.internal:5432/sms")
    assert main(["config", "check", "--config", str(config)]) == 0
    said = capsys.readouterr().err
    assert "s3cr3t-pw" not in said
    assert "postgresql://martinet:***@db.internal:5432/sms" in said
