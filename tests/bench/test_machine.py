"""The machine line every benchmark prints says which kind of interpreter build measured it."""

from __future__ import annotations

import sys

from bench.harness import machine

from tests.programs import links_libpython


def test_the_machine_line_names_the_interpreter_build_as_ldd_reads_it() -> None:
    expected = "libpython shared" if links_libpython(sys.executable) else "interpreter in the executable"
    assert f"({expected})" in machine()
