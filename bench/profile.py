"""Where Martinet's CPU goes, by process and by stage of a message's life (accept, dispatch, receipt, callback).

`python -m bench.kannel --only martinet --profile DIR` samples each process of `martinet serve` with py-spy
(100 samples a second, without pausing it) for the whole measured run, writes each process's samples to
DIR/<process>.txt (py-spy's collapsed stacks: one line per distinct stack with its count) and its flame graph to
DIR/<process>.svg (`python -m bench` keeps those of its profiled run in docs/flamegraphs/), and sorts every
sample into a stage by the frames on its stack (`STAGES`). A process's CPU per message (`/proc`, as the Kannel
rows measure it) is then shared out between its stages in proportion to their samples. py-spy counts only samples
in which a thread is running, so the shares are of busy time.

Sampling costs the machine some CPU of its own (py-spy runs beside the gateway on the same cores), so the
figures of a profiled run are not those of the comparison: the shares are what this run is for.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from bench.harness import interrupt_all, named_processes

#: (process, stage, markers): a sample of the process belongs to the first stage one of whose markers appears
#: in one of its frames (a module path or a function name; `leaf:` only in the innermost frame); a stage
#: without markers takes the process's rest. A message's status callbacks are queued by the transaction that
#: changes its status, so that part of their cost is the dispatch's or the receipt's; the "callback" stage is
#: the notifier's work. The engine's commits run after the work of their transaction has returned, so their
#: stacks do not say whose they are: they are a stage of their own, with the waits for the write lock and for
#: the thread that writes (a sampled thread that is runnable but waits for a core, or for the interpreter lock,
#: counts as busy).
STAGES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("martinet http-0", "accept", ()),
    ("martinet notifier", "callback", ()),
    (
        "martinet engine",
        "receipt",
        (
            "martinet/store/receipts.py",
            "martinet/engine/receipts.py",
            "martinet/connectors/smpp/receipts.py",
            "martinet/smpp/receipt.py",
            "SmppConnector._inbound_pdu",
            "SmppConnector._on_request",
        ),
    ),
    (
        "martinet engine",
        "dispatch",
        (
            "martinet/engine/dispatcher.py",
            "martinet/store/dispatch.py",
            "martinet/store/claims.py",
            "martinet/connectors/smpp/connector.py",
            "martinet/connectors/smpp/throttle.py",
            "martinet/connectors/smpp/concat.py",
            "martinet/connectors/smpp/coding.py",
        ),
    ),
    (
        "martinet engine",
        "SQLite commits, write lock",
        ("DefaultDialect.do_commit", "leaf:_WorkItem.run (concurrent/futures", "leaf:_worker (concurrent/futures"),
    ),
    ("martinet engine", "event loop, SMPP socket I/O, timers", ()),
)


def _spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise RuntimeError("py-spy is missing: `make install` installs it with the development dependencies")
    return found


#: What py-spy writes of each process: its collapsed stacks (for the stages) and its flame graph, an SVG that
#: a browser shows with zoom and search. py-spy draws the graph only from samples it takes itself, so each
#: process is sampled twice, side by side.
FORMATS = (("raw", "txt"), ("flamegraph", "svg"))


@contextlib.contextmanager
def sampled(group: int, out: Path, rate: int = 100) -> Iterator[None]:
    """py-spy records every process of `martinet serve` (process group `group`) but its supervisor, each into
    `out/<role>.txt` and `out/<role>.svg` (`FORMATS`), from entering the block to leaving it."""
    out.mkdir(parents=True, exist_ok=True)
    spy = _spy()
    recorders: list[subprocess.Popen[bytes]] = []
    for name, pid, _cpu in named_processes([group], []):
        if not name.startswith("martinet ") or name == "martinet supervisor":
            continue
        for form, suffix in FORMATS:
            target = out / f"{name.removeprefix('martinet ')}.{suffix}"
            command = [spy, "record", "-p", str(pid), "-r", str(rate), "-f", form, "-o", str(target), "--nonblocking"]
            recorders.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        yield
    finally:
        interrupt_all(recorders)  # py-spy writes its file when interrupted


#: The title py-spy gives a flame graph: its own command line, with the run's temporary folder and process id.
_TITLE = re.compile(r'(<text id="title"[^>]*>)[^<]*(</text>)')


def keep_flame_graphs(sampled: Path, into: Path) -> list[Path]:
    """Copy the flame graphs of a profiled run (`sampled`, the folder given to `python -m bench.kannel --profile`)
    into `into`, one per process, replacing those of an earlier run; returns what was written. Each is titled
    with its process instead of the sampler's command line, which names only things gone after the run."""
    graphs = sorted(sampled.rglob("*.svg"))
    if not graphs:
        return []
    into.mkdir(parents=True, exist_ok=True)
    for old in into.glob("*.svg"):
        old.unlink()
    kept: list[Path] = []
    for graph in graphs:
        target = into / graph.name
        target.write_text(_titled(graph.read_text(encoding="utf-8"), graph.stem), encoding="utf-8")
        kept.append(target)
    return kept


def _titled(svg: str, process: str) -> str:
    title = f"martinet {process}: CPU samples under the Kannel comparison (bench/profile.py)"
    return _TITLE.sub(lambda found: found[1] + title + found[2], svg, count=1)


def stage_samples(process: str, collapsed: str) -> Counter[str]:
    """Samples per stage of one process, from py-spy's collapsed stacks (`frame;frame;… count` lines)."""
    rules = [(stage, markers) for name, stage, markers in STAGES if name == process]
    counts: Counter[str] = Counter()
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        leaf = stack.rpartition(";")[2]
        for stage, markers in rules:
            if not markers or any(_marks(marker, stack, leaf) for marker in markers):
                counts[stage] += int(count)
                break
        else:
            counts["other"] += int(count)
    return counts


def _marks(marker: str, stack: str, leaf: str) -> bool:
    if marker.startswith("leaf:"):
        return leaf.startswith(marker.removeprefix("leaf:"))
    return marker in stack


def stages_per_message(out: Path, cpu_s: dict[str, float], messages: int) -> dict[str, dict[str, float]]:
    """CPU milliseconds per message of each (process, stage): the process's CPU shared out by its samples."""
    figures: dict[str, dict[str, float]] = {}
    for process in dict.fromkeys(name for name, _stage, _markers in STAGES):
        path = out / f"{process.removeprefix('martinet ')}.txt"
        if not path.exists() or process not in cpu_s or messages <= 0:
            continue
        counts = stage_samples(process, path.read_text())
        total = sum(counts.values())
        if total == 0:
            continue
        per_message = 1000 * cpu_s[process] / messages
        figures[process] = {stage: round(per_message * n / total, 3) for stage, n in counts.most_common()}
    return figures
