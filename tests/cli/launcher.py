"""Starts `martinet` commands as processes forked from one that has already imported the command line.

Run as a script by `tests.cli.support` (it imports nothing of the tests). A fresh `martinet` process spends about
a second of CPU importing its modules before it reads its arguments; the suite runs a few hundred commands. Here
that import is paid once: each command is still a process of its own (its own standard streams, working folder,
environment, arguments and exit status, `martinet.cli:main` entered as the console script enters it), forked from
this one before anything but the import has happened.

Requests come as JSON lines on the file descriptor given as the first argument, one line per batch of commands
started together; the answer is one JSON line on the second descriptor: the exit status of each command in order
(negative: the signal that ended it, as `subprocess` reports it) and whether the batch's deadline killed some.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any

# martinet.app too: every command on a gateway's data imports it when it runs (the store, the services), a second
# of CPU each time on a loaded machine; imported here, it is paid once as well.
import martinet.app
import martinet.cli


def _child(command: dict[str, Any], control: tuple[int, int]) -> None:
    """Become the command: never returns (SystemExit leaves through the interpreter's normal exit)."""
    for fd in control:
        os.close(fd)
    for target, path, flags in (
        (0, command["stdin"], os.O_RDONLY),
        (1, command["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        (2, command["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
    ):
        fd = os.open(path, flags, 0o600)
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(command["cwd"])
    os.environ.clear()
    os.environ.update(command["env"])
    sys.argv = [command["script"], *command["args"]]
    random.seed()  # drawn afresh, as a new interpreter does, rather than the launcher's sequence again
    sys.exit(martinet.cli.main())


def _wait(pids: list[int], timeout: float) -> tuple[list[int], bool]:
    """Exit statuses in order, and whether the deadline came first (the commands left were killed)."""
    statuses: dict[int, int] = {}
    deadline = time.monotonic() + timeout
    late = False
    while len(statuses) < len(pids):
        for pid in pids:
            if pid not in statuses:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    statuses[pid] = os.waitstatus_to_exitcode(status)
        if len(statuses) < len(pids) and time.monotonic() > deadline:
            late = True
            for pid in pids:
                if pid not in statuses:
                    os.kill(pid, signal.SIGKILL)
                    statuses[pid] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        time.sleep(0.002)
    return [statuses[pid] for pid in pids], late


def _lines(fd: int) -> Iterator[str]:
    """Lines read straight from the descriptor: no file object owns it, so a child can close it freely."""
    pending = b""
    while chunk := os.read(fd, 65536):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from (line.decode() for line in complete)


def serve(requests: int, answers: int) -> None:
    for line in _lines(requests):
        batch = json.loads(line)
        pids = []
        for command in batch["commands"]:
            pid = os.fork()
            if pid == 0:
                _child(command, (requests, answers))
            pids.append(pid)
        codes, late = _wait(pids, batch["timeout"])
        os.write(answers, (json.dumps({"codes": codes, "late": late}) + "\n").encode())


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
