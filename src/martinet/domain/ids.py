"""Identifiers handed to clients.

smsmode's smsID is a 12-character alphanumeric string and client code stores it in columns sized for that, so
Martinet keeps the shape. 62^12 ≈ 3·10^21 values drawn from the OS's CSPRNG: collisions are not a practical
concern, and the store's primary key would refuse one anyway.
"""

from __future__ import annotations

import os
import string

_ALPHABET = string.ascii_letters + string.digits


def _base62(length: int) -> str:
    """`length` base-62 digits from the OS's CSPRNG, in one read.

    The random integer has 64 bits more than the 62^length range it is reduced to, so the bias of the modulo is
    below 2^-64; drawing per character with `secrets.choice` costs ten times more on the accept path.
    """
    bits = (length * 6) + 64
    value = int.from_bytes(os.urandom((bits + 7) // 8), "big")
    chars = []
    for _ in range(length):
        value, digit = divmod(value, 62)
        chars.append(_ALPHABET[digit])
    return "".join(chars)


def new_send_id() -> str:
    return _base62(12)


def new_access_token() -> str:
    """An API access token: 32 characters (~190 bits), URL-safe so it survives any query string unescaped."""
    return _base62(32)
