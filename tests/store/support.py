"""Rows the store tests start from: an account with credits and one send queued to some phones."""

from __future__ import annotations

from collections.abc import Callable

from martinet.domain.status import State
from martinet.store.acceptance import AcceptanceWriter, NewMessage, NewSend
from martinet.store.accounts import AccountStore
from martinet.store.database import Database


async def queue_send(db: Database, clock: Callable[[], int], phones: list[str]) -> None:
    """An OTP account `acme` with credits and one send queued to each of `phones` (1 credit each)."""
    accounts = AccountStore(db, clock)
    account = await accounts.create(
        "acme", password_hash=None, language="fr", timezone="UTC", lane="otp", non_gsm="replace"
    )
    await accounts.post(account.id, 1_000_000, "topup")
    now = clock()
    writer = AcceptanceWriter(db)
    await writer.start()
    try:
        await writer.accept(
            NewSend(
                "SEND00000001",
                account.id,
                now,
                None,
                "hi",
                "GSM-7",
                1,
                2,
                None,
                None,
                None,
                None,
                "otp",
                1000 * len(phones),
                [NewMessage(phone, "FR", State.QUEUED, 1, 1000, now) for phone in phones],
            )
        )
    finally:
        await writer.stop()
