"""`martinet account create --parent`, `transfer`, `ledger`, `usage`, `limits`, `sender`, `delete`, `operator`:
the account tree from the command line, as an operator runs it (real processes on a SQLite file). Commands that
do not depend on each other run together: each pays Python's start-up."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.cli.support import martinet, martinet_all


def test_the_account_tree_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert martinet("account", "create", "reseller", "--credits", "100", "--data", data, cwd=tmp_path).returncode == 0
    child, orphan = martinet_all(
        [
            ["account", "create", "shop", "--parent", "reseller", "--data", data],
            ["account", "create", "lost", "--parent", "nobody", "--data", data],
        ],
        cwd=tmp_path,
    )
    assert child.returncode == 0, child.stderr
    assert orphan.returncode == 1 and "nobody" in orphan.stderr
    moved = martinet(
        "account", "transfer", "reseller", "shop", "12.5", "--reference", "INV-7", "--data", data, cwd=tmp_path
    )
    assert moved.returncode == 0, moved.stderr
    assert "reseller: balance 87.500; shop: balance 12.500" in moved.stderr

    above = martinet("account", "limits", "reseller", "--lanes", "otp,notification", "--data", data, cwd=tmp_path)
    assert above.returncode == 0 and json.loads(above.stdout)["effective"]["lanes"] == "notification,otp"
    too_much, limits, asked, bad, operator = martinet_all(  # independent of each other: run at once
        [
            ["account", "transfer", "shop", "reseller", "50", "--data", data],
            ["account", "limits", "shop", "--countries", "fr,be", "--sender-policy", "approved", "--data", data],
            ["account", "sender", "request", "shop", "SHOP", "--data", data],
            ["account", "limits", "shop", "--lanes", "sms", "--data", data],
            ["account", "operator", "reseller", "--data", data],
        ],
        cwd=tmp_path,
    )
    assert too_much.returncode == 1 and "does not cover" in too_much.stderr
    assert limits.returncode == 0, limits.stderr
    assert json.loads(limits.stdout)["countries"] == "BE,FR"
    # What holds for shop: its own countries and policy, its parent's lanes (none of its own), no rate cap.
    effective = {"lanes": "notification,otp", "countries": "BE,FR", "sender_policy": "approved", "rate_limit": 0}
    assert (json.loads(limits.stdout)["lanes"], json.loads(limits.stdout)["effective"]) == (None, effective)
    assert json.loads(asked.stdout)["status"] == "requested"
    assert bad.returncode == 2 and "unknown lane" in bad.stderr
    assert operator.returncode == 0 and "operator on" in operator.stderr

    today = datetime.now(UTC).date()  # the account's day is within one of it, whatever its time zone
    yesterday, tomorrow = (today - timedelta(days=1)).isoformat(), (today + timedelta(days=1)).isoformat()
    approved, ledger, lines, usage, dated, later = martinet_all(
        [
            ["account", "sender", "approve", "shop", "SHOP", "--data", data],
            ["account", "ledger", "shop", "--csv", "--data", data],
            ["account", "ledger", "reseller", "--data", data],
            ["account", "usage", "reseller", "--from", yesterday, "--to", tomorrow, "--data", data],
            ["account", "ledger", "reseller", "--from", yesterday, "--to", tomorrow, "--data", data],
            ["account", "ledger", "reseller", "--from", (today + timedelta(days=2)).isoformat(), "--data", data],
        ],
        cwd=tmp_path,
    )
    assert dated.stdout == lines.stdout and dated.stdout  # the days named, --to included
    assert later.returncode == 0 and later.stdout == ""
    assert json.loads(approved.stdout)["status"] == "approved"
    rows = list(csv.DictReader(io.StringIO(ledger.stdout)))
    assert [(r["reason"], r["amount"], r["balance_after"], r["reference"], r["counterparty"]) for r in rows] == [
        ("transfer_in", "12.500", "12.500", "INV-7", "reseller")
    ]
    assert [json.loads(line)["balance_after"] for line in lines.stdout.splitlines()] == ["100.000", "87.500"]
    days = [json.loads(line) for line in usage.stdout.splitlines()]
    assert sum(float(d["movements"].get("transfer_out", 0)) for d in days) == -12.5

    listed, deleted = martinet_all(
        [["account", "sender", "list", "shop", "--data", data], ["account", "delete", "shop", "--data", data]],
        cwd=tmp_path,
    )
    assert [json.loads(line)["sender"] for line in listed.stdout.splitlines()] == ["SHOP"]
    assert deleted.returncode == 0 and "12.500 credits back" in deleted.stderr
    again, top = martinet_all(
        [["account", "delete", "shop", "--data", data], ["account", "delete", "reseller", "--data", data]],
        cwd=tmp_path,
    )
    assert again.returncode == 1 and "deleted" in again.stderr
    assert top.returncode == 2 and "not a sub-account" in top.stderr
