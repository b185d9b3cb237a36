"""Running `martinet` as an operator does, for every test that needs the command: its own process each time.

`martinet` and `martinet_all` start commands from a launcher process that imported the command line once
(`tests/cli/launcher.py`): each command is a process of its own, forked before it reads its arguments, so the
second of CPU a fresh interpreter spends importing is paid once per test process instead of once per command.
A command whose environment differs in more than `MARTINET_*` variables (read by the configuration, not at start)
is started from scratch (`MARTINET`, the console script), since the rest of the environment also shapes the
interpreter's start (`PYTHONIOENCODING`); so are the long-running `serve` and `demo` processes the tests start
themselves. MARTINET_TEST_LAUNCHER=0 starts every command from scratch.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO

_SCRIPT = Path(sys.executable).with_name("martinet")
MARTINET = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "martinet.cli"]
TOKEN = re.compile(r"[A-Za-z0-9]{32}")
ACCEPTED = re.compile(r"0 \| Accepté \| [A-Za-z0-9]{12}")
#: How long a command may take before it is killed and the test fails.
TIMEOUT = 60
#: How long `martinet demo` may take to answer: a deadline for a broken start, not a measure of a good one (it
#: starts an HTTP worker, an engine and two simulators, each a Python process importing its modules: on a loaded
#: machine that took more than 30 s).
READY_WITHIN = 90


def environment(**extra: str) -> dict[str, str]:
    """The caller's environment without MARTINET_* overrides (they would change what is tested), plus `extra`."""
    env = {name: value for name, value in os.environ.items() if not name.upper().startswith("MARTINET_")}
    env.update(extra)
    return env


def martinet(
    *args: str | Path, cwd: Path, stdin: bytes = b"", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return martinet_all([list(args)], cwd=cwd, stdin=stdin, env=env)[0]


def martinet_all(
    invocations: list[list[str | Path]], *, cwd: Path, stdin: bytes = b"", env: dict[str, str] | None = None
) -> list[subprocess.CompletedProcess[str]]:
    """Run independent commands at the same time; results in the given order."""
    commands = [[str(arg) for arg in args] for args in invocations]
    env = env if env is not None else environment()
    launcher = _launcher() if os.environ.get("MARTINET_TEST_LAUNCHER", "1") != "0" else None
    if launcher is not None and launcher.can_start(env):
        return launcher.run(commands, cwd=cwd, stdin=stdin, env=env)
    return _from_scratch(commands, cwd=cwd, stdin=stdin, env=env)


def _from_scratch(
    commands: list[list[str]], *, cwd: Path, stdin: bytes, env: dict[str, str]
) -> list[subprocess.CompletedProcess[str]]:
    processes = [
        subprocess.Popen(
            [*MARTINET, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
        )
        for args in commands
    ]
    results = []
    try:
        for process in processes:
            out, err = process.communicate(stdin, timeout=TIMEOUT)
            results.append(
                subprocess.CompletedProcess(
                    process.args, process.returncode, out.decode(), err.decode(errors="replace")
                )
            )
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return results


class _Launcher:
    """The launcher process of this test process, and the pipes to ask it for commands."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="martinet-launcher-")
        self._log = Path(self._folder.name) / "launcher.stderr"
        requests_in, requests_out = os.pipe()
        answers_in, answers_out = os.pipe()
        self._environment = environment()
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                # -P: the launcher's folder (tests/cli/) is not put before the installed packages on sys.path.
                [
                    sys.executable,
                    "-P",
                    str(Path(__file__).with_name("launcher.py")),
                    str(requests_in),
                    str(answers_out),
                ],
                pass_fds=(requests_in, answers_out),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=self._environment,
            )
        os.close(requests_in)
        os.close(answers_out)
        self._requests: IO[str] = os.fdopen(requests_out, "w", encoding="utf-8")
        self._answers: IO[str] = os.fdopen(answers_in, "r", encoding="utf-8")
        self._lock = threading.Lock()
        self._count = 0

    def can_start(self, env: dict[str, str]) -> bool:
        """Whether a command with this environment may fork from here: only variables read after the start (the
        configuration's `MARTINET_*`, and pytest's name of the running test) may differ from the launcher's own."""
        return _without_ours(env) == _without_ours(self._environment)

    def run(
        self, commands: list[list[str]], *, cwd: Path, stdin: bytes, env: dict[str, str]
    ) -> list[subprocess.CompletedProcess[str]]:
        with self._lock:
            self._count += 1
            batch = Path(self._folder.name) / str(self._count)
            batch.mkdir()
            (batch / "stdin").write_bytes(stdin)
            request = {
                "timeout": TIMEOUT,
                "commands": [
                    {
                        "script": MARTINET[0],
                        "args": args,
                        "cwd": str(cwd),
                        "env": env,
                        "stdin": str(batch / "stdin"),
                        "stdout": str(batch / f"{n}.stdout"),
                        "stderr": str(batch / f"{n}.stderr"),
                    }
                    for n, args in enumerate(commands)
                ],
            }
            self._requests.write(json.dumps(request) + "\n")
            self._requests.flush()
            line = self._answers.readline()
            if not line:
                raise RuntimeError(f"the command launcher died:\n{self._log.read_text(errors='replace')}")
            answer = json.loads(line)
            if answer["late"]:
                raise subprocess.TimeoutExpired([*MARTINET, *commands[0]], TIMEOUT)
            results = [
                subprocess.CompletedProcess(
                    [*MARTINET, *args],
                    code,
                    (batch / f"{n}.stdout").read_bytes().decode(),
                    (batch / f"{n}.stderr").read_bytes().decode(errors="replace"),
                )
                for n, (args, code) in enumerate(zip(commands, answer["codes"], strict=True))
            ]
            for file in batch.iterdir():
                file.unlink()
            batch.rmdir()
            return results

    def close(self) -> None:
        self._requests.close()  # the launcher's loop ends at the end of its input
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._answers.close()
        self._folder.cleanup()


#: Set by pytest to the running test's name: it changes with every test but shapes nothing of a command's start.
_PYTEST_TEST = "PYTEST_CURRENT_TEST"


def _without_ours(env: dict[str, str]) -> dict[str, str]:
    return {
        name: value for name, value in env.items() if not name.upper().startswith("MARTINET_") and name != _PYTEST_TEST
    }


_started: _Launcher | None = None
_starting = threading.Lock()


def _launcher() -> _Launcher:
    global _started
    with _starting:
        if _started is None:
            _started = _Launcher()
            atexit.register(_started.close)
        return _started


def group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies waiting for init to reap them do not count)."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False
