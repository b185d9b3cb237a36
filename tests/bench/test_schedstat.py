"""A process's time running and waiting for a core (`bench.schedstat`): read from the kernel for real processes
kept busy on one core, and summed over a process's threads."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import schedstat

#: Spins until killed.
BUSY = "while True: pass"


def _started(program: str, core: int) -> subprocess.Popen[bytes]:
    child = subprocess.Popen([sys.executable, "-c", program])
    os.sched_setaffinity(child.pid, {core})
    return child


@pytest.fixture
def core() -> int:
    if not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/schedstat").exists():
        pytest.skip("this kernel keeps no scheduler statistics (/proc/<pid>/task/<tid>/schedstat)")
    return min(os.sched_getaffinity(0))


def test_three_busy_processes_on_one_core_each_run_a_third_and_wait_the_rest(core: int) -> None:
    children = [_started(BUSY, core) for _ in range(3)]
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.5)  # started, imports done
        processes = [("busy", children[0].pid), ("idle", idle.pid)]
        before, began = schedstat.read(processes), time.monotonic()
        time.sleep(1.5)
        after, ended = schedstat.read(processes), time.monotonic()
    finally:
        for child in [*children, idle]:
            child.kill()
            child.wait()

    shares = schedstat.shares(before, after, ended - began)

    busy = shares["busy"]
    assert 0.05 < busy["running"] < 0.55  # a third of one core, less when other work shares it
    assert busy["waiting_for_a_core"] > 0.4  # runnable all along: the rest waiting for the core
    assert busy["running"] + busy["waiting_for_a_core"] > 0.85
    assert shares["idle"] == {"running": 0.0, "waiting_for_a_core": 0.0}  # asleep is neither


def test_a_process_s_threads_are_added_up_and_so_are_processes_of_one_name(tmp_path: Path) -> None:
    for pid, tid, line in (
        ("100", "100", "2000000000 500000000 40\n"),
        ("100", "101", "1000000000 250000000 12\n"),
        ("200", "200", "500000000 0 3\n"),
    ):
        (tmp_path / pid / "task" / tid).mkdir(parents=True)
        (tmp_path / pid / "task" / tid / "schedstat").write_text(line)

    assert schedstat.thread_seconds(100, tmp_path) == (3.0, 0.75)
    assert schedstat.thread_seconds(999, tmp_path) is None  # ended
    assert schedstat.read([("http", 100), ("http", 200), ("gone", 999)], tmp_path) == {"http": (3.5, 0.75)}


def test_shares_are_of_the_interval_for_the_processes_read_both_times() -> None:
    before = {"http": (1.0, 0.5), "engine": (2.0, 0.0)}
    after = {"http": (3.0, 1.5), "engine": (2.5, 1.0), "new": (1.0, 1.0)}

    assert schedstat.shares(before, after, 2.0) == {
        "http": {"running": 1.0, "waiting_for_a_core": 0.5},
        "engine": {"running": 0.25, "waiting_for_a_core": 0.5},
    }
    assert schedstat.shares(before, after, 0.0) == {}
