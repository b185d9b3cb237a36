"""`martinet contacts` as an operator runs it: real subprocesses on a real data folder (SQLite)."""

from __future__ import annotations

from pathlib import Path

from tests.cli.support import martinet, martinet_all


def test_contacts_import_list_groups_export_and_reimport(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert martinet("account", "create", "alice", "--data", data, cwd=tmp_path).returncode == 0
    spreadsheet = tmp_path / "clients.csv"
    spreadsheet.write_bytes(
        "Nom;Prénom;Téléphone;Groupes\nLefèvre;Hélène;06 11 11 11 11;vip\nX;Y;pas un numéro;\nNoir;Léa;0622222222;\n".encode(
            "iso-8859-15"
        )
    )
    imported = martinet(
        "contacts", "import", spreadsheet, "--account", "alice", "--group", "clients", "--data", data, cwd=tmp_path
    )
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == "2 created, 0 merged, 1 refused\n"
    assert "line 3: refused: mobile" in imported.stderr

    exported = tmp_path / "export.csv"
    listed, groups, done, unknown, missing = martinet_all(
        [
            ["contacts", "list", "--account", "alice", "--group", "vip", "--data", data],
            ["contacts", "groups", "--account", "alice", "--data", data],
            ["contacts", "export", "--account", "alice", "-o", exported, "--data", data],
            ["contacts", "list", "--account", "bob", "--data", data],
            ["contacts", "import", tmp_path / "none.csv", "--account", "alice", "--data", data],
        ],
        cwd=tmp_path,
    )
    assert listed.stdout.split("\t")[1:3] == ["+33611111111", "Hélène Lefèvre"]
    assert sorted(line.split("\t")[1:] for line in groups.stdout.splitlines()) == [["clients", "2"], ["vip", "1"]]
    assert done.returncode == 0, done.stderr
    assert exported.read_bytes().decode("utf-8-sig").splitlines()[0] == "mobile;nom;prenom;societe;date;other;groupes"
    assert unknown.returncode == 1 and "no account named 'bob'" in unknown.stderr
    assert (missing.returncode, missing.stderr) == (2, f"{tmp_path / 'none.csv'}: No such file or directory\n")
    again = martinet("contacts", "import", exported, "--account", "alice", "--data", data, cwd=tmp_path)
    assert again.stdout == "0 created, 2 merged, 0 refused\n"
