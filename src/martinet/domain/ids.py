"""Identifiers handed to clients.

smsmode's smsID is a 12-character alphanumeric string and client code stores it in columns sized for that, so
Martinet keeps the shape (`new_send_id`): five characters of the time, then seven from the OS's CSPRNG.
"""

from __future__ import annotations

import functools
import os
import string
from collections.abc import Callable
from typing import AnyStr, Generic

_ALPHABET = string.ascii_letters + string.digits
#: The time's digits, in the order SQLite and PostgreSQL's "C" collation sort them.
_SORTED_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
#: A send ID's time: hundredths of a second, written in five digits (62^5 of them: about 107 days, then round).
SLOT_MS = 10
TIME_DIGITS = 5
#: Bytes below this many (4 × 62) fall evenly on the 62 digits; the eight above are dropped, so no digit is likelier.
_EVEN_BYTES = 4 * 62
#: A `bytes.translate` table: each byte below `_EVEN_BYTES` to the digit of its remainder by 62.
_TO_DIGIT = bytes(ord(_ALPHABET[byte % 62]) if byte < _EVEN_BYTES else 0 for byte in range(256))
_UNEVEN = bytes(range(_EVEN_BYTES, 256))


def _digits(count: int) -> str:
    """Base-62 digits from `count` bytes of the CSPRNG, in C (`bytes.translate`): about 97 % as many digits as bytes,
    the uneven bytes dropped."""
    return os.urandom(count).translate(_TO_DIGIT, _UNEVEN).decode("ascii")


class _Pool(Generic[AnyStr]):
    """Fresh CSPRNG output (`fill`: bytes, or base-62 digits) made `size` at a time, one system call per ~200 IDs
    instead of one each; a send ID's seven digits are then one slice, where drawing them one by one
    (`secrets.choice`) or dividing a random integer costs the accept path a microsecond or more."""

    def __init__(self, fill: Callable[[int], AnyStr], size: int = 4096) -> None:
        self._fill: Callable[[int], AnyStr] = fill
        self._size = size
        self._made: AnyStr = fill(0)
        self._offset = 0

    def reset(self) -> None:
        """Forget what was made: a forked child would otherwise hand out the same IDs as its parent."""
        self._made = self._made[:0]
        self._offset = 0

    def take(self, count: int) -> AnyStr:
        while self._offset + count > len(self._made):  # a fill of digits may bring fewer than it was asked
            self._made = self._made[self._offset :] + self._fill(max(self._size, count))
            self._offset = 0
        chunk = self._made[self._offset : self._offset + count]
        self._offset += count
        return chunk


_BYTES = _Pool(os.urandom)
_DIGITS = _Pool(_digits)
os.register_at_fork(after_in_child=_BYTES.reset)
os.register_at_fork(after_in_child=_DIGITS.reset)


def random_hex(count: int) -> str:
    """`count` bytes of the pool as hex: `secrets.token_hex` would make a system call for each."""
    return _BYTES.take(count).hex()


def new_send_id(now_ms: int) -> str:
    """A send's ID, made at `now_ms`: the hundredth of a second it falls in, then 7 random base-62 digits.

    Sends are looked up by ID in two indexes (the sends' key, the messages' `send_id`). Random IDs put each new
    send on a page of its own in both, every page a write to SQLite's log and a copy at its checkpoint; IDs of
    one hundredth of a second share their first five characters and those of the next sort after them (until
    the digits come round), so a batch of sends lands on the indexes' last page or two (docs/benchmarks-history.md).
    Nothing reads the time back.

    The twelve characters hold as many values as when all were random, and IDs collide as rarely: two can only
    meet in the same hundredth (modulo 107 days), among 62^7 ≈ 3.5·10^12 tails, which over a year comes to the
    same odds as twelve random characters (about four collisions in a year of 5,000 sends a second, day and
    night). The store's primary key refuses one: the batch it came in fails whole, its sends answered with an
    error, as for any failed write.
    """
    return _time_digits(now_ms // SLOT_MS) + _DIGITS.take(7)


@functools.lru_cache(maxsize=4)
def _time_digits(slot: int) -> str:
    """The slot in `TIME_DIGITS` digits of `_SORTED_ALPHABET`, most significant first: one division chain per
    hundredth of a second, not per send."""
    digits = []
    slot %= 62**TIME_DIGITS
    for _ in range(TIME_DIGITS):
        slot, digit = divmod(slot, 62)
        digits.append(_SORTED_ALPHABET[digit])
    return "".join(reversed(digits))


def new_access_token() -> str:
    """An API access token: 32 characters (~190 bits), URL-safe so it survives any query string unescaped."""
    return _DIGITS.take(32)
