"""Counting a gateway's system calls with strace (`bench.syscalls`): strace's summary read back, and a running
process counted, threads included, for the block only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench import syscalls
from tests.programs import require

#: Waits for a line, then calls getppid() 100 times in a thread started then, answers, and calls it 50 times more
#: once told to end: only the 100 are made inside the counted block.
CHILD = """
import os, sys, threading
sys.stdin.readline()
worker = threading.Thread(target=lambda: [os.getppid() for _ in range(100)])
worker.start()
worker.join()
print("done", flush=True)
sys.stdin.readline()
for _ in range(50):
    os.getppid()
"""


def test_a_summary_gives_each_call_its_count_most_frequent_first(tmp_path: Path) -> None:
    require(("strace", "strace"))
    summary = tmp_path / "summary.txt"
    program = "import os\nfor _ in range(300): os.getppid()\nfor _ in range(200): os.umask(0o22)"
    subprocess.run(["strace", "-c", "-f", "-o", str(summary), sys.executable, "-c", program], check=True, timeout=60)

    counted = syscalls.calls(summary.read_text())

    assert counted["getppid"] == 300
    assert counted["umask"] == 200
    assert "total" not in counted
    assert list(counted.values()) == sorted(counted.values(), reverse=True)


def test_a_running_process_is_counted_with_its_threads_inside_the_block_only(tmp_path: Path) -> None:
    require(("strace", "strace"))
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdin is not None and child.stdout is not None
    try:
        with syscalls.counted([("child", child.pid)], tmp_path):
            assert 0 not in _tracers(child.pid)  # strace is attached before the block starts
            child.stdin.write("go\n")
            child.stdin.flush()
            assert child.stdout.readline() == "done\n"
        child.stdin.write("end\n")
        child.stdin.flush()
        assert child.wait(30) == 0
    finally:
        child.kill()

    assert syscalls.calls((tmp_path / "child.txt").read_text())["getppid"] == 100
    assert syscalls.per_message(tmp_path, messages=50)["child"]["getppid"] == 2.0


def _tracers(pid: int) -> set[int]:
    """The tracer of each thread of `pid` (0: none)."""
    return {
        int(line.split()[1])
        for task in Path(f"/proc/{pid}/task").iterdir()
        for line in (task / "status").read_text().splitlines()
        if line.startswith("TracerPid:")
    }
