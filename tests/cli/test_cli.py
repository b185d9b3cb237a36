"""The `martinet` command as an operator runs it: real subprocesses, real files, a real demo gateway.

What a script reads goes to standard output alone (a token, JSON lines); messages go to standard error and
failures exit non-zero. The account commands are checked against the database they wrote, without starting a
gateway; `martinet demo` is started, used over HTTP, stopped with SIGTERM and started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from martinet.services.credentials import token_hash, verify_password
from martinet.store.accounts import AccountStore
from martinet.store.database import open_database
from tests.cli.support import ACCEPTED, MARTINET, READY_WITHIN, TOKEN, environment, group_alive, martinet, martinet_all
from tests.conftest import free_port_pair, free_ports


@dataclass(frozen=True)
class StoredAccount:
    login: str
    balance: int
    ledger: int
    password_hash: str | None


def stored_account(database_url: str, token: str) -> StoredAccount | None:
    """The account an access token opens, read from the database the command wrote (millicredits)."""

    async def read() -> StoredAccount | None:
        db = open_database(database_url)
        try:
            store = AccountStore(db, lambda: 0)
            account = await store.by_token_hash(token_hash(token))
            if account is None:
                return None
            found = await store.by_login(account.login)
            assert found is not None
            balance, ledger = await store.balance(account.id), await store.ledger_sum(account.id)
            return StoredAccount(account.login, balance, ledger, found[1])
        finally:
            await db.dispose()

    return asyncio.run(read())


# --- account -------------------------------------------------------------------------------------------------


def test_account_create_prints_only_the_token_and_credit_moves_the_balance(tmp_path: Path) -> None:
    data = tmp_path / "data"
    created = martinet("account", "create", "alice", "--credits", "50", "--data", data, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert TOKEN.fullmatch(created.stdout.removesuffix("\n")), created.stdout
    assert created.stdout.count("\n") == 1
    token = created.stdout.strip()
    url = f"sqlite:///{data / 'martinet.db'}"
    assert stored_account(url, token) == StoredAccount("alice", 50_000, 50_000, None)

    added = martinet("account", "credit", "alice", "25", "--data", data, cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert added.stdout == ""
    assert "alice: balance 75" in added.stderr

    refused = martinet("account", "credit", "alice", "-100", "--data", data, cwd=tmp_path)
    assert refused.returncode != 0
    assert "below zero" in refused.stderr
    assert refused.stdout == ""
    assert stored_account(url, token) == StoredAccount("alice", 75_000, 75_000, None)


def test_account_create_twice_is_refused_and_keeps_the_first(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = martinet("account", "create", "bob", "--credits", "10", "--data", data, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    again = martinet("account", "create", "bob", "--credits", "999", "--data", data, cwd=tmp_path)
    assert again.returncode != 0
    assert again.stdout == ""  # no token a script could mistake for a new account's
    assert "'bob' exists already" in again.stderr
    assert stored_account(f"sqlite:///{data / 'martinet.db'}", first.stdout.strip()) == StoredAccount(
        "bob", 10_000, 10_000, None
    )


def test_account_credit_refuses_unknown_login_and_bad_amount(tmp_path: Path) -> None:
    unknown, not_a_number, too_fast = martinet_all(
        [
            ["account", "credit", "nobody", "5", "--data", tmp_path / "data"],
            ["account", "credit", "carol", "lots", "--data", tmp_path / "other"],
            ["account", "update", "carol", "--rate-limit", "2000000", "--data", tmp_path / "other"],
        ],
        cwd=tmp_path,
    )
    assert unknown.returncode != 0
    assert "no account named 'nobody'" in unknown.stderr
    assert not_a_number.returncode != 0
    assert "'lots' is not an amount of credits" in not_a_number.stderr
    assert too_fast.returncode != 0  # the bounds of the REST door and the console: one rule in the service
    assert "expected sends per second from 0 to 1,000,000" in too_fast.stderr


def test_account_commands_with_a_config_file(tmp_path: Path) -> None:
    database = tmp_path / "elsewhere.db"
    config = tmp_path / "martinet.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{database}"\n', encoding="utf-8")
    created = martinet(
        "account", "create", "dave", "--credits", "50", "--password", "s3cret", "--config", config, cwd=tmp_path
    )
    assert created.returncode == 0, created.stderr
    assert TOKEN.fullmatch(created.stdout.strip())
    assert database.exists()
    account = stored_account(f"sqlite:///{database}", created.stdout.strip())
    assert account is not None
    assert (account.login, account.balance) == ("dave", 50_000)
    assert account.password_hash is not None
    assert verify_password("s3cret", account.password_hash)
    assert not verify_password("wrong", account.password_hash)

    # The account lives in the configured database, not in a data folder's.
    credited, other = martinet_all(
        [
            ["account", "credit", "dave", "25.5", "--config", config],
            ["account", "credit", "dave", "25", "--data", tmp_path / "data"],
        ],
        cwd=tmp_path,
    )
    assert credited.returncode == 0, credited.stderr
    assert "dave: balance 75.5" in credited.stderr
    assert other.returncode != 0
    assert "no account named 'dave'" in other.stderr


# --- text analyze --------------------------------------------------------------------------------------------


def analysis(encoding: str, segments: int, characters: int, units: int, text: str) -> dict[str, object]:
    return {"encoding": encoding, "segments": segments, "characters": characters, "units": units, "text": text}


ANALYSES: list[tuple[list[str], dict[str, object]]] = [
    (["Hello"], analysis("GSM-7", 1, 5, 5, "Hello")),
    # classe 2 keeps to GSM 03.38: the emoji becomes "?", as smsmode sends it.
    (["Hello 😀"], analysis("GSM-7", 1, 7, 7, "Hello ?")),
    # The emoji is outside the BMP: one character, two UCS-2 units.
    (["Hello 😀", "--non-gsm", "ucs2"], analysis("UCS-2", 1, 7, 8, "Hello 😀")),
    (["Hello 😀", "--classe", "9"], analysis("UCS-2", 1, 7, 8, "Hello 😀")),
    (["Tête-à-tête œuvre", "--non-gsm", "transliterate"], analysis("GSM-7", 1, 18, 18, "Tete-à-tete oeuvre")),
    (["a" * 161], analysis("GSM-7", 2, 161, 161, "a" * 161)),
]


def test_text_analyze(tmp_path: Path) -> None:
    """Each case is its own command line; they run side by side and every mismatch is listed."""
    results = martinet_all([["text", "analyze", *args] for args, _ in ANALYSES], cwd=tmp_path)
    problems = []
    for (args, expected), result in zip(ANALYSES, results, strict=True):
        if result.returncode != 0 or result.stdout.count("\n") != 1:
            problems.append((args, result.returncode, result.stdout, result.stderr))
        elif json.loads(result.stdout) != expected:
            problems.append((args, json.loads(result.stdout), expected))
    assert problems == []


def test_text_analyze_jsonl_keeps_order_and_reports_bad_lines(tmp_path: Path) -> None:
    lines = [
        '"Hello"',
        '"Caf\\u00e9 \\u20ac"',
        "not json",
        '"\\ud83d\\ude00 ok"',  # an escaped surrogate pair is one character
        "42",
        '"x\\ud800y"',  # a lone surrogate cannot be sent: it is marked, not fatal
        "",
        json.dumps("a" * 160),  # one part holds 160 septets...
        json.dumps("€" * 80),  # ...or 80 extension characters of two septets
        json.dumps("€" * 81),
        '"last"',
    ]
    result = martinet("text", "analyze", "--jsonl", cwd=tmp_path, stdin="\n".join(lines).encode() + b"\n")
    assert result.returncode != 0
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        analysis("GSM-7", 1, 5, 5, "Hello"),
        analysis("GSM-7", 1, 6, 7, "Café €"),
        analysis("GSM-7", 1, 4, 4, "? ok"),
        analysis("GSM-7", 1, 3, 3, "x?y"),
        analysis("GSM-7", 1, 160, 160, "a" * 160),
        analysis("GSM-7", 1, 80, 160, "€" * 80),
        analysis("GSM-7", 2, 81, 162, "€" * 81),
        analysis("GSM-7", 1, 4, 4, "last"),
    ]
    assert "line 3: not JSON" in result.stderr
    assert "line 5: expected a JSON string" in result.stderr
    assert "Traceback" not in result.stderr


def test_text_analyze_jsonl_all_good_exits_zero(tmp_path: Path) -> None:
    """With --non-gsm ucs2 each line gets its own encoding: GSM text stays GSM-7, the rest goes UCS-2."""
    stdin = (json.dumps("Café 5 €") + "\n" + json.dumps("été 😀") + "\n").encode()
    result = martinet("text", "analyze", "--jsonl", "--non-gsm", "ucs2", cwd=tmp_path, stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [
        analysis("GSM-7", 1, 8, 9, "Café 5 €"),
        analysis("UCS-2", 1, 5, 6, "été 😀"),
    ]


def test_text_analyze_jsonl_survives_a_line_that_is_not_utf8(tmp_path: Path) -> None:
    """A Latin-1 line (a French file saved on Windows) is one bad line, under a UTF-8 locale such as fr_FR.UTF-8.

    Python reads stdin strictly in such locales; PYTHONIOENCODING reproduces that here, where only C.UTF-8 (which
    Python reads leniently) may be installed.
    """
    stdin = b'"ok1"\n"caf\xe9"\n"ok2"\n'
    result = martinet(
        "text", "analyze", "--jsonl", cwd=tmp_path, stdin=stdin, env=environment(PYTHONIOENCODING="utf-8:strict")
    )
    assert "Traceback" not in result.stderr
    assert [json.loads(line)["text"] for line in result.stdout.splitlines()] == ["ok1", "ok2"]
    assert "line 2" in result.stderr
    assert result.returncode != 0


def test_text_analyze_without_text_is_a_usage_error(tmp_path: Path) -> None:
    result = martinet("text", "analyze", cwd=tmp_path)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "give a TEXT or --jsonl" in result.stderr


# --- config check --------------------------------------------------------------------------------------------


def test_config_check_accepts_a_valid_file(tmp_path: Path) -> None:
    config = tmp_path / "ok.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "x.db"}"\n\n[http]\nport = 9000\n', encoding="utf-8")
    result = martinet("config", "check", "--config", config, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "configuration is valid" in result.stderr
    assert f"sqlite:///{tmp_path / 'x.db'}" in result.stderr
    assert ":9000" in result.stderr


def test_a_database_that_cannot_be_reached_is_told_in_one_line_without_its_password(tmp_path: Path) -> None:
    """A server refusing connections (a port nobody listens on) or a SQLite file whose folder cannot be made: the
    commands that open the store say so in one line naming the URL, its password hidden, and exit 1; `serve` too,
    before it starts anything. `status` keeps its report, which says what the database answered."""
    nobody = socket.socket()
    nobody.bind(("127.0.0.1", 0))  # bound, never listening: connections to it are refused
    port = nobody.getsockname()[1]
    down = f"postgresql://postgres:s3cret@127.0.0.1:{port}/martinet"
    config = tmp_path / "ok.toml"
    config.write_text("", encoding="utf-8")
    try:
        results = martinet_all(
            [
                ["account", "show", "acme", "--config", config],
                ["serve", "--config", config],
                ["messages", "--account", "acme", "--config", config],
            ],
            cwd=tmp_path,
            env=environment(MARTINET_DATABASE__URL=down),
        )
        status = martinet("status", "--config", config, cwd=tmp_path, env=environment(MARTINET_DATABASE__URL=down))
    finally:
        nobody.close()
    for result in results:
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith(
            f"martinet: the database cannot be reached (postgresql://postgres:***@127.0.0.1:{port}/martinet): "
            "ConnectionRefusedError"
        ), result.stderr
        assert "s3cret" not in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.splitlines()) == 1, result.stderr
    assert status.returncode == 1 and "store       FAILED: the database cannot be read" in status.stdout + status.stderr

    blocked = tmp_path / "a-file"
    blocked.write_text("", encoding="utf-8")  # a file where the database's folder should be
    result = martinet(
        "account",
        "show",
        "acme",
        "--config",
        config,
        cwd=tmp_path,
        env=environment(MARTINET_DATABASE__URL=f"sqlite:///{blocked / 'sub' / 'martinet.db'}"),
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(f"martinet: the database cannot be opened (sqlite:///{blocked}"), result.stderr
    assert "Traceback" not in result.stderr


BAD_CONFIGS = {
    "port-not-a-number": ('[http]\nport = "x"\n', "http.port"),
    "unknown-option": ("[http]\nporte = 1\n", "http.porte"),
    "port-out-of-range": ("[http]\nport = 70000\n", "http.port"),
    "unknown-database": ('[database]\nurl = "mysql://db"\n', "database.url"),
    "invalid-toml": ("[http\nport = 1\n", "not valid TOML"),
}


def test_config_check_names_the_mistake(tmp_path: Path) -> None:
    for name, (content, _) in BAD_CONFIGS.items():
        (tmp_path / f"{name}.toml").write_text(content, encoding="utf-8")
    results = martinet_all(
        [["config", "check", "--config", tmp_path / f"{name}.toml"] for name in BAD_CONFIGS], cwd=tmp_path
    )
    for (name, (_, expected)), result in zip(BAD_CONFIGS.items(), results, strict=True):
        assert result.returncode != 0, name
        assert f"{tmp_path / name}.toml: {expected}" in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.stderr, name
        assert "configuration is valid" not in result.stderr, name


def test_config_check_missing_file(tmp_path: Path) -> None:
    result = martinet("config", "check", "--config", tmp_path / "nope.toml", cwd=tmp_path)
    assert result.returncode != 0
    assert "no such file" in result.stderr


def test_config_check_reports_a_bad_environment_override(tmp_path: Path) -> None:
    config = tmp_path / "ok.toml"
    config.write_text("[http]\nport = 9000\n", encoding="utf-8")
    result = martinet(
        "config", "check", "--config", config, cwd=tmp_path, env=environment(MARTINET_HTTP__PORT="notanumber")
    )
    assert result.returncode != 0
    assert "http.port" in result.stderr
    assert "valid integer" in result.stderr
    good = martinet("config", "check", "--config", config, cwd=tmp_path, env=environment(MARTINET_HTTP__PORT="9100"))
    assert good.returncode == 0, good.stderr
    assert ":9100" in good.stderr  # the environment wins over the file


def test_config_check_names_the_environment_variable_at_fault(tmp_path: Path) -> None:
    config = tmp_path / "ok.toml"
    config.write_text("", encoding="utf-8")
    result = martinet(
        "config", "check", "--config", config, cwd=tmp_path, env=environment(MARTINET_HTTP__PORT="notanumber")
    )
    assert result.returncode != 0
    assert "MARTINET_HTTP__PORT" in result.stderr


# --- demo ----------------------------------------------------------------------------------------------------


@dataclass
class Demo:
    base: str
    process: subprocess.Popen[bytes]
    stderr_path: Path
    admin: str = ""
    returncode: int | None = None

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def legacy(self, endpoint: str, **params: str) -> bytes:
        reply = httpx.post(f"{self.base}/http/1.6/{endpoint}", data=params, timeout=10)
        assert reply.status_code == 200
        return reply.content


@contextlib.contextmanager
def demo(data: Path, cwd: Path, name: str) -> Iterator[Demo]:
    """`martinet demo` in its own process group, ready to answer; stopped with SIGTERM however the test ends."""
    port, admin, sip = free_ports(3)
    smpp = free_port_pair()  # the demo's simulator (its control endpoint takes the next port)
    stderr_path = cwd / f"{name}.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [
                *MARTINET,
                "demo",
                "--http",
                f"127.0.0.1:{port}",
                "--data",
                str(data),
                "--workers",
                "1",
                "--smpp",
                f"127.0.0.1:{smpp}",
                "--admin",
                f"127.0.0.1:{admin}",
                "--sip",
                f"127.0.0.1:{sip}",
            ],
            cwd=cwd,
            env=environment(),
            stdout=stderr,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Demo(f"http://127.0.0.1:{port}", process, stderr_path, f"http://127.0.0.1:{admin}")
    try:
        deadline = time.monotonic() + READY_WITHIN
        while True:
            if process.poll() is not None:
                raise AssertionError(f"martinet demo exited with {process.returncode}:\n{running.stderr}")
            try:
                if httpx.get(f"{running.admin}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"martinet demo not ready within {READY_WITHIN}s:\n{running.stderr}")
            time.sleep(0.1)
        yield running
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            running.returncode = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        # The HTTP worker and the engine are children in the same group: none may outlive the command.
        deadline = time.monotonic() + 10
        while group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
            running.returncode = -1


def _token_line(stderr: str) -> str:
    match = re.search(r"demo access token: (\S+)", stderr)
    assert match, stderr
    return match.group(1)


@pytest.mark.slow
def test_demo_first_start_then_restart_keeps_token_balance_and_config(tmp_path: Path) -> None:
    data = tmp_path / "var"
    with demo(data, tmp_path, "first") as first:
        token_file = data / "demo-token"
        token = token_file.read_text(encoding="utf-8").strip()
        assert TOKEN.fullmatch(token), token
        assert token_file.stat().st_mode & 0o777 == 0o600
        assert _token_line(first.stderr) == token
        config = data / "martinet.toml"
        config_text, config_mtime = config.read_bytes(), config.stat().st_mtime_ns
        assert b"[database]" in config_text

        answer = first.legacy(
            "sendSMS.do", accessToken=token, numero="0612345678", message="Café à 5 € chez Martinet"
        ).decode("iso-8859-15")
        assert ACCEPTED.fullmatch(answer), answer
        assert first.legacy("credit.do", accessToken=token) == b"999"
        # The demo's carrier is its SMSC simulator: an intermediate receipt (13), then the final one (11).
        sms_id = answer.rsplit(" | ", 1)[1]
        deadline = time.monotonic() + 60  # a deadline, not a timing: a loaded machine starts Python slowly
        while first.legacy("compteRendu.do", accessToken=token, smsID=sms_id) != b"33612345678 11":
            assert time.monotonic() < deadline, first.stderr
            time.sleep(0.1)
        smsc = (data / "smsc.toml").read_text(encoding="utf-8")
        control = re.search(r'control = "([^"]+)"', smsc)
        assert control, smsc
        stats = httpx.get(f"http://{control.group(1)}/stats", timeout=5).json()
        assert (stats["submitted"], stats["receipts_acked"]) == (1, 2)
        # A classe_msg=4 send leaves from the demo's reply number; a reply to it is listed with its send.
        answer = first.legacy(
            "sendSMS.do", accessToken=token, numero="0612345679", message="Venez-vous ?", classe_msg="4"
        ).decode("iso-8859-15")
        asking = answer.rsplit(" | ", 1)[1]
        deadline = time.monotonic() + 60  # a deadline, not a timing: a loaded machine starts Python slowly
        while first.legacy("compteRendu.do", accessToken=token, smsID=asking) != b"33612345679 11":
            assert time.monotonic() < deadline, first.stderr
            time.sleep(0.1)
        with contextlib.closing(sqlite3.connect(data / "martinet.db")) as conn:
            sent_from = conn.execute("SELECT reply_from FROM messages WHERE send_id = ?", (asking,)).fetchone()
        assert sent_from == ("38100",)
        injected = httpx.post(
            f"http://{control.group(1)}/inject", json={"from": "33612345679", "to": "38100", "text": "Oui"}, timeout=5
        )
        assert injected.status_code == 200, injected.text
        while not (replies := first.legacy("responseList.do", accessToken=token)):
            assert time.monotonic() < deadline, first.stderr
            time.sleep(0.1)
        assert replies.decode("iso-8859-15").split(" | ")[2:] == ["33612345679", "Oui", "38100", asking]
    assert first.returncode == 0, first.stderr

    with demo(data, tmp_path, "second") as second:
        assert _token_line(second.stderr) == token
        assert token_file.read_text(encoding="utf-8").strip() == token
        assert token_file.stat().st_mode & 0o777 == 0o600
        assert second.legacy("credit.do", accessToken=token) == b"998"
        answer = second.legacy("sendSMS.do", accessToken=token, numero="0612345678", message="Encore").decode(
            "iso-8859-15"
        )
        assert ACCEPTED.fullmatch(answer), answer
        assert second.legacy("credit.do", accessToken=token) == b"997"
        # The demo token is an API key of the REST door too.
        rest = httpx.post(
            f"{second.base}/sms/v1/messages",
            json={"recipient": {"to": "+33612345678"}, "body": {"text": "REST"}},
            headers={"X-Api-Key": token},
            timeout=10,
        )
        assert rest.status_code == 201, rest.text
        assert httpx.get(f"{second.base}/commons/v1/balance", headers={"X-Api-Key": token}).json()["balance"] == 996
        # espeak-ng and sox (Debian packages of those names) are installed in CI, where their absence fails.
        if os.environ.get("CI") == "true" or (shutil.which("espeak-ng") and shutil.which("sox")):
            _demo_voice_message(second, token, data)
        assert config.read_bytes() == config_text
        assert config.stat().st_mtime_ns == config_mtime
    assert second.returncode == 0, second.stderr


def _demo_voice_message(demo: Demo, token: str, data: Path) -> None:
    """sendVoiceMessage.do rings the demo's SIP trunk simulator, which records the speech; the message is
    listened (16) and its callback says so."""
    statuses: list[str] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            statuses.extend(urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("statut", []))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver) as receiver:
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{receiver.server_address[1]}/cb"
        answer = demo.legacy(
            "sendVoiceMessage.do", accessToken=token, numero="0145678901", message="Code 4821", notification_url=url
        ).decode("iso-8859-15")
        assert ACCEPTED.fullmatch(answer), answer
        sms_id = answer.rsplit(" | ", 1)[1]
        deadline = time.monotonic() + 90  # a deadline, not a timing: synthesis, ringing, then the call itself
        while demo.legacy("compteRendu.do", accessToken=token, smsID=sms_id) != b"33145678901 16":
            assert time.monotonic() < deadline, demo.stderr
            time.sleep(0.2)
        while "16" not in statuses:
            assert time.monotonic() < deadline, statuses
            time.sleep(0.1)
        receiver.shutdown()
    assert [p.name.split("-")[0] for p in (data / "calls").glob("*.wav")] == ["33145678901"]


def test_config_check_refuses_a_voice_espeak_does_not_have(tmp_path: Path) -> None:
    """espeak-ng reads an unknown voice in another language without an error: the check names it instead."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (Debian package espeak-ng)")
    config = tmp_path / "voices.toml"
    config.write_text('[voice.voices]\n"en-GB" = "no-such-voice"\n"fr-FR" = "fr-fr"\n', encoding="utf-8")
    result = martinet("config", "check", "--config", config, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "voice.voices: espeak-ng has no voice 'no-such-voice'" in result.stderr
    assert "fr-fr" not in result.stderr and "configuration is valid" not in result.stderr
    config.write_text('[voice.voices]\n"en-GB" = "en-gb"\n', encoding="utf-8")
    assert martinet("config", "check", "--config", config, cwd=tmp_path).returncode == 0
