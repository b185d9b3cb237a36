"""The system programs some tests drive, and what to do when one is missing: skip outside CI, fail in CI (whose
`.ci/run` installs them)."""

from __future__ import annotations

import os
import shutil

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
