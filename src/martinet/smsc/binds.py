"""Checking binds without helping anyone guess: one answer, one cost, and slower after each failure.

A refused bind is answered ``ESME_RBINDFAIL`` whether the system_id is unknown or the password is
wrong, so the status does not confirm which accounts exist; and both cases do the same work (one
HMAC of the password, one constant-time comparison of digests of equal length), so the time
taken does not tell them apart either.  Passwords are kept only as HMAC digests under a key drawn
when the simulator starts.

On one connection, the first failure is answered at once (a typo should cost nothing) and each
further one after a delay that doubles up to a bound: ``delay``, ``2 × delay``, ``4 × delay`` ...
at most ``16 × delay``.  With the SMPP bind timeout closing a connection that stays unbound, a
peer gets a handful of guesses per connection.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from typing import Final

from .config import Credential

__all__ = ["MAX_DELAY_FACTOR", "Accounts", "failure_delay"]

#: The delay stops doubling at this multiple of ``bind_failure_delay``.
MAX_DELAY_FACTOR: Final = 16


class Accounts:
    """The system_id/password pairs allowed to bind, with the passwords kept as keyed digests."""

    __slots__ = ("_decoy", "_digests", "_key")

    def __init__(self, credentials: Iterable[Credential]) -> None:
        self._key = secrets.token_bytes(32)
        self._digests = {c.system_id: self._digest(c.password) for c in credentials}
        self._decoy = self._digest(secrets.token_hex(4))  # compared against for an unknown system_id

    def _digest(self, password: str) -> bytes:
        return hmac.digest(self._key, password.encode("utf-8", "surrogatepass"), hashlib.sha256)

    def __contains__(self, system_id: object) -> bool:
        return system_id in self._digests

    def check(self, system_id: str, password: str) -> bool:
        """True when the pair is allowed; the same work whether the system_id exists or not."""
        expected = self._digests.get(system_id)
        matches = hmac.compare_digest(self._decoy if expected is None else expected, self._digest(password))
        return expected is not None and matches


def failure_delay(failures: int, delay: float) -> float:
    """Seconds before answering the ``failures``-th failed bind of a connection (counted from 1)."""
    if failures <= 1 or delay <= 0:
        return 0.0
    return delay * float(min(1 << (failures - 2), MAX_DELAY_FACTOR))
