"""Instructions one accepted send costs the HTTP worker's app, counted by valgrind's callgrind.

A timing of the accept path moves by a tenth from one run to the next on a shared machine, so a change that saves
a few per cent of it cannot be told from noise without many alternated runs. A count of the instructions the
processor executed does not move (callgrind gives the same total for the same program and inputs, whatever else
the machine is doing), so it can judge such a change in one run of each side.

The app is driven in process (`python -m bench.http_cpu --in-process`, one recipient a send, every send
durable), twice at once with two numbers of sends; the difference of the two totals over the difference of the
counts is the cost of one send, with the start, the imports and the warm-up cancelled out. Left out: the HTTP
server (uvicorn and the sockets, about a fifth of an accept's time under load, docs/benchmarks-history.md), the
kernel's work (a system call is one instruction to callgrind, the disk's sync none), and what a cache miss
costs. Instructions are not time, but on one machine fewer instructions on the same path is less CPU.

    python -m bench.accept_instructions --door legacy

`--stages` counts the store's stages of a message instead (`python -m bench.stages --rounds 1 --batch 100`:
acceptance, claim, recorded submission, two receipts, three callbacks claimed and marked, in one process on
SQLite), 2,000 and 4,000 messages: the engine's and the notifier's share of the database work, whose SQLite library
calls an accept makes few of.

    python -m bench.accept_instructions --stages
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Sends of the two runs: the difference weighs 2,000 sends, each run under valgrind one to two minutes.
COUNTS = (500, 2500)
#: Messages of the two runs of `--stages`: each under valgrind about a minute and a half.
STAGE_COUNTS = (2000, 4000)


def read_total(path: Path) -> int:
    """The total of a callgrind output file: its `summary:` line (its `totals:` line in older versions)."""
    for line in path.read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("summary", "totals"):
            return int(value.split()[0])
    raise ValueError(f"{path}: no summary line; is it a callgrind output file?")


def start_counting(argv: list[str], out: Path, log: Path) -> subprocess.Popen[bytes]:
    """`argv` started under callgrind, its total written to `out` when it ends."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed (Debian package valgrind)")
    command = [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}", f"--log-file={log}", *argv]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)


def count_each(argvs: list[list[str]], timeout: float) -> list[int]:
    """The instructions of each program, run side by side under callgrind."""
    with tempfile.TemporaryDirectory(prefix="callgrind-") as folder:
        outs = [Path(folder) / f"run-{i}.out" for i in range(len(argvs))]
        runs = [start_counting(a, out, out.with_suffix(".log")) for a, out in zip(argvs, outs, strict=True)]
        try:
            for run, out in zip(runs, outs, strict=True):
                if run.wait(timeout) != 0:
                    raise RuntimeError(f"{run.args!r} exited with {run.returncode}: {_tail(out.with_suffix('.log'))}")
        finally:
            for run in runs:
                if run.poll() is None:
                    run.kill()
                    run.wait()
        return [read_total(out) for out in outs]


def per_unit(totals: list[int], counts: tuple[int, int]) -> float:
    """What one more unit of work costs: the slope between two runs that differ only in how many they do."""
    if counts[1] <= counts[0]:
        raise ValueError(f"the second count must be the larger: {counts}")
    return (totals[1] - totals[0]) / (counts[1] - counts[0])


def measure(door: str, counts: tuple[int, int] = COUNTS, timeout: float = 900.0) -> dict[str, object]:
    argvs = [
        [sys.executable, "-m", "bench.http_cpu", "--in-process", "--door", door, "--count", str(count)]
        for count in counts
    ]
    totals = count_each(argvs, timeout)
    return {"instructions_per_accept": round(per_unit(totals, counts)), "counts": list(counts), "totals": totals}


def measure_stages(counts: tuple[int, int] = STAGE_COUNTS, timeout: float = 900.0) -> dict[str, object]:
    argvs = [
        [sys.executable, "-m", "bench.stages", "--rounds", "1", "--batch", "100", "--messages", str(count)]
        for count in counts
    ]
    totals = count_each(argvs, timeout)
    return {"instructions_per_message": round(per_unit(totals, counts)), "counts": list(counts), "totals": totals}


def _tail(log: Path) -> str:
    return log.read_text()[-2000:] if log.exists() else "(no log)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--door", choices=["legacy", "rest", "both"], default="both")
    parser.add_argument("--counts", type=int, nargs=2, metavar=("FEWER", "MORE"), help="sends (or messages)")
    parser.add_argument("--stages", action="store_true", help="the store's stages of a message, not an accept")
    args = parser.parse_args()
    if args.stages:
        fewer, more = args.counts or STAGE_COUNTS
        print(json.dumps({"store_stages": measure_stages((fewer, more))}))
        return
    fewer, more = args.counts or COUNTS
    doors = ["legacy", "rest"] if args.door == "both" else [args.door]
    print(json.dumps({door: measure(door, (fewer, more)) for door in doors}))


if __name__ == "__main__":
    main()
