"""One-time sign-in links to the web console (`martinet demo` prints one, an operator may hand one out).

A link carries, signed with the console's secret key and dated, the account's login and the id of a row of its
API keys table labelled `LINK_LABEL`. That row is what makes the link single-use without a table of its own:
redeeming a link revokes the row, and only the request whose revocation changed the row signs in, whichever
HTTP worker process or node it reaches. The row's token hash is the hash of a random value that is never shown,
so the row can never be used as an API key.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer

from martinet.domain.ids import new_access_token
from martinet.services.credentials import token_hash
from martinet.store.accounts import Account, AccountStore, UnknownAccount

LINK_LABEL = "console sign-in link"
_SALT = "martinet.console.sign-in-link"


class SignInLinks:
    def __init__(self, accounts: AccountStore, secret_key: str, max_age_seconds: float) -> None:
        if not secret_key:
            raise ValueError("sign-in links need the console's secret key")
        self._accounts = accounts
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)
        self._max_age = max_age_seconds

    async def issue(self, login: str) -> str:
        """A new link token for `login`; raises UnknownAccount."""
        found = await self._accounts.by_login(login)
        if found is None:
            raise UnknownAccount(login)
        key_id = await self._accounts.add_api_key(found[0].id, token_hash(new_access_token()), LINK_LABEL)
        return str(self._serializer.dumps({"l": login, "k": key_id}))

    async def redeem(self, token: str) -> Account | None:
        """The account a link signs in, once; None for a link forged, expired, used or of a removed account."""
        try:
            payload = self._serializer.loads(token, max_age=int(self._max_age))
        except BadSignature:  # also SignatureExpired
            return None
        if (
            not isinstance(payload, dict)
            or not isinstance(payload.get("l"), str)
            or not isinstance(payload.get("k"), int)
        ):
            return None
        found = await self._accounts.by_login(payload["l"])
        if found is None:
            return None
        account = found[0]
        keys = {key.id: key for key in await self._accounts.api_keys(account.id)}
        key = keys.get(payload["k"])
        if key is None or key.label != LINK_LABEL or key.revoked_at is not None:
            return None
        if not await self._accounts.revoke_api_key(key.id):
            return None  # another request used it first
        return account
