"""Time each process spent running and waiting for a core, read from the kernel's scheduler statistics.

On two saturated cores a process that has work can still be kept off them: its CPU time says what it did, not
what it waited for. Linux counts both for every thread in `/proc/<pid>/task/<tid>/schedstat` (nanoseconds on a
core, nanoseconds runnable on a run queue, timeslices). Summed over a process's threads and taken before and
after an interval, they tell whether a process was slow because it waited for the write lock or a socket (then
it was neither running nor queued), or because it was runnable and the scheduler gave its core to others.

Threads that end between the two readings take their counts with them; a gateway's threads (Kannel's boxes, the
worker threads of Martinet's processes) live as long as it does. No root needed: a process may read the
statistics of processes of its own user. Kernels built without scheduler statistics have no such file: the
readings are then empty and the figures left out.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

#: Running and waiting-for-a-core seconds of each process (by name) at one moment.
Reading = dict[str, tuple[float, float]]


def thread_seconds(pid: int, proc: Path = Path("/proc")) -> tuple[float, float] | None:
    """(seconds on a core, seconds runnable on a run queue) summed over the threads of `pid`; None if it has
    ended or the kernel keeps no scheduler statistics."""
    running = waiting = 0
    try:
        tasks = os.listdir(proc / str(pid) / "task")
    except OSError:
        return None
    found = False
    for tid in tasks:
        with contextlib.suppress(OSError, ValueError):  # a thread may end while it is read
            on_core, queued, _slices = (proc / str(pid) / "task" / tid / "schedstat").read_text().split()
            running += int(on_core)
            waiting += int(queued)
            found = True
    return (running / 1e9, waiting / 1e9) if found else None


def read(processes: list[tuple[str, int]], proc: Path = Path("/proc")) -> Reading:
    """The seconds of these (name, pid) processes, those of one name added together."""
    reading: Reading = {}
    for name, pid in processes:
        seconds = thread_seconds(pid, proc)
        if seconds is None:
            continue
        running, waiting = reading.get(name, (0.0, 0.0))
        reading[name] = (running + seconds[0], waiting + seconds[1])
    return reading


def shares(before: Reading, after: Reading, seconds: float) -> dict[str, dict[str, float]]:
    """Each process's time running and waiting for a core between two readings, as shares of `seconds` (a
    process with several threads can run more than 1.0: two cores make 2.0)."""
    if seconds <= 0:
        return {}
    return {
        name: {
            "running": round((running - before[name][0]) / seconds, 2),
            "waiting_for_a_core": round((waiting - before[name][1]) / seconds, 2),
        }
        for name, (running, waiting) in after.items()
        if name in before
    }
