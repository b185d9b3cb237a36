"""Hashing of access tokens and passwords.

Access tokens are long random strings, so SHA-256 is enough to store them (no dictionary to attack) and keeps
the lookup a single index probe. Passwords are chosen by people: scrypt (memory-hard, in the standard library)
with a per-password salt. Every comparison of secrets is constant-time.

Checking a password costs tens of milliseconds of CPU on purpose; callers run `verify_password` off the event
loop, and check logins that do not exist (or have no password) against `UNUSABLE_HASH`, which no password
matches, so that the time of an answer does not tell which logins exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def token_hash(token: str) -> str:
    # A door may hand over text that is not valid Unicode (lone surrogates): hashing must not fail on it.
    return hashlib.sha256(token.encode("utf-8", errors="surrogatepass")).hexdigest()


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
    return hashlib.scrypt(
        password.encode("utf-8", errors="surrogatepass"), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


#: A stored hash with today's parameters that no password matches (its digest is no scrypt output anyone knows):
#: checking against it costs what checking a real password costs.
UNUSABLE_HASH = "$".join(["scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), _b64(bytes(16)), _b64(bytes(32))])
