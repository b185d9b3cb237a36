"""Hashing of access tokens and passwords.

Access tokens are long random strings, so SHA-256 is enough to store them (no dictionary to attack) and keeps
the lookup a single index probe. Passwords are chosen by people: scrypt (memory-hard, in the standard library)
with a per-password salt. Every comparison of secrets is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return "$".join(["scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
