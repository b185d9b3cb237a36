"""Console sessions in signed cookies, and the CSRF token every form carries.

A session is a small signed, dated value (itsdangerous): the account's login once signed in, the generation of
the account's console sessions it was signed at, and a random CSRF token. The session itself is not stored on the
server, so every HTTP worker process (and every node sharing the secret key) reads the same session; what the
server keeps is one number per account (`accounts.console_generation`), read by the query that finds the
signed-in account anyway. Signing out bumps it, so the cookie (and its CSRF token) stops working at once, even if
a copy of it outlives the browser's (a stolen cookie, a shared computer's history), instead of at its expiry.
The cookie is `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page sends it) and `Secure`
when the request came over TLS (directly or through a trusted proxy), with the path `/console/`. Every
state-changing request must carry the session's CSRF token (a form field or the `X-CSRF-Token` header htmx
sends) or it is refused; signing in starts a new session with a new token.
"""

from __future__ import annotations

import hmac
import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer

from martinet.domain.valueclass import valueclass

COOKIE = "martinet_console"
PATH = "/console/"
_SALT = "martinet.console.session"
#: Cookies longer than this are not even checked (a browser keeps 4 KiB per cookie anyway).
MAX_COOKIE = 4096


@valueclass
class Session:
    csrf: str
    login: str | None = None  # None: not signed in
    generation: int = 0  # the account's `console_generation` when signed in; valid while it is still the same

    def csrf_matches(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf.encode(), (given or "").encode())


def new_session(login: str | None = None, generation: int = 0) -> Session:
    return Session(secrets.token_urlsafe(24), login, generation)


class SessionCookies:
    def __init__(self, secret_key: str, max_age_seconds: float) -> None:
        if not secret_key:
            raise ValueError("console sessions need a secret key")
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)
        self._max_age = int(max_age_seconds)

    def read(self, value: str | None) -> Session | None:
        """The session of a cookie value; None when missing, forged or expired."""
        if not value or len(value) > MAX_COOKIE:
            return None
        try:
            data = self._serializer.loads(value, max_age=self._max_age)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        login, generation = data.get("l"), data.get("g", 0)  # cookies signed before generations: 0
        if not isinstance(generation, int) or isinstance(generation, bool):
            return None
        return Session(data["c"], login if isinstance(login, str) else None, generation)

    def set_cookie(self, session: Session, *, secure: bool) -> str:
        """The `Set-Cookie` value that stores `session`."""
        value = self._serializer.dumps({"c": session.csrf, "l": session.login, "g": session.generation})
        flags = f"; Path={PATH}; Max-Age={self._max_age}; HttpOnly; SameSite=Strict"
        return f"{COOKIE}={value}{flags}{'; Secure' if secure else ''}"

    @staticmethod
    def clear_cookie(*, secure: bool) -> str:
        return f"{COOKIE}=; Path={PATH}; Max-Age=0; HttpOnly; SameSite=Strict{'; Secure' if secure else ''}"
