"""`martinet account create/update/show` as an operator runs them: real subprocesses on a real database.

`show` and `update` print the account as one JSON object on standard output (what a script reads); mistakes
go to standard error with a non-zero exit and change nothing (those are run in this process, one start-up for
many cases). The last test changes the rate limit of an account while a gateway serves it, on both databases.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from martinet import cli
from martinet.store.accounts import Account, AccountStore
from martinet.store.database import open_database
from tests.cli.support import martinet, martinet_all
from tests.engine.test_notifier import FAST, Receiver
from tests.gateway import running_gateway, wait_for


def _config(tmp_path: Path, url: str, extra: str = "") -> Path:
    config = tmp_path / "martinet.toml"
    config.write_text(f'[database]\nurl = "{url}"\n{extra}', encoding="utf-8")
    return config


def _shown(result: Any) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1, result.stdout
    shown: dict[str, Any] = json.loads(result.stdout)
    return shown


def _stored(url: str, login: str) -> Account | None:
    async def read() -> Account | None:
        db = open_database(url)
        try:
            found = await AccountStore(db, lambda: 0).by_login(login)
        finally:
            await db.dispose()
        return None if found is None else found[0]

    return asyncio.run(read())


def test_create_with_weight_and_rate_limit_then_show(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    config = _config(tmp_path, url, "[accounts]\nrate_limit = 4\n")
    created, plain = martinet_all(
        [
            [
                "account",
                "create",
                "alice",
                "--credits",
                "12.5",
                "--weight",
                "3",
                "--rate-limit",
                "2.5",
                "--callback-statuses",
                "final",
                "--config",
                config,
            ],
            ["account", "create", "bob", "--config", config],
        ],
        cwd=tmp_path,
    )
    assert created.returncode == 0, created.stderr
    assert plain.returncode == 0, plain.stderr
    alice, bob = martinet_all(
        [["account", "show", "alice", "--config", config], ["account", "show", "bob", "--config", config]],
        cwd=tmp_path,
    )
    assert _shown(alice) == {
        "login": "alice",
        "lane": "marketing",
        "weight": 3,
        "rate_limit": 2.5,
        "effective_rate_limit": 2.5,
        "sandbox": False,
        "language": "fr",
        "timezone": "Europe/Paris",
        "non_gsm": "replace",
        "callback_url": None,
        "reply_url": None,
        "callback_statuses": "final",
        "balance": "12.5",
    }
    assert alice.stderr == ""
    shown = _shown(bob)
    assert (shown["weight"], shown["rate_limit"], shown["effective_rate_limit"]) == (1, None, 4.0)
    stored = _stored(url, "alice")
    assert stored is not None
    assert (stored.weight, stored.rate_limit) == (3, 2.5)


def test_update_changes_only_what_is_given(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    config = _config(tmp_path, url, "[accounts]\nrate_limit = 4\n")
    assert martinet("account", "create", "carol", "--rate-limit", "9", "--config", config, cwd=tmp_path).returncode == 0

    steps: list[tuple[list[str], dict[str, Any]]] = [
        (["--weight", "7"], {"weight": 7, "rate_limit": 9.0, "effective_rate_limit": 9.0}),
        (["--rate-limit", "0"], {"weight": 7, "rate_limit": 0.0, "effective_rate_limit": 0.0}),
        (["--rate-limit", "default"], {"rate_limit": None, "effective_rate_limit": 4.0}),
        (["--lane", "otp", "--sandbox"], {"lane": "otp", "sandbox": True, "weight": 7, "rate_limit": None}),
        (["--no-sandbox", "--rate-limit", "0.5"], {"lane": "otp", "sandbox": False, "rate_limit": 0.5}),
        (
            ["--callback-url", "https://93.184.215.14/dlr?site=3", "--reply-url", "https://93.184.215.14/mo"],
            {"callback_url": "https://93.184.215.14/dlr?site=3", "reply_url": "https://93.184.215.14/mo"},
        ),
        (["--reply-url", ""], {"callback_url": "https://93.184.215.14/dlr?site=3", "reply_url": None}),
    ]
    for options, expected in steps:
        result = martinet("account", "update", "carol", *options, "--config", config, cwd=tmp_path)
        shown = _shown(result)
        assert {key: shown[key] for key in expected} == expected, (options, shown)
    assert _shown(martinet("account", "show", "carol", "--config", config, cwd=tmp_path)) == shown
    stored = _stored(url, "carol")
    assert stored is not None
    assert (stored.lane, stored.weight, stored.rate_limit, stored.sandbox) == ("otp", 7, 0.5, False)


def test_mistakes_are_refused_and_change_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Run in this process (`martinet.cli.main`): the same parser and code, without a start-up per case."""
    data = tmp_path / "data"
    assert cli.main(["account", "create", "dave", "--weight", "5", "--data", str(data)]) == 0
    capsys.readouterr()
    cases: list[tuple[list[str], int, str]] = [
        (["update", "nobody", "--weight", "2"], 1, "no account named 'nobody'"),
        (["show", "nobody"], 1, "no account named 'nobody'"),
        (["update", "dave"], 2, "give at least one of"),
        (["update", "dave", "--weight", "0"], 2, "from 1 to 100"),
        (["update", "dave", "--weight", "101"], 2, "from 1 to 100"),
        (["update", "dave", "--weight", "heavy"], 2, "from 1 to 100"),
        (["update", "dave", "--rate-limit", "-1"], 2, "sends per second"),
        (["update", "dave", "--rate-limit", "fast"], 2, "sends per second"),
        (["update", "dave", "--rate-limit", "inf"], 2, "sends per second"),
        (["create", "erin", "--weight", "200"], 2, "from 1 to 100"),
        (["update", "dave", "--callback-url", "http://127.0.0.1:8000/dlr"], 2, "callback URL: 127.0.0.1 is a loopback"),
        (["update", "dave", "--reply-url", "mailto:ops@example.org"], 2, "reply URL: scheme 'mailto' refused"),
        (["create", "erin", "--callback-url", "http://10.0.0.8/dlr"], 2, "callback URL: 10.0.0.8 is a private"),
    ]
    for args, code, message in cases:
        assert _exit_code(["account", *args, "--data", str(data)]) == code, args
        out, err = capsys.readouterr()
        assert message in err, (args, err)
        assert out == "", args
    assert _exit_code(["account", "show", "dave", "--data", str(data)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["weight"], shown["rate_limit"], shown["callback_url"], shown["reply_url"]) == (5, None, None, None)
    assert _exit_code(["account", "show", "erin", "--data", str(data)]) == 1


def _exit_code(argv: list[str]) -> int:
    """`martinet.cli.main`'s status, including argparse's usage errors (which exit through SystemExit)."""
    try:
        return cli.main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


async def test_a_rate_limit_set_by_the_command_applies_to_a_running_gateway(database_url: str, tmp_path: Path) -> None:
    config = _config(tmp_path, database_url)
    accepted = re.compile(r"0 \| Accepté \| [A-Za-z0-9]{12}")

    async def send(http: httpx.AsyncClient, token: str) -> str:
        reply = await http.post("/sendSMS.do", data={"accessToken": token, "numero": "0612345678", "message": "x"})
        return reply.content.decode("iso-8859-15")

    async with running_gateway(database_url, with_engine=False) as gw, gw.client() as http:
        assert accepted.fullmatch(await send(http, gw.token))
        assert accepted.fullmatch(await send(http, gw.token))
        result = await asyncio.to_thread(
            martinet, "account", "update", "acme", "--rate-limit", "0.1", "--config", config, cwd=tmp_path
        )
        assert _shown(result)["rate_limit"] == 0.1
        # The test gateway caches no authentication: the next call sees the new limit.
        assert accepted.fullmatch(await send(http, gw.token))
        assert await send(http, gw.token) == "50 | Temporairement indisponible"


async def test_a_callback_url_set_by_the_command_receives_the_reports_of_sends_that_name_none(
    database_url: str, tmp_path: Path
) -> None:
    receiver = Receiver()
    await receiver.start()
    config = _config(tmp_path, database_url, "[callbacks]\nallow_private_networks = true\n")
    hook = f"http://127.0.0.1:{receiver.port}/dlr"
    try:
        async with running_gateway(database_url, callbacks=FAST) as gw, gw.client() as http:
            result = await asyncio.to_thread(
                martinet, "account", "update", "acme", "--callback-url", hook, "--config", config, cwd=tmp_path
            )
            assert _shown(result)["callback_url"] == hook
            reply = await http.post(
                "/sendSMS.do", data={"accessToken": gw.token, "numero": "0612345678", "message": "x"}
            )
            sms_id = reply.content.decode("iso-8859-15").rsplit(" | ", 1)[1]
            await wait_for(lambda: _reported(receiver, "11"), timeout=20)
    finally:
        await receiver.stop()
    assert {call.query["smsID"] for call in receiver.successes()} == {sms_id}
    # Under load the sandbox's 13 and 11 may be recorded as one change: 13 is then never reported.
    assert [call.query["statut"] for call in receiver.successes()] in (["0", "13", "11"], ["0", "11"])


async def _reported(receiver: Receiver, status: str) -> bool:
    return any(call.query.get("statut") == status for call in receiver.successes())
