"""An account's API keys: creating one (shown once, stored hashed), listing them, revoking one.

Limits are checked here, not only by the CLI, so any door that manages keys later refuses the same values.
"""

from __future__ import annotations

from martinet.domain.ids import new_access_token
from martinet.domain.keys import lanes_text, networks_text, parse_lanes, parse_networks
from martinet.domain.valueclass import valueclass
from martinet.services.credentials import token_hash
from martinet.store.accounts import AccountStore, ApiKey, UnknownAccount


@valueclass
class NewKey:
    id: int
    token: str  # in clear: the only time it is seen


class KeyService:
    def __init__(self, accounts: AccountStore) -> None:
        self._accounts = accounts

    async def create(
        self, login: str, *, label: str = "", lanes: str | None = None, networks: str | None = None
    ) -> NewKey:
        """A new key for the account; raises UnknownAccount, or InvalidKeyLimit for a bad lane or network."""
        parsed_lanes, parsed_networks = parse_lanes(lanes), parse_networks(networks)
        account_id = await self._account_id(login)
        token = new_access_token()
        key_id = await self._accounts.add_api_key(
            account_id,
            token_hash(token),
            label,
            lanes=lanes_text(parsed_lanes),
            networks=networks_text(parsed_networks),
        )
        return NewKey(key_id, token)

    async def list(self, login: str) -> list[ApiKey]:
        return await self._accounts.api_keys(await self._account_id(login))

    async def revoke(self, key_id: int) -> bool:
        return await self._accounts.revoke_api_key(key_id)

    async def _account_id(self, login: str) -> int:
        found = await self._accounts.by_login(login)
        if found is None:
            raise UnknownAccount(login)
        return found[0].id
