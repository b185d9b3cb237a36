"""When the supervisor of `martinet serve` starts a child process again after it died.

A child that ran a while and died (killed, out of memory) is started again at once: the sooner it serves again,
the better. One that dies soon after each start keeps meeting whatever ended it (a setting it cannot use, a
resource gone); started again at once each time, it would cost a new interpreter and a traceback in the log
several times a second for as long as the cause lasts. So each quick death in a row doubles the wait before the
next start, up to a cap, as init systems do (systemd's `RestartSec` with a start limit, supervisord's backoff);
a run longer than `QUICK_S` starts the count again.
"""

from __future__ import annotations

from collections.abc import Callable

from martinet.domain.backoff import doubling

#: A child that dies within this many seconds of its start died "quickly".
QUICK_S = 10.0
#: Seconds before the start after a first quick death, doubled after each further one, at most `MOST_S`.
FIRST_S = 0.5
MOST_S = 30.0


class Restarts:
    """Each child's start time and its quick deaths in a row; `clock` is monotonic seconds."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._started: dict[str, float] = {}
        self._quick: dict[str, int] = {}

    def started(self, name: str) -> None:
        self._started[name] = self._clock()

    def died(self, name: str) -> float:
        """Seconds to wait before starting `name` again, now that it has died."""
        now = self._clock()
        ran = now - self._started.get(name, now)
        if ran >= QUICK_S:
            self._quick[name] = 0
            return 0.0
        self._quick[name] = quick = self._quick.get(name, 0) + 1
        return doubling(quick, FIRST_S, MOST_S, most=8)
