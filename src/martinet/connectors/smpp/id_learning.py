"""Learning, from a carrier's own traffic, how it writes message IDs in its delivery receipts.

In auto mode (`message_id_format = "auto"`) a receipt ID such as `272` has up to three readings (`message_ids`):
the part `272` (literal), the part the response called `0x110` (decimal), the part the response called `626`
(hex). Trying them in a fixed order applies receipts to the wrong part whenever the part meant is not stored yet
and another reading names one that is, which counters starting at 1 make common. So the connector learns its
carrier's reading from evidence and then uses that one only.

Evidence is a receipt for which exactly one reading names a part this connector submitted recently (kept in
memory: the canonical ID and the handset of the last `memory` submissions). A receipt is judged `delay` seconds
after it arrived rather than at once: a carrier may report a part before its submit_sm_resp reached us, and by
then the part the receipt really names has been answered, so a receipt never votes for a wrong reading merely
because its own part was not known yet. When the receipt names a handset, a reading counts only if its part went
to that phone, which removes nearly all coincidences. A reading is adopted once it has `votes_needed` votes and at
least `margin` times as many as the other readings together; from then on it is final for this connector (until
the engine restarts, or an explicit `message_id_format` is configured), and the memory is released.

Sans-I/O: the caller passes the time (monotonic seconds) in, as `smpp.session` does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from martinet.connectors.smpp.message_ids import Reading
from martinet.domain.receipts import same_handset

__all__ = ["ReadingLearner"]


class ReadingLearner:
    def __init__(
        self, *, memory: int = 50_000, delay: float = 1.0, votes_needed: int = 12, margin: float = 3.0
    ) -> None:
        self._memory = memory
        self._delay = delay
        self._votes_needed = votes_needed
        self._margin = margin
        self._recent: dict[str, str] = {}  # canonical ID of a recent submission -> its destination
        self._order: deque[str] = deque()
        self._pending: deque[tuple[float, Mapping[Reading, str], str | None]] = deque(maxlen=memory)
        self.votes: dict[Reading, int] = dict.fromkeys(Reading, 0)
        self.reading: Reading | None = None

    def submitted(self, carrier_id: str, destination: str, now: float) -> None:
        """A part the carrier accepted under `carrier_id` (canonical form), sent to `destination`."""
        if self.reading is not None:
            return
        recent = self._recent
        if len(self._order) >= self._memory:
            recent.pop(self._order.popleft(), None)
        recent[carrier_id] = destination
        self._order.append(carrier_id)
        self.judge(now)

    def observe(self, forms: Mapping[Reading, str], handset: str | None, now: float) -> None:
        """A receipt whose ID has several `forms` (one per reading); judged once `delay` has passed."""
        if self.reading is not None:
            return
        self._pending.append((now, forms, handset))
        self.judge(now)

    def judge(self, now: float) -> Reading | None:
        """Weigh the receipts observed `delay` seconds ago or more (traffic calls it; call it on a timer too, so
        the last receipts of a burst are weighed); returns the reading once adopted."""
        if self.reading is None:
            self._weigh(now)
        return self.reading

    def _weigh(self, now: float) -> None:
        pending, recent, horizon = self._pending, self._recent, now - self._delay
        while pending and pending[0][0] <= horizon:
            _, forms, handset = pending.popleft()
            named = [
                reading
                for reading, form in forms.items()
                if form in recent and same_handset(handset, recent[form]) is not False
            ]
            if len(named) == 1:
                self.votes[named[0]] += 1
                self._decide()
                if self.reading is not None:
                    return

    def _decide(self) -> None:
        leader = max(self.votes, key=lambda reading: self.votes[reading])
        lead = self.votes[leader]
        others = sum(self.votes.values()) - lead
        if lead >= self._votes_needed and lead >= self._margin * others:
            self.reading = leader
            self._recent.clear()
            self._order.clear()
            self._pending.clear()
