"""The machine line every benchmark prints says which kind of interpreter build measured it."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
from bench.harness import machine


def test_the_machine_line_names_the_interpreter_build_as_ldd_reads_it() -> None:
    if shutil.which("ldd") is None:
        pytest.skip("needs the Debian package libc-bin (ldd)")
    linked = subprocess.run(["ldd", sys.executable], capture_output=True, text=True, timeout=60).stdout
    expected = "libpython shared" if "libpython" in linked else "interpreter in the executable"
    assert f"({expected})" in machine()
