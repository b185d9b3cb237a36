"""Sends at most once per Idempotency-Key, over a real store on SQLite and PostgreSQL, without a door: the first
answer replayed, the key refused with another request, two requests racing for one key sending once, and a key
freed again when its send was refused for credit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from martinet.app import account_service, open_store, price_table
from martinet.domain.credits import to_milli
from martinet.domain.ids import new_send_id
from martinet.services.accept import AcceptedSend, NotEnoughCredit, SendRequest, SendService
from martinet.services.idempotency import IdempotentSends, KeyReused, Replayed, RequestKey
from martinet.store.acceptance import AcceptanceWriter, KeyedRequest, NewSend
from martinet.store.accounts import Account, AccountStore
from martinet.store.database import Database
from martinet.store.idempotency import IdempotencyStore
from martinet.store.migrate import upgrade
from martinet.store.schema import sends
from tests.gateway import test_settings as gateway_settings

NOW = 1_767_225_600_000


@dataclass
class World:
    db: Database
    accounts: AccountStore
    account: Account
    keyed: IdempotentSends


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    settings = gateway_settings(database_url)
    db = open_store(settings)
    await upgrade(db)
    await account_service(settings, db).create("acme", credits=to_milli(10))
    accounts = AccountStore(db, lambda: NOW)
    found = await accounts.by_login("acme")
    assert found is not None
    writer = AcceptanceWriter(db)
    await writer.start()
    service = SendService(
        writer, price_table(settings), stop_mention="STOP 36180", now_ms=lambda: NOW, new_id=new_send_id
    )
    try:
        yield World(db, accounts, found[0], IdempotentSends(service, IdempotencyStore(db, lambda: NOW)))
    finally:
        await writer.stop()
        await db.dispose()


def _render(send: NewSend) -> tuple[int, bytes]:
    return 201, send.id.encode()


def _request(account: Account, recipients: str = "0612345678") -> Callable[[KeyedRequest | None], SendRequest]:
    def build(keyed: KeyedRequest | None) -> SendRequest:
        return SendRequest(account=account, text="Bonjour", recipients=recipients, keyed=keyed)

    return build


async def _sends(db: Database) -> int:
    async with db.reader.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(sends)) or 0)


async def test_a_key_sends_once_and_replays_its_first_answer(world: World) -> None:
    key = RequestKey("k1", "fingerprint-1")
    first = await world.keyed.accept(world.account.id, key, _request(world.account), _render)
    assert isinstance(first, AcceptedSend)
    again = await world.keyed.accept(world.account.id, key, _request(world.account), _render)
    assert again == Replayed(201, first.send_id.encode())
    with pytest.raises(KeyReused):
        await world.keyed.accept(
            world.account.id,
            RequestKey("k1", "fingerprint-2"),
            _request(world.account, "0622222222"),
            _render,
        )
    unkeyed = await world.keyed.accept(world.account.id, None, _request(world.account), _render)
    assert isinstance(unkeyed, AcceptedSend) and unkeyed.send_id != first.send_id
    assert await _sends(world.db) == 2


async def test_two_requests_racing_for_one_key_send_once(world: World) -> None:
    key = RequestKey("race", "fingerprint")
    results = await asyncio.gather(
        *(world.keyed.accept(world.account.id, key, _request(world.account), _render) for _ in range(2))
    )
    accepted = [r for r in results if isinstance(r, AcceptedSend)]
    replayed = [r for r in results if isinstance(r, Replayed)]
    assert len(accepted) == 1 and replayed == [Replayed(201, accepted[0].send_id.encode())]
    assert await _sends(world.db) == 1


async def test_a_key_refused_for_credit_is_free_again(world: World) -> None:
    key = RequestKey("credit", "fingerprint")
    many = ",".join(f"06{n:08d}" for n in range(1, 21))  # 20 credits, the account has 10
    with pytest.raises(NotEnoughCredit):
        await world.keyed.accept(world.account.id, key, _request(world.account, many), _render)
    retried = await world.keyed.accept(world.account.id, key, _request(world.account), _render)
    assert isinstance(retried, AcceptedSend)
    assert await _sends(world.db) == 1
