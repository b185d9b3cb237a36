"""`python -m bench.accept_instructions` counts the instructions of one unit of work as the slope between two runs
under valgrind's callgrind that differ only in how many units they do: checked here on a small real program whose
loop grows with its argument, and on callgrind's own output files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bench import accept_instructions
from tests.programs import require

pytestmark = pytest.mark.slow

#: A loop whose length is the program's argument: its start costs the same in both runs, the loop does not.
LOOP = "import sys\nfor i in range(int(sys.argv[1])):\n    str(i)\n"


def test_the_slope_between_two_runs_is_the_cost_of_one_more_unit() -> None:
    require(("valgrind", "valgrind"))
    counts = (1_000, 21_000)
    totals = accept_instructions.count_each([[sys.executable, "-c", LOOP, str(n)] for n in counts], timeout=300)

    per_iteration = accept_instructions.per_unit(totals, counts)
    # One `str(i)` and a turn of the loop: some hundreds of instructions, far from the start's tens of millions.
    assert 50 < per_iteration < 5_000
    assert totals[0] > 1_000_000  # the start, counted in both runs


def test_the_total_is_read_from_the_summary_line(tmp_path: Path) -> None:
    out = tmp_path / "callgrind.out"
    out.write_text("# callgrind format\nversion: 1\ncreator: callgrind-3.19.0\nevents: Ir\nsummary: 5295987472\n")
    assert accept_instructions.read_total(out) == 5_295_987_472
    out.write_text("events: Ir\ntotals: 42\n")
    assert accept_instructions.read_total(out) == 42
    out.write_text("not a callgrind file\n")
    with pytest.raises(ValueError, match="no summary line"):
        accept_instructions.read_total(out)


def test_the_larger_count_comes_second() -> None:
    with pytest.raises(ValueError, match="larger"):
        accept_instructions.per_unit([10, 5], (2_000, 500))
