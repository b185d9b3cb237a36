"""The garbage collector's settings for the gateway's long-running processes (HTTP workers, engine, notifier).

CPython collects its youngest generation each time 700 more container objects have been allocated than freed.
A gateway under load allocates in bursts that are freed a moment later (a batch of receipts, a claim of
callbacks, a request's parsing), so with that default each process ran a collection every few milliseconds:
each one walked the objects of the batches in flight, promoted those to older generations, and every few
seconds a full collection walked everything, the thousands of objects imported and built at start included.
Under the Kannel comparison (docs/benchmarks-history.md) this cost each process 8 to 13 % of its CPU, a tenth of a
millisecond per message in all.

Two settings remove most of it:
- `gc.freeze()` once a process has started: what it imported and built at start lives as long as it does, and
  is no longer walked by any collection.
- A youngest-generation threshold of `YOUNG_THRESHOLD`: a burst that is freed before that many objects pile
  up triggers no collection at all. What the collector is there for, reference cycles, is still collected: a
  collection runs once that many objects outlive their burst, and its pause stays short (about 10 ms for a
  full young generation here, far below the OTP latency bar).
The cost is memory: up to that many objects in garbage cycles may wait for the next collection, a few
megabytes.
"""

from __future__ import annotations

import gc

#: Container objects allocated and not freed that start a collection of the youngest generation (CPython: 700).
YOUNG_THRESHOLD = 50_000
#: Collections of a generation that start one of the next (CPython's defaults, kept).
OLDER_THRESHOLDS = (10, 10)


def settle_after_start() -> None:
    """Call once a process has built what it runs, just before it starts serving."""
    gc.collect()  # what start-up left as garbage, not frozen with the rest
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
