"""The interpreter `make install` makes `.venv` from (Makefile's PYTHON): one holding the interpreter in its
executable when one is found, as docs/operations.md says, else `python3`. Run through `make` itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.programs import links_libpython, require

ROOT = Path(__file__).resolve().parent.parent


def _make(*arguments: str) -> str:
    """What `make` prints for the `--eval`ed target; PYTHON is taken out of the environment, where `?=` would
    prefer it."""
    require(("make", "make"))
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "MAKEFLAGS", "MAKELEVEL")}
    done = subprocess.run(
        ["make", "-s", "--no-print-directory", "-C", str(ROOT), *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        check=True,
    )
    return done.stdout.strip()


def _chosen(candidates: str) -> str:
    return _make("--eval", "chosen-python: ; @echo $(PYTHON)", "chosen-python", f"PYTHON_CANDIDATES={candidates}")


def _script(path: Path, status: int) -> str:
    path.write_text(f"#!/bin/sh\nexit {status}\n")
    path.chmod(0o755)
    return str(path)


def test_the_first_candidate_passing_the_check_is_chosen(tmp_path: Path) -> None:
    refused, accepted, also = _script(tmp_path / "a", 1), _script(tmp_path / "b", 0), _script(tmp_path / "c", 0)
    assert _chosen(f"{refused} {accepted} {also}") == accepted


def test_without_a_candidate_passing_it_python3_is_used(tmp_path: Path) -> None:
    refused = _script(tmp_path / "a", 1)
    assert _chosen(f"{refused} {tmp_path / 'missing'}") == "python3"


def _interpreters() -> list[str]:
    found = [sys.executable, "/usr/bin/python3", "/usr/local/bin/python3", shutil.which("python3")]
    return sorted({name for name in found if name and os.path.exists(name)})


def _ask(interpreter: str, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([interpreter, "-c", code], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("interpreter", _interpreters())
def test_the_check_accepts_an_interpreter_exactly_when_it_does_not_load_libpython(interpreter: str) -> None:
    """The check reads the running interpreter's own memory map; `ldd` on its executable (a launcher such as
    pyenv's shim resolved first), a second reading, says whether it links libpython as a shared library."""
    check = _make("--eval", "python-check: ; @echo '$(PYTHON_CHECK)'", "python-check")
    passes = _ask(interpreter, check).returncode == 0
    executable = _ask(interpreter, "import sys; print(sys.executable)").stdout.strip()
    links = links_libpython(executable)
    recent = _ask(interpreter, "import sys, ensurepip; print(sys.version_info >= (3, 11))").stdout.strip() == "True"
    assert passes == (recent and not links), (interpreter, executable, passes, links, recent)
