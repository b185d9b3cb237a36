"""How often a failure that repeats is written to the log: the first of its kind in full, then one line a while.

A handler that fails keeps failing while its cause lasts: with the store unable to write, every receipt the
carrier sends, and sends again after each `ESME_RX_T_APPN`, fails with the same error. Logged one by one with its
traceback, each would add its 30-odd lines, hundreds a minute, burying whatever else the log says and costing
CPU and disk when neither can be spared. Each answer still goes to the peer; only the log is thinned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

#: Seconds during which further failures of a kind are counted rather than written.
INTERVAL = 10.0


@dataclass(slots=True)
class _Seen:
    logged_at: float
    since: int  # failures of the kind not written since `logged_at`


class RepeatedFailures:
    """Writes `log.error` for failures grouped by kind (a request's command and the exception's type): the first
    of a kind with its traceback, then at most one line per `interval` seconds for it, counting those left out."""

    def __init__(self, log: logging.Logger, clock: Callable[[], float], interval: float = INTERVAL) -> None:
        self._log = log
        self._clock = clock
        self._interval = interval
        self._seen: dict[tuple[str, type[BaseException]], _Seen] = {}

    def failed(self, command: str, exc: BaseException) -> None:
        kind = (command, type(exc))
        now = self._clock()
        seen = self._seen.get(kind)
        if seen is not None and now - seen.logged_at < self._interval:
            seen.since += 1
            return
        if seen is None or not seen.since:  # the first of its kind, or the first after a quiet interval
            self._log.error("smpp handler failed on %s: %r", command, exc, exc_info=exc)
        else:
            self._log.error(
                "smpp handler failed on %s: %r (and %d more like it in the %.0f s before)",
                command,
                exc,
                seen.since,
                now - seen.logged_at,
            )
        self._seen[kind] = _Seen(now, 0)
