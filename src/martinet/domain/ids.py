"""Identifiers handed to clients.

smsmode's smsID is a 12-character alphanumeric string and client code stores it in columns sized for that, so
Martinet keeps the shape. 62^12 ≈ 3·10^21 values drawn from the OS's CSPRNG: collisions are not a practical
concern, and the store's primary key would refuse one anyway.
"""

from __future__ import annotations

import os
import string

_ALPHABET = string.ascii_letters + string.digits
#: Two base-62 digits for each value below 62², the lower digit first (as `_base62` writes them).
_PAIRS = [_ALPHABET[pair % 62] + _ALPHABET[pair // 62] for pair in range(62 * 62)]


class _RandomPool:
    """Bytes from the OS's CSPRNG, fetched 4 KiB at a time: one system call per ~200 IDs instead of one each."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._buffer = b""
        self._offset = 0

    def reset(self) -> None:
        """Forget the bytes drawn so far: a forked child would otherwise hand out the same IDs as its parent."""
        self._buffer = b""
        self._offset = 0

    def take(self, count: int) -> bytes:
        if self._offset + count > len(self._buffer):
            self._buffer = os.urandom(max(self._size, count))
            self._offset = 0
        chunk = self._buffer[self._offset : self._offset + count]
        self._offset += count
        return chunk


_POOL = _RandomPool()
os.register_at_fork(after_in_child=_POOL.reset)


def _base62(length: int) -> str:
    """`length` base-62 digits of fresh CSPRNG output.

    The random integer has 64 bits more than the 62^length range it is reduced to, so the bias of the modulo is
    below 2^-64; drawing per character with `secrets.choice` costs ten times more on the accept path.
    """
    bits = (length * 6) + 64
    value = int.from_bytes(_POOL.take((bits + 7) // 8), "big")
    chars = []
    for _ in range(length // 2):  # two digits per division, the lower one first
        value, pair = divmod(value, 62 * 62)
        chars.append(_PAIRS[pair])
    if length % 2:
        chars.append(_ALPHABET[value % 62])
    return "".join(chars)


def random_hex(count: int) -> str:
    """`count` bytes of the pool as hex: `secrets.token_hex` would make a system call for each."""
    return _POOL.take(count).hex()


def new_send_id() -> str:
    return _base62(12)


def new_access_token() -> str:
    """An API access token: 32 characters (~190 bits), URL-safe so it survives any query string unescaped."""
    return _base62(32)
