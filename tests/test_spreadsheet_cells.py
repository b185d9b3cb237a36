"""The rule that keeps a client's text from running as a spreadsheet formula is written once
(`domain.csv_records.spreadsheet_cell`): copies drift (the contacts export once missed the `'` a text already
started with)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import martinet

pytestmark = pytest.mark.unit

#: Where the rule may be written: its home only.
_ALLOWED = {"domain/csv_records.py"}


def test_the_formula_starts_are_written_once() -> None:
    root = Path(martinet.__file__).parent
    starts = {"=", "+", "-", "@"}
    found = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Tuple) and starts <= {
                e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)
            }:
                found.add(path.relative_to(root).as_posix())
    assert "domain/csv_records.py" in found  # the scan sees the rule where it is
    assert found <= _ALLOWED, sorted(found - _ALLOWED)
