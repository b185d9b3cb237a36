"""What a gateway asks of the kernel per message: system calls counted by process during a measured run.

`python -m bench.kannel --syscalls DIR` attaches `strace -c -f` (Debian package `strace`) to each process of the
gateway under test (Martinet's engine, notifier and HTTP workers; Kannel's bearerbox and smsbox) with all its
threads, for the measured run only, writes strace's summary of each to DIR/<run>/<process>.txt (the run: `martinet`,
`kannel`, `martinet_final`, `kannel_spool`), and adds to the run's figures the calls per message of each process by
system call (`syscalls_per_message`).

On the virtual machines these benchmarks have run on, a system call cost up to about 0.45 µs from Python
(docs/benchmarks-history.md), and a Python profile does not show it: the kernel's time lands on the Python frame that made
the call. The counts say which calls a message
makes and how often, which the CPU figures alone cannot. strace stops each traced thread at every call, so a
counted run is several times slower and its other figures are not those of a comparison: the counts per message
are what it is for (a slower run batches differently, so they are of the same order, not the same, as at full
speed).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from bench.harness import interrupt_all


def _strace() -> str:
    found = shutil.which("strace")
    if found is None:
        raise RuntimeError("strace is missing: install the Debian package `strace`")
    return found


@contextlib.contextmanager
def counted(processes: Sequence[tuple[str, int]], out: Path) -> Iterator[None]:
    """Count the system calls of each (name, pid), threads included, from entering the block to leaving it, into
    `out/<name>.txt` (strace's summary table)."""
    out.mkdir(parents=True, exist_ok=True)
    strace = _strace()
    tracers = [
        subprocess.Popen(
            [strace, "-c", "-f", "-p", str(pid), "-o", str(out / f"{name}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in processes
    ]
    try:
        for _name, pid in processes:
            _wait_traced(pid)
        yield
    finally:
        interrupt_all(tracers)  # strace detaches and writes its summary when interrupted


def _wait_traced(pid: int, timeout: float = 10.0) -> None:
    """Return once every thread of `pid` has a tracer (strace attaches after it starts, thread by thread), so that
    the block counts from its first call; a process that ends meanwhile has nothing left to count."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
            if all(_tracer(task) for task in tasks):
                return
        if not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.01)
    raise RuntimeError(f"strace did not attach to process {pid} within {timeout:g} s")


def _tracer(task: Path) -> int:
    """The pid tracing a thread (`/proc/<pid>/task/<tid>`), 0 for none."""
    for line in (task / "status").read_text().splitlines():
        if line.startswith("TracerPid:"):
            return int(line.split()[1])
    return 0


def calls(summary: str) -> dict[str, int]:
    """The calls per system call of one strace summary (`strace -c`), most frequent first; errors included."""
    found: dict[str, int] = {}
    for line in summary.splitlines():
        fields = line.split()
        # % time, seconds, usecs/call, calls, [errors], syscall: the rows of the table, not its rules or total
        if len(fields) in (5, 6) and fields[3].isdigit() and fields[-1] != "total":
            found[fields[-1]] = int(fields[3])
    return dict(sorted(found.items(), key=lambda item: (-item[1], item[0])))


def per_message(out: Path, messages: int, least: float = 0.1) -> dict[str, dict[str, float]]:
    """Each process's calls per message (those made at least `least` times a message), from the summaries
    `counted` wrote into `out`."""
    figures: dict[str, dict[str, float]] = {}
    for summary in sorted(out.glob("*.txt")):
        rates = {name: round(n / max(messages, 1), 2) for name, n in calls(summary.read_text()).items()}
        figures[summary.stem] = {name: rate for name, rate in rates.items() if rate >= least}
    return figures
