"""The garbage collector's settings of the gateway's processes (`martinet.collector`), each check in a Python of
its own: the settings are the whole process's, and the test runner's must stay as they are."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


def test_what_a_process_built_at_start_is_frozen_and_short_lived_bursts_start_no_collection() -> None:
    out = _run(
        """
        import gc
        from martinet import collector, server  # what a process imports before it starts serving
        collections = []
        gc.callbacks.append(lambda phase, info: phase == "start" and collections.append(info["generation"]))
        collector.settle_after_start()
        frozen = gc.get_freeze_count()
        collections.clear()
        for _ in range(200):  # bursts of containers freed at once, as a batch of receipts or callbacks is
            burst = [{"id": i} for i in range(5_000)]
            del burst
        print(frozen, len(collections))
        """
    )
    frozen, collections = map(int, out.split())
    assert frozen > 10_000  # the modules, classes and functions of the gateway
    assert collections == 0


def test_reference_cycles_are_still_collected_without_being_asked() -> None:
    out = _run(
        """
        import gc, weakref
        from martinet import collector
        collector.settle_after_start()

        class Node:
            pass

        first = Node()
        first.other = Node()
        first.other.other = first  # a cycle: reference counting alone never frees it
        alive = weakref.ref(first)
        del first
        kept = []
        for i in range(collector.YOUNG_THRESHOLD * 2):  # objects that outlive their burst
            kept.append([i])
        print(alive() is None)
        """
    )
    assert out == "True"
