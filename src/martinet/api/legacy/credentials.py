"""Finding a request's credentials (`accessToken`, `pseudo`, `pass`) in its raw form, before anything else.

An unauthenticated request must cost no more than one pass over its bytes, so the door does not split, unescape
and decode a whole form to learn who is calling: the raw bytes are lower-cased once and searched from the end
for the last pair of each name (a later pair wins, as in the full decoding), all in C; only those values are
unescaped and decoded. A body of millions of pairs costs the same few milliseconds per megabyte as one pair.

Credential names are matched without regard to case, as every parameter name is, and written plainly (no
`%XX` escapes inside them, no spaces around them), as every HTTP library writes them. A credential value is
decoded on its own (the declared charset, else ASCII, UTF-8 when valid, else ISO-8859-15): a password does not
change with the text sent beside it.
"""

from __future__ import annotations

from martinet.api.legacy.decoding import decode_value, unescape
from martinet.domain.valueclass import valueclass

_NAMES = (b"accesstoken", b"pseudo", b"pass")
#: For each name, how its pair starts in a framed form (`&name=`) and how it does without a value (`&name&`).
_SEARCHED = tuple((b"&" + name + b"=", b"&" + name + b"&") for name in _NAMES)


@valueclass
class Credentials:
    """The credential parameters of a request, or of one part of it; None: the parameter is absent."""

    token: str | None = None
    login: str | None = None
    password: str | None = None

    @property
    def any(self) -> bool:
        return self.token is not None or self.login is not None or self.password is not None

    @property
    def complete(self) -> bool:
        """Enough to authenticate: an access token, or a login and its password."""
        return bool(self.token) or bool(self.login and self.password)

    def over(self, other: Credentials) -> Credentials:
        """These credentials, each absent one taken from `other` (the body's win over the query string's)."""
        return Credentials(
            self.token if self.token is not None else other.token,
            self.login if self.login is not None else other.login,
            self.password if self.password is not None else other.password,
        )


def find_credentials(raw: bytes, charset: str | None) -> Credentials:
    """The credentials of a query string or a form body: for each name, the value of its last pair."""
    if not raw:
        return Credentials()
    # Every pair, the first and the last included, now sits between two `&`; offsets are one more than in `raw`.
    framed = b"&" + raw.lower() + b"&"
    values: list[str | None] = []
    for key, bare_key in _SEARCHED:
        with_value = framed.rfind(key)
        bare = framed.rfind(bare_key)
        if with_value < 0 and bare < 0:
            values.append(None)
        elif bare > with_value:
            values.append("")
        else:
            start = with_value + len(key)
            value = raw[start - 1 : framed.find(b"&", start) - 1]
            values.append(decode_value(unescape(value), charset))
    return Credentials(*values)
