"""The system programs some tests drive, and what to do when one is missing: skip outside CI, fail in CI (whose
`.ci/run` installs them)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def require(*programs: tuple[str, str]) -> None:
    """Skip (fail in CI) unless every (program, Debian package) is installed."""
    missing = sorted({package for program, package in programs if shutil.which(program) is None})
    if not missing:
        return
    message = f"needs the Debian package(s) {', '.join(missing)}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def links_libpython(executable: str) -> bool:
    """Whether `executable` loads libpython as a shared library, as `ldd` reads it: a reading of the build
    independent of the interpreter's own memory map, which `make` and the benchmarks' machine line look at."""
    require(("ldd", "libc-bin"))
    listed = subprocess.run(["ldd", executable], capture_output=True, text=True, timeout=60).stdout
    return "libpython" in listed
