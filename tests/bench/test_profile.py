"""Sorting py-spy's samples into stages: each sample goes to the first stage of its process that one of its
frames names, commits to their own stage, and a process's CPU is shared out in proportion."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.__main__ import _stages

from bench import profile

pytestmark = pytest.mark.unit

ENGINE = """\
_engine_main (martinet/server.py:239);Dispatcher._loop (martinet/engine/dispatcher.py:120);SmppConnector.submit (martinet/connectors/smpp/connector.py:300) 40
_worker (concurrent/futures/thread.py:83);_run (martinet/store/database.py:128);ReceiptStore.apply.<locals>.<lambda> (martinet/store/receipts.py:500);apply_receipts (martinet/store/receipts.py:310) 20
_worker (concurrent/futures/thread.py:83);_run (martinet/store/database.py:128);DispatchStore.record.<locals>.work (martinet/store/dispatch.py:200);enqueue_status (martinet/store/outbox.py:80) 10
_worker (concurrent/futures/thread.py:83);_run (martinet/store/database.py:127);TransactionalContext.__exit__ (sqlalchemy/engine/util.py:147);DefaultDialect.do_commit (sqlalchemy/engine/default.py:700) 15
_worker (concurrent/futures/thread.py:83);_WorkItem.run (concurrent/futures/thread.py:58) 5
_engine_main (martinet/server.py:239);run (uvloop/__init__.py:92);Runner.run (asyncio/runners.py:118) 10
"""


def test_engine_samples_go_to_the_stage_their_frames_name() -> None:
    counts = profile.stage_samples("martinet engine", ENGINE)

    assert counts == {
        "dispatch": 50,  # the submit path and the submissions' transaction, its callbacks queued included
        "receipt": 20,
        "SQLite commits, write lock": 20,  # the commit, and the wait for the lock (innermost frame only)
        "event loop, SMPP socket I/O, timers": 10,
    }


def test_a_process_with_one_stage_takes_every_sample_and_unreadable_lines_are_skipped() -> None:
    collapsed = "a (x.py:1);b (y.py:2) 7\nnot a sample line\n\nc (z.py:3) 3\n"

    assert profile.stage_samples("martinet notifier", collapsed) == {"callback": 10}


def test_cpu_per_message_is_shared_out_by_samples(tmp_path: Path) -> None:
    (tmp_path / "engine.txt").write_text(ENGINE)
    (tmp_path / "notifier.txt").write_text("x (martinet/engine/notifier.py:1) 4\n")
    cpu_s = {"martinet engine": 10.0, "martinet notifier": 2.0, "martinet http-0": 3.0}  # http-0 not sampled

    figures = profile.stages_per_message(tmp_path, cpu_s, messages=10_000)

    assert figures == {
        "martinet notifier": {"callback": 0.2},
        "martinet engine": {
            "dispatch": 0.5,
            "receipt": 0.2,
            "SQLite commits, write lock": 0.2,
            "event loop, SMPP socket I/O, timers": 0.1,
        },
    }


def test_the_page_row_names_each_stage_with_its_process() -> None:
    stages = {"martinet http-0": {"accept": 0.4}, "martinet engine": {"dispatch": 0.3, "receipt": 0.25}}

    assert _stages(stages) == "accept 0.40 (http-0); dispatch 0.30, receipt 0.25 (engine)"


def test_the_flame_graphs_of_a_run_replace_those_kept_before(tmp_path: Path) -> None:
    run, kept = tmp_path / "run", tmp_path / "docs" / "flamegraphs"
    (run / "martinet-all").mkdir(parents=True)
    (run / "martinet-all" / "engine.svg").write_text(
        '<svg><text id="title" x="50%">py-spy record -p 7 -o /tmp/x</text></svg>'
    )
    (run / "martinet-all" / "engine.txt").write_text("a (x.py:1) 1\n")  # the stacks stay with the run
    (run / "martinet-all" / "http-0.svg").write_text("<svg>http</svg>")
    kept.mkdir(parents=True)
    (kept / "notifier.svg").write_text("<svg>an earlier run's</svg>")

    written = profile.keep_flame_graphs(run, kept)

    assert written == [kept / "engine.svg", kept / "http-0.svg"]
    assert sorted(path.name for path in kept.iterdir()) == ["engine.svg", "http-0.svg"]
    assert (kept / "engine.svg").read_text() == (
        '<svg><text id="title" x="50%">martinet engine: CPU samples under the Kannel comparison (bench/profile.py)'
        "</text></svg>"
    )


def test_a_run_without_flame_graphs_leaves_those_kept(tmp_path: Path) -> None:
    kept = tmp_path / "flamegraphs"
    kept.mkdir()
    (kept / "engine.svg").write_text("<svg/>")

    assert profile.keep_flame_graphs(tmp_path / "empty", kept) == []
    assert (kept / "engine.svg").exists()
