"""Accepting a send at most once per `Idempotency-Key`: a retried request gets the first answer, never a second send.

The protocol is the same whatever the door: look the key up (a live key replays its stored answer, if the request
is the same one); else accept the send with its key, whose first answer the acceptance transaction renders and
stores with the send; if another request took the key meanwhile, replay that one's answer. A door brings only
what is its own: the key and fingerprint as its dialect reads them, the send, and how to render its answer.
"""

from __future__ import annotations

from collections.abc import Callable

from martinet.domain.valueclass import valueclass
from martinet.services.accept import AcceptedSend, DuplicateRequest, SendRequest, SendService
from martinet.store.acceptance import KeyedRequest, NewSend
from martinet.store.idempotency import IdempotencyStore, StoredAnswer


@valueclass
class RequestKey:
    """A request's key, and the fingerprint of the request itself: the same key with another request is refused."""

    key: str
    fingerprint: str


@valueclass
class Replayed:
    """The stored first answer to a request with this key (nothing was sent this time)."""

    status: int
    body: bytes


class KeyReused(Exception):
    """The key was first used with a different request."""


class KeyInProgress(Exception):
    """Another request with this key is being accepted right now and has no answer yet: retry shortly."""


class IdempotentSends:
    def __init__(self, sends: SendService, keys: IdempotencyStore) -> None:
        self._sends = sends
        self._keys = keys

    async def accept(
        self,
        account_id: int,
        key: RequestKey | None,
        request: Callable[[KeyedRequest | None], SendRequest],
        render: Callable[[NewSend], tuple[int, bytes]],
    ) -> AcceptedSend | Replayed:
        """The accepted send, or the replayed answer of the key's first request. `request` builds the send (with
        its key, when it has one) only once no stored answer was found, so a replay answers before the send's
        own checks run; `render` is the first answer, rendered inside the acceptance transaction.

        Raises KeyReused, KeyInProgress, and whatever `SendService.accept` raises."""
        if key is None:
            return await self._sends.accept(request(None))
        stored = await self._keys.lookup(account_id, key.key)
        if stored is not None:
            return _replay(stored, key)
        try:
            return await self._sends.accept(request(KeyedRequest(key.key, key.fingerprint, render)))
        except DuplicateRequest:
            stored = await self._keys.lookup(account_id, key.key)
            if stored is None:  # the other request's send was refused meanwhile: the key is free again
                raise KeyInProgress(key.key) from None
            return _replay(stored, key)


def _replay(stored: StoredAnswer, key: RequestKey) -> Replayed:
    if stored.fingerprint != key.fingerprint:
        raise KeyReused(key.key)
    return Replayed(stored.status, stored.body)
