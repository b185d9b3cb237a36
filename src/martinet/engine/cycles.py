"""A loop's failed cycles in a row: how long it waits before the next, and what it logs.

Every loop of the engine and the notifier that works the store in cycles (claiming messages, claiming callbacks,
releasing scheduled messages, concluding overdue parts) meets the same faults alike: while the database cannot be
reached or cannot take writes, every cycle fails. Trying again at once would fail many times a second, each time
with a traceback and CPU that the rest of the gateway needs. So a loop's first failure of a run is logged with its
traceback, the next ones on a line each (how many in a row, the error), the pause doubles after each, and the
first cycle that succeeds again says so. docs/operations.md ("Failures that repeat") promises this to operators.

The steps an engine or a notifier takes once before its loops (taking back the claims of its node's earlier run,
its first heartbeat) are tried again by the same rule (`retried`) rather than ending the process: ended, its
supervisor would start it again at once, to fail again at its first statement, a new process a second for as
long as the database is gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from martinet.domain.backoff import doubling
from martinet.engine.waiting import first_of

T = TypeVar("T")

#: Seconds a loop waits after its first failed cycle, doubled after each further one up to `RETRY_MAX`. Short
#: enough that a brief fault (a database failing over) costs little delay, long enough that a lasting one fails
#: a few times a second at first and once every two seconds after.
RETRY_FIRST = 0.25
RETRY_MAX = 2.0


class CycleFailures:
    """The failures in a row of the loop named `what` ("dispatch cycle", "claiming callbacks"), logged on `log`."""

    __slots__ = ("_log", "_what", "failures")

    def __init__(self, what: str, log: logging.Logger) -> None:
        self._what = what
        self._log = log
        self.failures = 0

    def failed(self, exc: BaseException) -> float:
        """Log this failure (called in its `except` block) and return the seconds to wait before the next cycle."""
        self.failures += 1
        pause = doubling(self.failures, RETRY_FIRST, RETRY_MAX, most=8)
        if self.failures == 1:
            self._log.error("%s failed; trying again in %.2f s", self._what, pause, exc_info=exc)
        else:
            self._log.error(
                "%s failed again (%d in a row): %r; trying again in %.2f s", self._what, self.failures, exc, pause
            )
        return pause

    def succeeded(self) -> None:
        """The cycle went through: if it ends a run of failures, say so, and start the pauses again from the first."""
        if self.failures:
            self._log.info("%s succeeded again after %d failures", self._what, self.failures)
            self.failures = 0


async def retried(what: str, log: logging.Logger, stop: asyncio.Event, step: Callable[[], Awaitable[T]]) -> T | None:
    """`step`'s result once it succeeds, tried again after each failure as a loop's cycle is; None if `stop` is set
    first."""
    failures = CycleFailures(what, log)
    while not stop.is_set():
        try:
            result = await step()
        except Exception as exc:
            await first_of(stop, within=failures.failed(exc))
            continue
        failures.succeeded()
        return result
    return None
