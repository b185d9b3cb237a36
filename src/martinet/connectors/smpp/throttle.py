"""Who sends the next part, and when: a connector's throughput, shared by its binds and split by lane.

Two token buckets, filled by the clock:

* ``total``, at the connector's rate ``R`` (configured throughput × this engine's share × any slow-down);
  every part takes a token from it;
* ``shared``, at ``(1 - otp_reserved_share) × R``; parts of the lanes below OTP take a token from it too.

So the campaign lanes together never use more than their part of the rate, and under a campaign that saturates
``shared`` the reserved share piles up in ``total``: a one-time password finds a token there and leaves at once.
Parts waiting for a token are served by priority (OTP, then notification, then marketing; first come first
served within a lane) by :class:`SendGate`, which also waits for a free window slot on a bind, so a part that has
its token goes on the wire at once instead of queueing behind others in a session's window.

Why a carrier limiting the account to ``R`` parts/s never answers ESME_RTHROTTLED: every part spends a token of
``total``, a bucket of rate at most ``R`` and depth ``b = max(1, R/10)``, and leaves when it spends it. Such a
stream fits any token bucket of the same rate and a depth ``C ≥ b`` (a carrier's is typically one second's
worth, ``C = R``): between two moments the carrier's bucket refills as fast as ours and starts fuller, so it
holds at least ``C - b`` more tokens than ours and has one whenever we had one. The ``C - b`` to spare
(0.9 s of traffic with the usual ``C = R``) absorbs network jitter that bunches parts up on the way, and a
restart of the connector, which begins with a full bucket of ``b``. Nothing here ever credits more than ``R``
per second: not right after connecting (the bucket starts with ``b``, not more), not across binds (one bucket
for all of them), and not when a slow-down ends (time before the restore is credited at the slow rate).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Final, Generic, Protocol, TypeVar

from martinet.domain.lanes import Lane

__all__ = ["LaneBuckets", "SendGate", "Slots", "lane_priority"]

_PRIORITY: Final = {Lane.OTP.value: 0, Lane.NOTIFICATION.value: 1, Lane.MARKETING.value: 2}
_LOWEST: Final = max(_PRIORITY.values())
BURST_SECONDS: Final = 0.1
"""Depth of the buckets in seconds of rate: small, so that what leaves in any interval stays close to the rate."""
_SLOWEST: Final = 0.05


def lane_priority(lane: str) -> int:
    """0 for OTP, 1 for notification, 2 for marketing (and for a lane this version does not know)."""
    return _PRIORITY.get(lane, _LOWEST)


def _depth(rate: float) -> float:
    return max(1.0, rate * BURST_SECONDS)


class LaneBuckets:
    """The token arithmetic, sans I/O: time is passed in, nothing sleeps.

    ``rate`` is the configured throughput (parts/s, 0 = unlimited, in which case nothing ever waits);
    ``reserved_share`` the fraction of it only OTP may use.
    """

    __slots__ = (
        "_nominal",
        "_reserved",
        "_restore_at",
        "_share",
        "_shared",
        "_slow",
        "_total",
        "_updated",
    )

    def __init__(self, rate: float, *, reserved_share: float = 0.0, now: float) -> None:
        if rate < 0:
            raise ValueError("rate must be positive, or 0 for unlimited")
        if not 0 <= reserved_share < 1:
            raise ValueError("reserved_share must be in [0, 1)")
        self._nominal = rate
        self._reserved = reserved_share
        self._share = 1.0
        self._slow = 1.0
        self._restore_at: float | None = None
        self._total = _depth(self.rate)
        self._shared = _depth(self.rate_for(otp=False))
        self._updated = now

    @property
    def unlimited(self) -> bool:
        return self._nominal == 0

    @property
    def rate(self) -> float:
        """Parts per second now, all lanes together (0 = unlimited)."""
        return self._nominal * self._share * self._slow

    def rate_for(self, *, otp: bool) -> float:
        """Parts per second now for OTP (all of it) or for the other lanes together (0 = unlimited)."""
        return self.rate if otp else self.rate * (1 - self._reserved)

    def set_share(self, fraction: float, now: float) -> None:
        """Use ``fraction`` (0 < fraction ≤ 1) of the configured rate from now on."""
        if not 0 < fraction <= 1:
            raise ValueError("the share of a connector's throughput must be in (0, 1]")
        self._advance(now)
        self._share = fraction
        self._clip()

    def slow_down(self, now: float, factor: float = 0.5, seconds: float = 5.0) -> None:
        """Cut the rate by ``factor`` (down to 5% at most, however often) and drop saved tokens, for ``seconds``.

        Called when the carrier answers ESME_RTHROTTLED or ESME_RMSGQFUL: its bucket is empty, ours should be too.
        """
        if self.unlimited:
            return
        self._advance(now)
        self._slow = max(_SLOWEST, self._slow * factor)
        self._restore_at = now + seconds
        self._total = min(self._total, 0.0)
        self._shared = min(self._shared, 0.0)

    def delay(self, *, otp: bool, now: float) -> float:
        """Seconds until a part of this kind could take its token(s); 0 if it can now."""
        if self.unlimited:
            return 0.0
        self._advance(now)
        wait = (1.0 - self._total) / self.rate if self._total < 1.0 else 0.0
        if not otp and self._shared < 1.0:
            wait = max(wait, (1.0 - self._shared) / self.rate_for(otp=False))
        return wait

    def take(self, *, otp: bool, now: float) -> None:
        """Spend the token(s) of one part; call only when ``delay`` is 0."""
        if self.unlimited:
            return
        self._advance(now)
        self._total -= 1.0
        if not otp:
            self._shared -= 1.0

    def _advance(self, now: float) -> None:
        """Credit the time elapsed since the last call, at the rate that held during it."""
        if now <= self._updated:
            return
        restore = self._restore_at
        if restore is not None and now >= restore:
            self._credit(max(0.0, restore - self._updated))
            self._slow, self._restore_at, self._updated = 1.0, None, max(self._updated, restore)
        self._credit(now - self._updated)
        self._updated = now

    def _credit(self, seconds: float) -> None:
        self._total = min(_depth(self.rate), self._total + seconds * self.rate)
        shared = self.rate_for(otp=False)
        self._shared = min(_depth(shared), self._shared + seconds * shared)

    def _clip(self) -> None:
        """A smaller rate has a smaller depth: never keep more tokens than the new depth allows."""
        self._total = min(self._total, _depth(self.rate))
        self._shared = min(self._shared, _depth(self.rate_for(otp=False)))


T = TypeVar("T")


class Slots(Protocol[T]):
    """Where a part can go once it has its token: a bind with room in its window."""

    def open(self) -> bool:
        """Whether any bind can transmit at all (if none, waiting is pointless)."""
        ...

    def reserve(self) -> T | None:
        """A bind with a free window slot, now counted as used; None if every window is full."""
        ...

    def release(self, slot: T) -> None:
        """The part sent through ``slot`` has its answer (or never went): the window slot is free again."""
        ...


class SendGate(Generic[T]):
    """Hands out, by lane priority, the right to send one part now: its token(s) and a window slot.

    Waiting here rather than in a session's window is what lets a one-time password overtake a campaign:
    whoever has been granted a slot is already on the wire, and the queue is ordered by lane.
    ``clock`` is the one the buckets are read with (monotonic seconds); timers are relative, so any
    monotonic clock works with any event loop.
    """

    def __init__(self, buckets: LaneBuckets, slots: Slots[T], *, clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets = buckets
        self._slots = slots
        self._clock = clock
        # (0 for a part that brings its slot else 1, lane priority, arrival, otp, slot brought, future)
        self._waiting: list[tuple[int, int, int, bool, T | None, asyncio.Future[T | None]]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def buckets(self) -> LaneBuckets:
        return self._buckets

    async def acquire(self, lane: str, slot: T | None = None) -> T | None:
        """Wait for a token and a slot; returns the slot, or None if no bind can transmit.

        The caller must give the slot back with :meth:`release` once the part has its answer. A part that
        brings its `slot` (the next part of a long message, in the slot its previous part kept) waits for a token
        only, ahead of parts waiting for a slot: slots kept by unfinished messages are freed only by finishing
        them, so were those parts to wait for a slot too, a window full of half-sent messages would wait for
        ever. Cancelled, it keeps its slot.
        """
        otp = lane == Lane.OTP
        if not self._live_waiters():
            now = self._clock()
            if self._buckets.delay(otp=otp, now=now) == 0:
                granted = slot if slot is not None else self._slots.reserve()
                if granted is not None:
                    self._buckets.take(otp=otp, now=now)
                    return granted
        if not self._slots.open():
            return None
        future: asyncio.Future[T | None] = asyncio.get_running_loop().create_future()
        entry = (0 if slot is not None else 1, lane_priority(lane), next(self._order), otp, slot, future)
        heapq.heappush(self._waiting, entry)
        self._pump()
        try:
            return await future
        except asyncio.CancelledError:
            if slot is None and future.done() and not future.cancelled():
                granted = future.result()
                if granted is not None:
                    self.release(granted)
            raise

    def slow_down(self) -> None:
        """The carrier said it is overwhelmed (ESME_RTHROTTLED, ESME_RMSGQFUL): halve the rate for a while."""
        self._buckets.slow_down(self._clock())
        self.wake()

    def set_share(self, fraction: float) -> None:
        """Use ``fraction`` (0 < fraction ≤ 1) of the configured rate, e.g. when engines share a carrier."""
        self._buckets.set_share(fraction, self._clock())
        self.wake()

    def release(self, slot: T) -> None:
        """Give back a slot (the part has its answer, or was never sent) and serve whoever waits for one."""
        self._slots.release(slot)
        self.wake()

    def wake(self) -> None:
        """Something changed (a bind came or went, the rate changed): serve the waiters again."""
        if self._waiting:
            self._pump()

    def _live_waiters(self) -> bool:
        waiting = self._waiting
        while waiting and waiting[0][5].done():
            heapq.heappop(waiting)
        return bool(waiting)

    def _pump(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        waiting = self._waiting
        while self._live_waiters():
            _, _, _, otp, brought, future = waiting[0]
            now = self._clock()
            delay = self._buckets.delay(otp=otp, now=now)
            if delay == 0:
                slot = brought if brought is not None else self._slots.reserve()
                if slot is not None:
                    self._buckets.take(otp=otp, now=now)
                    heapq.heappop(waiting)
                    future.set_result(slot)
                    continue
            if not self._slots.open():  # no bind left: waiting is pointless, the engine will try elsewhere
                for *_, waiter in waiting:
                    if not waiter.done():
                        waiter.set_result(None)
                waiting.clear()
                return
            if delay > 0:
                self._timer = asyncio.get_running_loop().call_later(delay, self._pump)
            return  # else every window is full: release() serves the head when a slot frees up
