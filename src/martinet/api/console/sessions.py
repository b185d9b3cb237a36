"""Console sessions in signed cookies, and the CSRF token every form carries.

A session is a small signed, dated value (itsdangerous): the account's login once signed in, and a random CSRF
token. Nothing is stored on the server, so every HTTP worker process (and every node sharing the secret key)
reads the same session. The cookie is `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page
sends it) and `Secure` when the request came over TLS (directly or through a trusted proxy), with the path
`/console/`. Every state-changing request must carry the session's CSRF token (a form field or the
`X-CSRF-Token` header htmx sends) or it is refused; signing in starts a new session with a new token.
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

    def csrf_matches(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf.encode(), (given or "").encode())


def new_session(login: str | None = None) -> Session:
    return Session(secrets.token_urlsafe(24), login)


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
        login = data.get("l")
        return Session(data["c"], login if isinstance(login, str) else None)

    def set_cookie(self, session: Session, *, secure: bool) -> str:
        """The `Set-Cookie` value that stores `session`."""
        value = self._serializer.dumps({"c": session.csrf, "l": session.login})
        flags = f"; Path={PATH}; Max-Age={self._max_age}; HttpOnly; SameSite=Strict"
        return f"{COOKIE}={value}{flags}{'; Secure' if secure else ''}"

    @staticmethod
    def clear_cookie(*, secure: bool) -> str:
        return f"{COOKIE}=; Path={PATH}; Max-Age=0; HttpOnly; SameSite=Strict{'; Secure' if secure else ''}"
