"""`martinet send` and `martinet messages` as an operator runs them: real subprocesses on a real database (SQLite
and PostgreSQL), and the real engine (its sandbox connector) delivering what the command accepted."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

from martinet.app import account_service, engine, open_store
from martinet.clock import now_ms
from martinet.config import load_settings
from martinet.domain.credits import to_milli
from martinet.domain.status import State
from martinet.services.contacts import ContactService
from martinet.store.accounts import AccountStore
from martinet.store.contacts import ContactStore
from martinet.store.messages import MessageFilter, MessageStore
from martinet.store.migrate import upgrade
from tests.cli.support import martinet
from tests.gateway import wait_for


def _one_by_one(invocations: list[list[str | Path]], cwd: Path) -> list[subprocess.CompletedProcess[str]]:
    """Commands one after the other: on two loaded cores, seven at once took longer than in turn."""
    return [martinet(*args, cwd=cwd) for args in invocations]


def _config(tmp_path: Path, database_url: str) -> Path:
    config = tmp_path / "martinet.toml"
    config.write_text(
        f"""
[database]
url = "{database_url}"
sqlite_synchronous = "normal"

[engine]
poll_interval = 0.02

[marketing.quiet_hours]  # none, whatever the time the tests run at (a campaign goes in the marketing lane)

[[connectors]]
name = "sandbox"
type = "sandbox"
operator_delay = 0.02
handset_delay = 0.05
""",
        encoding="utf-8",
    )
    return config


async def _address_book(config: Path) -> None:
    """The account and its group, made in the test's process: what is tested here is sending."""
    settings = load_settings(config)
    db = open_store(settings)
    try:
        await upgrade(db)
        created = await account_service(settings, db).create("alice", credits=to_milli(20))
        contacts = ContactService(ContactStore(db, now_ms))
        book = "nom;prénom;mobile\nMartin;Hélène;0611111111\nDurand;Bob;0622222222\n".encode("iso-8859-15")
        report = await contacts.import_csv(created.account.id, book, "vip")
        assert report.count("created") == 2
    finally:
        await db.dispose()


async def _deliver(config: Path, send_id: str) -> None:
    """Run the gateway's engine on the command's database until every message of the send is delivered."""
    settings = load_settings(config)
    db = open_store(settings)
    stop = asyncio.Event()
    running = asyncio.create_task(engine(settings, db).run(stop))
    store = MessageStore(db)
    found = await AccountStore(db, now_ms).by_login("alice")
    assert found is not None
    account_id = found[0].id

    async def delivered() -> bool:
        rows = await store.page(account_id, MessageFilter(send_id=send_id), 0, 100)
        return bool(rows) and all(row.state == State.DELIVERED for row in rows)

    try:
        await wait_for(delivered, timeout=30)
    finally:
        stop.set()
        await running
        await db.dispose()


async def test_send_to_a_group_and_a_campaign_then_follow_the_reports(tmp_path: Path, database_url: str) -> None:
    config = _config(tmp_path, database_url)
    await _address_book(config)
    where = ["--config", str(config)]
    campaign = tmp_path / "campaign.csv"
    campaign.write_bytes(
        "numero;message;emetteur;refClient\n0633333333;Ça part;;r1\n0644444444;Et ça;;r2\n".encode("iso-8859-15")
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("numero,message,emetteur\n0611111111,Bonjour,\n,Sans numéro,\n", encoding="utf-8")
    group = ["--account", "alice", "--group", "vip", "--to", "0655555555", "--text", "Bonjour {prenom}"]
    preview, refused, no_account, no_group, no_text, sent, batch = _one_by_one(
        [
            ["send", *group, "--dry-run", "--json", *where],
            ["send", "--account", "alice", "--file", bad, *where],
            ["send", "--account", "bob", "--to", "0611111111", "--text", "x", *where],
            ["send", "--account", "alice", "--group", "nope", "--text", "x", *where],
            ["send", "--account", "alice", "--to", "0611111111", *where],
            ["send", *group, "--reference", "promo", "--json", *where],
            ["send", "--account", "alice", "--file", campaign, *where],
        ],
        tmp_path,
    )
    shown = json.loads(preview.stdout)
    assert [(r["to"], r["text"], r["parts"], r["price"]) for r in shown["recipients"]] == [
        ("33655555555", "Bonjour ", 1, "1"),
        ("33611111111", "Bonjour Hélène", 1, "1"),
        ("33622222222", "Bonjour Bob", 1, "1"),
    ]
    assert shown["price"] == "3"
    assert (refused.returncode, refused.stderr) == (2, "fichier: line 3: numero: missing\n")
    assert (no_account.returncode, no_account.stderr) == (2, "no account named 'bob'\n")
    assert (no_group.returncode, no_group.stderr) == (2, "groups: unknown group nope\n")
    assert no_text.returncode == 2
    assert sent.returncode == 0, sent.stderr
    answer = json.loads(sent.stdout)
    assert [(m["recipient"]["to"], m["body"]["text"], m["status"]["code"]) for m in answer["messages"]] == [
        ("33655555555", "Bonjour ", 1),
        ("33611111111", "Bonjour Hélène", 1),
        ("33622222222", "Bonjour Bob", 1),
    ]
    assert batch.returncode == 0, batch.stderr
    batch_id, *lines = batch.stdout.splitlines()
    assert [line.split("\t")[1:3] + line.split("\t")[5:6] for line in lines] == [
        ["+33633333333", "1 En cours", "r1"],
        ["+33644444444", "1 En cours", "r2"],
    ]

    await _deliver(config, batch_id)
    listed, delivered, enroute = _one_by_one(
        [
            ["messages", "--account", "alice", "--json", *where],
            ["messages", "--account", "alice", "--send", batch_id, "--json", *where],
            ["messages", "--account", "alice", "--status", "enroute", *where],
        ],
        tmp_path,
    )
    # The refused file stored nothing: the account holds the two accepted sends only.
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert sorted({row["smsId"] for row in rows}) == sorted({answer["smsId"], batch_id})
    assert len(rows) == 5
    reports = [json.loads(line) for line in delivered.stdout.splitlines()]
    assert [(r["recipient"]["to"], r["status"]["value"], r["status"]["code"], r["refClient"]) for r in reports] == [
        ("33633333333", "DELIVERED", 11, "r1"),
        ("33644444444", "DELIVERED", 11, "r2"),
    ]
    assert all(len(r["carrierIds"]) == 1 for r in reports)
    assert enroute.returncode == 0 and batch_id not in enroute.stdout


async def test_a_campaign_file_unreadable_midway_is_refused_with_its_line(tmp_path: Path, database_url: str) -> None:
    """A record too long, or not valid CSV, found while the file is read (not at its end): the reason on standard
    error and exit status 2, as for a refused row (it was a traceback and exit status 1)."""
    config = _config(tmp_path, database_url)
    await _address_book(config)
    where = ["--config", str(config)]
    long_file = tmp_path / "long.csv"
    long_file.write_bytes(b"numero;message\n0611111111;Bonjour\n0622222222;" + b"a" * 20_000 + b"\n")
    stray_file = tmp_path / "stray.csv"
    stray_file.write_bytes(b'numero;message\n0611111111;Bonjour\n0622222222;"un" perdu\n')
    long_row, stray, preview = _one_by_one(
        [
            ["send", "--account", "alice", "--file", long_file, *where],
            ["send", "--account", "alice", "--file", stray_file, *where],
            ["send", "--account", "alice", "--file", long_file, "--dry-run", *where],
        ],
        tmp_path,
    )
    assert (long_row.returncode, long_row.stderr) == (2, "fichier: line 3: a record longer than 16384 bytes\n")
    assert stray.returncode == 2 and stray.stderr.startswith("fichier: line 3: not valid CSV ("), stray.stderr
    assert (preview.returncode, preview.stderr) == (2, long_row.stderr)
