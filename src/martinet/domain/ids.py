"""Identifiers handed to clients.

smsmode's smsID is a 12-character alphanumeric string and client code stores it in columns sized for that, so
Martinet keeps the shape. 62^12 ≈ 3·10^21 values drawn from the OS's CSPRNG: collisions are not a practical
concern, and the store's primary key would refuse one anyway.
"""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_send_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(12))


def new_access_token() -> str:
    """An API access token: 32 characters (~190 bits), URL-safe so it survives any query string unescaped."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(32))
